"""Recording work and sending its task: the one way services hand work to the workers.

Tasks are sent by name when the surrounding transaction commits, so no service imports
`replication/tasks.py`, and a rolled-back request never leaves a task without its row.
"""
import logging

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

from .job_specs import JobSpec, spec_dump
from .log_context import current_request_id
from .models import Region, Registry, Replica, ReplicationJob
from .queues import region_queue

log = logging.getLogger(__name__)

# Task names (replication/tasks.py registers them under these names).
RUN_JOB_TASK = "replication.tasks.run_replication_job"
PROCESS_EVENTS_TASK = "replication.tasks.process_registry_events"
DELIVER_WEBHOOK_TASK = "replication.tasks.deliver_webhook"


def task_send_on_commit(name: str, *, kwargs: dict, queue: str, on_sent=None) -> None:
    """Send task `name` to `queue` once the current transaction commits (at once outside one)."""

    def send():
        try:
            result = current_app.send_task(name, kwargs=kwargs, queue=queue)
        except OperationalError as exc:
            # The broker is down. The row is committed, so the request that made it succeeded: no 500 (a registry
            # would send its events again, a user would retry what was done). The lost-work sweep
            # (jobs/runner.py: lost_work_recover) sends the task of every row left waiting once the broker answers.
            log.warning("Broker unreachable: task %s for %s not sent, the lost-work sweep will: %s", name, queue, exc)
            return
        if on_sent is not None:
            on_sent(result)

    transaction.on_commit(send)


def job_record(*, spec: JobSpec, replica: Replica | None = None, registry: Registry | None = None,
               region: Region | None = None) -> ReplicationJob:
    """Create a queued job of spec's kind (for replica, or for registry × region) and send it on commit."""
    registry = registry if registry is not None else replica.registry
    region = region if region is not None else replica.region
    job = ReplicationJob.objects.create(replica=replica, registry=registry, region=region, kind=spec.kind,
                                        spec=spec_dump(spec), request_id=current_request_id())
    job_send(job)
    return job


def job_send(job: ReplicationJob) -> None:
    """Send the job's task to its region's queue on commit; a duplicate send is harmless (the runner's CAS)."""
    task_send_on_commit(
        RUN_JOB_TASK, kwargs={"job_id": job.pk}, queue=region_queue(job.region.name),
        on_sent=lambda result: ReplicationJob.objects.filter(pk=job.pk).update(celery_task_id=result.id or ""),
    )
