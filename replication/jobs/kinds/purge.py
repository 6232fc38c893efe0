"""Purge: empty a region of a registry's repositories (a deleted replica, or a deleted registry)."""
from ...models import ReplicationJob
from ...oci.copy import CopyProgress
from ...services import content
from ...job_specs import PurgeSpec, spec_load
from .base import JobOutcome, JobType


def run(job: ReplicationJob, spec: PurgeSpec, on_progress) -> JobOutcome:
    deleted = content.region_purge_prefix(region_id=job.region_id, repository_prefix=spec.repository_prefix)
    return JobOutcome(progress=CopyProgress(manifests_total=deleted, manifests_done=deleted), source=job.region.name)


def replica_gone(job: ReplicationJob, outcome: JobOutcome) -> None:
    # Runs in the transaction that marks the purge succeeded: the row goes with it, never before.
    if spec_load(job.kind, job.spec).remove_replica and job.replica_id:
        content.replica_remove(replica_id=job.replica_id)


def replica_waiting(job: ReplicationJob, message: str) -> None:
    if job.replica_id:
        content.replica_delete_status(replica_id=job.replica_id, message=message)


def replica_purge_failed(job: ReplicationJob, error: str) -> None:
    if job.replica_id:
        content.replica_delete_status(replica_id=job.replica_id,
                                      message=f"The purge failed: {error}. It is tried again while the region answers.")


# The replica is being deleted (or gone with its registry): that is what a purge is for. It waits for
# its region however long it is down (a forced delete left the content to purge).
JOB_TYPE = JobType(spec_type=PurgeSpec, run=run, needs_live_replica=False, waits_for_region=True,
                   on_succeeded=replica_gone, on_waiting=replica_waiting,
                   on_failed=replica_purge_failed)
