import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_init, worker_process_init
from kombu.transport import TRANSPORT_ALIASES

# `filesystem://` writes each message whole (portal/filesystem_broker.py): kombu's own can hand a worker a
# message it is still writing, and the worker dies of it.
TRANSPORT_ALIASES["filesystem"] = "portal.filesystem_broker:Transport"
# `redis://`: a worker that loses Redis while tasks run reconnects instead of exiting (portal/redis_broker.py).
TRANSPORT_ALIASES["redis"] = "portal.redis_broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def tune_copy_engine(**_):
    """Workers copy blobs: give the engine its larger socket reads.

    worker_init covers the solo and thread pools (and prefork children forked after it);
    worker_process_init covers each prefork child however it was started.
    """
    from replication.oci import tune_socket_reads

    tune_socket_reads()


# ---- the request id travels with every task (replication/log_context.py) ---------------------------------------
_task_log_contexts = {}


@before_task_publish.connect
def send_the_request_id(headers=None, **_):
    """A task sent while a request (or a task) runs carries its request id in the message's headers."""
    from replication.log_context import current_request_id

    if headers is not None and current_request_id() and not headers.get("request_id"):
        headers["request_id"] = current_request_id()


@task_prerun.connect
def enter_the_request_id(task_id=None, task=None, **_):
    from replication.log_context import context_enter

    _task_log_contexts[task_id] = context_enter(request_id=getattr(task.request, "request_id", None) or "")


@task_postrun.connect
def leave_the_request_id(task_id=None, **_):
    from replication.log_context import context_exit

    token = _task_log_contexts.pop(task_id, None)
    if token is not None:
        context_exit(token)

# ---- Metrics (replication/metrics.py) ------------------------------------------------------------------------
from celery.signals import worker_process_shutdown  # noqa: E402


@worker_init.connect
def serve_worker_metrics(**_):
    """WORKER_METRICS_PORT: this worker's counters for a Prometheus that cannot read the portal's host.

    In multiprocess mode (run_worker sets PROMETHEUS_MULTIPROC_DIR) the pool's children count in files
    that this server, in the main process, adds up; stored state stays with the portal's /metrics.
    """
    from django.conf import settings

    if not settings.WORKER_METRICS_PORT:
        return
    from prometheus_client import start_http_server

    from replication.prometheus import counted_registry

    start_http_server(settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR, registry=counted_registry())


@worker_process_shutdown.connect
def metrics_mark_process_dead(pid=None, **_):
    """A pool child that exits leaves its counters (they stay summed) but no live gauges."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
