"""A whole-registry copy into a replica's region, and the replica status it leads to."""
from django.conf import settings
from django.utils import timezone

from ..choices import ReplicaStatus
from ..exceptions import RetryLater
from ..models import Region, Replica, ReplicationJob
from ..oci.copy import CopyResult, copy_registry
from .region_clients import region_client


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
        raise RetryLater("No ready replica can serve as the source of the copy.")
    return other.region


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


def replica_sync_retrying(*, replica_id: int, attempts: int, error: str, countdown: float) -> None:
    replica_set_status(replica_id=replica_id, status=ReplicaStatus.SYNCING,
                       message=f"Attempt {attempts} failed: {error}. Retrying in {countdown:.0f} s.")


def replica_sync_succeeded(*, replica_id: int, source: str) -> None:
    replica_set_status(replica_id=replica_id, status=ReplicaStatus.READY, message=f"In sync with {source}.",
                       last_synced_at=timezone.now())


def replica_sync_failed(*, replica_id: int, error: str) -> None:
    replica_set_status(replica_id=replica_id, status=ReplicaStatus.FAILED, message=error)
