from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..choices import WHOLE_REPLICA_JOB_KINDS, ActivityAction, JobKind, JobState, ReplicaStatus
from ..exceptions import Conflict, NotFound
from ..models import Registry, Replica, ReplicationJob
from ..dispatch import job_record
from ..job_specs import InitialSyncSpec, PurgeSpec, ResyncSpec
from .activity import activity_record
from .health import region_health_check
from .regions import region_get


def replica_get(*, registry: Registry, region: str) -> Replica:
    region_obj = region_get(name=region)
    try:
        return (Replica.objects.select_related("registry", "region", "region__health")
                .get(registry=registry, region=region_obj))
    except Replica.DoesNotExist:
        raise NotFound(f"Registry '{registry.name}' has no replica in '{region_obj.name}'.") from None


def replica_create(*, registry: Registry, region: str, actor=None) -> tuple[Replica, ReplicationJob]:
    """Record a replica (creating) and its initial sync job in one transaction; the task is sent on commit."""
    region_obj = region_get(name=region)
    if not registry.sku.geo_replication:
        raise Conflict(
            f"Geo-replication needs the Premium SKU; registry '{registry.name}' is on {registry.sku.name}.",
            field="region",
        )
    if region_obj.pk == registry.home_region_id:
        raise Conflict(f"'{region_obj.name}' is the registry's home region; it already has the home replica.",
                       field="region")
    existing = Replica.objects.filter(registry=registry, region=region_obj).first()
    if existing:
        state = " and is being deleted" if existing.status == ReplicaStatus.DELETING else ""
        raise Conflict(f"Registry '{registry.name}' already has a replica in '{region_obj.name}'{state}.",
                       field="region")
    if not region_health_check(region_obj):
        raise Conflict(f"Region '{region_obj.name}' is not available: no data plane answers there.",
                       field="region")
    if _unfinished_purges(registry=registry, region=region_obj).exists():
        # A forced delete left the old replica's content to purge there: a new replica would lose its copy.
        raise Conflict(f"The content of the registry's deleted replica in '{region_obj.name}' is still being "
                       "purged; create the replica again once that is done.", field="region")
    try:
        with transaction.atomic():
            replica = Replica.objects.create(
                registry=registry, region=region_obj, status=ReplicaStatus.CREATING,
                status_message="Waiting for the initial sync.", status_changed_at=timezone.now(),
            )
            job = job_record(spec=InitialSyncSpec(), replica=replica)
            activity_record(registry=registry, actor=actor, action=ActivityAction.REPLICA_CREATE,
                            target=region_obj.name, detail={"job": job.pk})
    except IntegrityError:
        raise Conflict(f"Registry '{registry.name}' already has a replica in '{region_obj.name}'.",
                       field="region") from None
    return replica, job


def replica_set_endpoint_enabled(*, replica: Replica, enabled: bool, actor=None) -> Replica:
    with transaction.atomic():
        was_enabled = Replica.objects.filter(pk=replica.pk).values_list("region_endpoint_enabled", flat=True).first()
        Replica.objects.filter(pk=replica.pk).update(region_endpoint_enabled=enabled, updated_at=timezone.now())
        if was_enabled is not None and was_enabled != enabled:
            activity_record(registry=replica.registry, actor=actor, action=ActivityAction.REPLICA_ROUTING,
                            target=replica.region.name,
                            detail={"region_endpoint_enabled": {"from": was_enabled, "to": enabled}})
    replica.region_endpoint_enabled = enabled
    return replica


def replica_delete(*, replica: Replica, actor=None, force: bool = False) -> None:
    """Mark the replica deleting; a purge job in its region removes the content, then the row.

    The purge waits for a region that does not answer (jobs.runner). `force` (owners: the callers check
    administer) removes the row at once and leaves the purge to run whenever the region is back.
    """
    if replica.is_home:
        raise Conflict(f"The home replica in '{replica.region.name}' cannot be deleted; delete the registry instead.")
    if force:
        return _replica_delete_forced(replica=replica, actor=actor)
    with transaction.atomic():
        updated = Replica.objects.filter(pk=replica.pk).exclude(status=ReplicaStatus.DELETING).update(
            status=ReplicaStatus.DELETING, status_message="Deleting the region's content.",
            status_changed_at=timezone.now(),
        )
        if not updated:
            raise Conflict(f"The replica in '{replica.region.name}' is already being deleted.")
        replica.status = ReplicaStatus.DELETING
        job = job_record(spec=PurgeSpec(repository_prefix=replica.registry.repository_prefix, remove_replica=True),
                         replica=replica)
        activity_record(registry=replica.registry, actor=actor, action=ActivityAction.REPLICA_DELETE,
                        target=replica.region.name, detail={"job": job.pk})


def replica_resync(*, replica: Replica, actor=None) -> ReplicationJob:
    """Queue a full sync of a replica again (after a failure, or to check it is level); one at a time."""
    if replica.is_home:
        raise Conflict(f"The home replica in '{replica.region.name}' is the source of every sync; "
                       "there is nothing to copy into it.")
    if replica.status == ReplicaStatus.DELETING:
        raise Conflict(f"The replica in '{replica.region.name}' is being deleted.")
    if not region_health_check(replica.region):
        raise Conflict(f"Region '{replica.region.name}' is not available: no data plane answers there.")
    with transaction.atomic():
        busy = ReplicationJob.objects.filter(replica=replica, kind__in=WHOLE_REPLICA_JOB_KINDS,
                                             state__in=[JobState.QUEUED, JobState.RUNNING])
        if busy.select_for_update().exists():
            raise Conflict(f"A sync of the replica in '{replica.region.name}' is already queued or running.")
        Replica.objects.filter(pk=replica.pk).update(
            status=ReplicaStatus.SYNCING, status_message="Waiting for the sync.", status_changed_at=timezone.now())
        job = job_record(spec=ResyncSpec(), replica=replica)
        activity_record(registry=replica.registry, actor=actor, action=ActivityAction.REPLICA_RESYNC,
                        target=replica.region.name, detail={"job": job.pk})
    replica.status = ReplicaStatus.SYNCING
    return job


def _unfinished_purges(*, registry: Registry, region) -> QuerySet[ReplicationJob]:
    return ReplicationJob.objects.filter(registry=registry, region=region, kind=JobKind.PURGE,
                                         state__in=[JobState.QUEUED, JobState.RUNNING])


def _replica_delete_forced(*, replica: Replica, actor=None) -> None:
    with transaction.atomic():
        if not Replica.objects.filter(pk=replica.pk).select_for_update().exists():
            raise NotFound(f"Registry '{replica.registry.name}' has no replica in '{replica.region.name}'.")
        # The row goes now; its jobs stay as history (replica set to null) and any copy into it is canceled.
        job = _unfinished_purges(registry=replica.registry, region=replica.region).first()
        if job is None:
            job = job_record(spec=PurgeSpec(repository_prefix=replica.registry.repository_prefix),
                             registry=replica.registry, region=replica.region)
        Replica.objects.filter(pk=replica.pk).delete()
        activity_record(registry=replica.registry, actor=actor, action=ActivityAction.REPLICA_DELETE,
                        target=replica.region.name, detail={"job": job.pk, "forced": True})
    replica.status = ReplicaStatus.DELETING
    replica.status_message = "Removed; its content is purged whenever the region answers."
