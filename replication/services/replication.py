"""Running a ReplicationJob: copy what the source region has into the job's region, with progress."""
import logging
from datetime import timedelta

import httpx
import psutil
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from ..choices import WHOLE_REPLICA_JOB_KINDS, JobKind, JobState, ReplicaStatus
from ..models import Region, Replica, ReplicationJob
from ..oci.client import RegistryError
from ..oci.copy import CopyResult, copy_registry
from .events import copy_for_event
from .imports import copy_import
from .image_status import image_status_job_failed
from .jobs import WORKER_ID, ProgressRecorder, job_enqueue, job_transition
from .regions import region_client

log = logging.getLogger(__name__)


class RetryableReplicationError(Exception):
    """The copy failed for a reason that may pass (network, 5xx): the task retries with backoff."""


def replica_set_status(*, replica_id: int, status: ReplicaStatus, message: str = "", **fields) -> None:
    Replica.objects.filter(pk=replica_id).exclude(status=ReplicaStatus.DELETING).update(
        status=status, status_message=message, status_changed_at=timezone.now(), **fields
    )


def replication_source_region(replica: Replica) -> Region:
    """The home region holds the registry's first copy; a ready replica stands in when home is disabled."""
    registry = replica.registry
    if registry.home_region.enabled and registry.home_region.endpoint:
        return registry.home_region
    other = (
        Replica.objects.filter(registry=registry, status=ReplicaStatus.READY)
        .exclude(pk=replica.pk)
        .select_related("region")
        .first()
    )
    if other is None:
        raise RetryableReplicationError("No ready replica can serve as the source of the copy.")
    return other.region


def describe_copy_error(exc: Exception, *, region: Region) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out talking to a registry while copying into {region.name}: {exc}"
    if isinstance(exc, httpx.TransportError):
        return f"Cannot reach a registry while copying into {region.name}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def copy_whole_registry(job: ReplicationJob, *, on_progress) -> tuple[CopyResult, str]:
    """Copy everything the source region has under the registry's prefix into the job's region."""
    replica = job.replica
    source = replication_source_region(replica)
    replica_set_status(replica_id=replica.pk, status=ReplicaStatus.SYNCING,
                       message=f"Copying images from {source.name}.")
    prefix = replica.registry.repository_prefix
    with region_client(source, prefix=prefix, catalog=True) as source_client, region_client(
            job.region, prefix=prefix, actions=("pull", "push"), catalog=True) as target_client:
        result = copy_registry(
            source_client,
            target_client,
            repository_prefix=replica.registry.repository_prefix,
            concurrency=settings.REPLICATION_CONCURRENCY,
            on_progress=on_progress,
        )
    return result, source.name


# How each kind of job copies: (job, on_progress) -> (CopyResult, name of the source for the status line).
JOB_COPIERS = {
    JobKind.INITIAL: copy_whole_registry,
    JobKind.RECONCILE: copy_whole_registry,
    JobKind.EVENT: copy_for_event,
    JobKind.IMPORT: copy_import,
}


def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, RegistryError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429
    return False


def replication_job_run(*, job_id: int) -> JobState | None:
    """Run one job if it is queued. Returns its final state, or None if another worker owns it."""
    if not job_transition(job_id=job_id, to=JobState.RUNNING, worker=WORKER_ID, attempts=F("attempts") + 1):
        return None
    job = ReplicationJob.objects.select_related("replica__registry__home_region", "region").get(pk=job_id)
    replica = job.replica
    if replica is None or replica.status == ReplicaStatus.DELETING:
        job_transition(job_id=job_id, to=JobState.CANCELED, error="The replica was deleted.")
        return JobState.CANCELED

    copier = JOB_COPIERS[JobKind(job.kind)]
    try:
        with ProgressRecorder(job.pk) as record_progress:
            result, source = copier(job, on_progress=record_progress)
    except Exception as exc:
        message = describe_copy_error(exc, region=job.region)
        if is_retryable(exc):
            raise RetryableReplicationError(message) from exc
        replication_job_fail(job_id=job_id, error=message)
        return JobState.FAILED

    progress = result.progress
    job_transition(
        job_id=job_id, to=JobState.SUCCEEDED, error="",
        manifests_total=progress.manifests_total, manifests_done=progress.manifests_done,
        blobs_total=progress.blobs_total, blobs_done=progress.blobs_done,
        bytes_total=progress.bytes_total, bytes_done=progress.bytes_done,
    )
    if job.kind in WHOLE_REPLICA_JOB_KINDS:
        replica_set_status(replica_id=replica.pk, status=ReplicaStatus.READY,
                           message=f"In sync with {source}.", last_synced_at=timezone.now())
    return JobState.SUCCEEDED


def replication_job_retry_later(*, job_id: int, error: str, countdown: float) -> None:
    if job_transition(job_id=job_id, to=JobState.QUEUED, error=f"{error} (retrying in {countdown:.0f} s)"):
        job = ReplicationJob.objects.get(pk=job_id)
        if job.replica_id and job.kind in WHOLE_REPLICA_JOB_KINDS:
            replica_set_status(replica_id=job.replica_id, status=ReplicaStatus.SYNCING,
                               message=f"Attempt {job.attempts} failed: {error}. Retrying in {countdown:.0f} s.")


def replication_job_fail(*, job_id: int, error: str) -> None:
    job_transition(job_id=job_id, to=JobState.FAILED, error=error)
    job = ReplicationJob.objects.get(pk=job_id)
    if job.replica_id and job.kind in WHOLE_REPLICA_JOB_KINDS:
        replica_set_status(replica_id=job.replica_id, status=ReplicaStatus.FAILED, message=error)
    if job.kind == JobKind.EVENT:
        image_status_job_failed(job_id=job_id, error=error)


def replication_jobs_recover(*, stale_after: timedelta | None = None) -> list[int]:
    """Requeue jobs whose worker died: running on this host with a dead pid, or silent for too long.

    The broker may have lost their message (the filesystem transport does on a hard kill), so
    the task is sent again; job_transition makes a duplicate message a no-op.
    """
    stale_after = stale_after or timedelta(seconds=settings.REPLICATION_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    host = WORKER_ID.split(":")[0]
    requeued = []
    for job in ReplicationJob.objects.filter(state=JobState.RUNNING).select_related("region"):
        worker_host, _, pid = job.worker.partition(":")
        dead_here = worker_host == host and pid.isdigit() and not psutil.pid_exists(int(pid))
        silent = job.heartbeat_at is None or job.heartbeat_at < cutoff
        if (dead_here or silent) and job_transition(job_id=job.pk, to=JobState.QUEUED,
                                                    error="Its worker stopped; requeued."):
            job_enqueue(job)
            requeued.append(job.pk)
    for job in ReplicationJob.objects.filter(state=JobState.QUEUED, created_at__lt=cutoff).select_related("region"):
        job_enqueue(job)
        requeued.append(job.pk)
    if requeued:
        log.warning("Requeued replication jobs %s", requeued)
    return requeued
