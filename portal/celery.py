import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

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
