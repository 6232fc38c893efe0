"""What initial syncs and resyncs share: they copy a whole registry and speak for the replica's status."""
from ...models import ReplicationJob
from ...services import replication
from .base import JobOutcome


def copy_everything(job: ReplicationJob, spec, on_progress) -> JobOutcome:
    result, source = replication.copy_whole_registry(job, on_progress=on_progress)
    return JobOutcome(progress=result.progress, source=source)


def replica_retrying(job: ReplicationJob, error: str, countdown: float) -> None:
    replication.replica_sync_retrying(replica_id=job.replica_id, attempts=job.attempts, error=error,
                                      countdown=countdown)


def replica_ready(job: ReplicationJob, outcome: JobOutcome) -> None:
    replication.replica_sync_succeeded(replica_id=job.replica_id, source=outcome.source)


def replica_failed(job: ReplicationJob, error: str) -> None:
    if job.replica_id:
        replication.replica_sync_failed(replica_id=job.replica_id, error=error)
