"""Per-image, per-region replication status: its writes, the reads shaped for the API and the page,
and the replica's degraded flag (the one place that sets or clears it).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import metrics
from ..choices import (
    EVENT_JOB_KINDS,
    IMAGE_REPLICATION_STATUS_COLOURS,
    WHOLE_REPLICA_JOB_KINDS,
    ImageReplicationStatus,
    JobKind,
    JobState,
    RegistryEventAction,
    ReplicaStatus,
    ReplicationOrigin,
)
from ..exceptions import InvalidInput, NotFound
from ..models import (
    ImageReplication,
    Region,
    Registry,
    RegistryEvent,
    Replica,
    ReplicationJob,
)
from ..oci.reference import DIGEST_ALGORITHMS, is_digest
from .health import replica_display_state
from .webhooks import webhook_notify

# ---- writes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusRecord:
    """One (region, repository, reference) row pointed at a push: its digest and time, and where its copy stands."""

    region: Region
    repository: str
    reference: str
    digest: str
    pushed_at: datetime
    status: str
    source_region: Region | None = None
    job: ReplicationJob | None = None
    completed_at: datetime | None = None
    failure_reason: str = ""
    event_received_at: datetime | None = None
    queued_at: datetime | None = None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.region.pk, self.repository, self.reference)

    def values(self) -> dict:
        return {"digest": self.digest, "pushed_at": self.pushed_at, "status": self.status,
                "source_region": self.source_region, "job": self.job, "completed_at": self.completed_at,
                "failure_reason": self.failure_reason,
                # A new trip: the stages of an earlier push's copy no longer apply.
                "event_received_at": self.event_received_at, "queued_at": self.queued_at,
                "copy_started_at": None, "copy_finished_at": None}


def image_status_record(*, registry: Registry, **record) -> ImageReplication | None:
    """Point the (region, repository, reference) row at this push (StatusRecord's fields), unless it already
    tracks a later one."""
    return _record(registry, StatusRecord(**record))


def _record(registry: Registry, record: StatusRecord) -> ImageReplication | None:
    values = record.values()
    row, created = ImageReplication.objects.get_or_create(
        registry=registry, region=record.region, repository=record.repository, reference=record.reference,
        defaults=values)
    if created:
        return row
    if row.pushed_at > record.pushed_at:
        return None  # a later push owns the row
    if row.digest == record.digest and row.status == ImageReplicationStatus.COMPLETE:
        return row  # already there: a repeated push changes nothing (and keeps its lag)
    ImageReplication.objects.filter(pk=row.pk).update(**values, updated_at=timezone.now())
    row.refresh_from_db()
    return row


def image_status_record_many(*, registry: Registry, records: list[StatusRecord]) -> None:
    """image_status_record for each record, in order, in a few queries: a fan-out records every image of its
    batch in every region, and one by one that was four queries a row (get_or_create's read, savepoint, insert,
    release). The rows that exist are read at once and the new ones inserted at once; only a row that already
    existed (a tag pushed again) or that another writer inserted meanwhile goes the one-by-one way."""
    if not records:
        return
    existing = set(ImageReplication.objects.filter(
        registry=registry, region_id__in={r.region.pk for r in records},
        repository__in={r.repository for r in records}, reference__in={r.reference for r in records},
    ).values_list("region_id", "repository", "reference"))
    fresh: dict[tuple, StatusRecord] = {}
    for record in records:
        if record.key not in existing and record.key not in fresh:
            fresh[record.key] = record
    ImageReplication.objects.bulk_create(
        [ImageReplication(registry=registry, region=r.region, repository=r.repository, reference=r.reference,
                          **r.values()) for r in fresh.values()],
        ignore_conflicts=True)  # inserted by another writer since the read: found below, and recorded one by one
    inserted = set()
    if fresh:
        written = ImageReplication.objects.filter(
            registry=registry, region_id__in={r.region.pk for r in fresh.values()},
            repository__in={r.repository for r in fresh.values()}, reference__in={r.reference for r in fresh.values()},
        ).values_list("region_id", "repository", "reference", "digest", "pushed_at", "status", "job_id")
        ours = {key: (r.digest, r.pushed_at, r.status, r.job.pk if r.job else None) for key, r in fresh.items()}
        inserted = {tuple(row[:3]) for row in written if ours.get(tuple(row[:3])) == tuple(row[3:])}
    for record in records:
        if record.key in inserted and fresh.get(record.key) is record:
            continue
        _record(registry, record)


def image_status_mark_complete(*, registry_id: int, region: Region, repository: str, reference: str,
                               digest: str, at: datetime | None = None) -> int:
    """Mark the image arrived in the region; the first time, that region's webhooks hear `replicated`.

    A read first: most calls (our copies' notifications, a copy that another one finished) find nothing to change,
    and on SQLite an UPDATE takes the database's one write lock even when it matches no row.
    """
    rows = ImageReplication.objects.filter(registry_id=registry_id, region=region, repository=repository,
                                           reference=reference, digest=digest)
    pending = rows.exclude(status=ImageReplicationStatus.COMPLETE).values_list("pk", "pushed_at").first()
    if pending is None:
        return 0
    pk, pushed_at = pending
    completed_at = at or timezone.now()
    arrived = ImageReplication.objects.filter(pk=pk).exclude(status=ImageReplicationStatus.COMPLETE).update(
        status=ImageReplicationStatus.COMPLETE, failure_reason="", completed_at=completed_at,
        updated_at=timezone.now())
    if arrived:
        tag = "" if is_digest(reference) else reference
        webhook_notify(registry_id=registry_id, region_name=region.name,
                       action="replicated", target={"repository": repository, "tag": tag, "digest": digest})
        # The replication lag histogram, once the arrival is committed (a rolled-back one never arrived).
        lag = max((completed_at - pushed_at).total_seconds(), 0.0)
        transaction.on_commit(lambda: metrics.replication_lag.labels(region=region.name).observe(lag))
    return arrived


def image_status_confirm(*, event: RegistryEvent) -> None:
    """A copy of ours landed in event.region (its registry said so): that region is complete."""
    if event.action != RegistryEventAction.PUSH:
        return
    image_status_mark_complete(registry_id=event.registry_id, region=event.region,
                               repository=event.repository, reference=event.tag or event.digest,
                               digest=event.digest, at=event.timestamp)


def image_status_copy_stage(*, job_id: int, started: bool = False, finished: bool = False, repository: str = "",
                            digest: str = "") -> None:
    """Stamp the job's pending images (or the one of repository@digest): their copy started, or (by digest,
    before the tags) finished."""
    stamp = {"copy_started_at": timezone.now()} if started else {}
    if finished:
        stamp["copy_finished_at"] = timezone.now()
    rows = ImageReplication.objects.filter(job_id=job_id, status=ImageReplicationStatus.PENDING)
    if digest:
        rows = rows.filter(repository=repository, digest=digest)
    rows.update(**stamp)


def image_status_job_failed(*, job_id: int, error: str) -> None:
    """An EVENT job gave up: what it was carrying failed in its region, with the reason."""
    ImageReplication.objects.filter(job_id=job_id, status=ImageReplicationStatus.PENDING).update(
        status=ImageReplicationStatus.FAILED, failure_reason=error, updated_at=timezone.now())


def image_status_forget(*, registry: Registry, repository: str, digest: str) -> int:
    """The manifest was deleted: no region should have it, so there is no status to show."""
    deleted, _ = ImageReplication.objects.filter(registry=registry, repository=repository, digest=digest).delete()
    return deleted


def _behind_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.REPLICATION_DEGRADED_AFTER_SECONDS)


def replica_refresh_degraded(*, replica_id: int | None = None, registry: Registry | None = None) -> None:
    """READY ↔ DEGRADED from pending work older than REPLICATION_DEGRADED_AFTER_SECONDS.

    Pending work: images pending or failed in the region since before the cutoff, and event
    jobs (copies, deletes) queued or running since before it. Other statuses are left alone.
    """
    replicas = Replica.objects.filter(status__in=[ReplicaStatus.READY, ReplicaStatus.DEGRADED])
    if replica_id is not None:
        replicas = replicas.filter(pk=replica_id)
    if registry is not None:
        replicas = replicas.filter(registry=registry)
    cutoff = _behind_cutoff()
    threshold = settings.REPLICATION_DEGRADED_AFTER_SECONDS
    for replica in replicas.select_related("region"):
        images = ImageReplication.objects.filter(
            registry_id=replica.registry_id, region_id=replica.region_id, pushed_at__lt=cutoff,
            status__in=[ImageReplicationStatus.PENDING, ImageReplicationStatus.FAILED]).count()
        jobs = ReplicationJob.objects.filter(replica=replica, kind__in=EVENT_JOB_KINDS, created_at__lt=cutoff,
                                             state__in=[JobState.QUEUED, JobState.RUNNING]).count()
        now = timezone.now()
        if images or jobs:
            message = f"Behind its peers for more than {threshold} s: {images} image(s) not replicated"
            message += f", {jobs} event job(s) waiting." if jobs else "."
            Replica.objects.filter(pk=replica.pk, status=ReplicaStatus.READY).update(
                status=ReplicaStatus.DEGRADED, status_message=message, status_changed_at=now)
            Replica.objects.filter(pk=replica.pk, status=ReplicaStatus.DEGRADED).exclude(
                status_message=message).update(status_message=message)
        else:
            Replica.objects.filter(pk=replica.pk, status=ReplicaStatus.DEGRADED).update(
                status=ReplicaStatus.READY, status_message="Level with its peers again.", status_changed_at=now)


# ---- reads --------------------------------------------------------------------------------


class Arrival:
    """How an image came to be in a region, so the page and the API never call a replica's age a lag."""

    PUSHED = "pushed"  # the push's origin: nothing was copied
    INITIAL_SYNC = "initial_sync"  # it was there before the replica: its initial sync brought it
    REPLICATED = "replicated"  # copied after the push: lag_seconds says how long it took


@dataclass(frozen=True)
class RegionImageStatus:
    region: str
    status: str
    failure_reason: str
    completed_at: datetime | None
    lag_seconds: float | None  # only for images replicated after their push
    arrival: str = ""  # an Arrival value; "" while it has not arrived (pending or failed)
    initial_sync_seconds: float | None = None  # how long the replica's initial sync took (arrival initial_sync)

    @property
    def colour(self) -> str:
        return IMAGE_REPLICATION_STATUS_COLOURS[ImageReplicationStatus(self.status)]


_STATUS_RANK = {ImageReplicationStatus.COMPLETE: 0, ImageReplicationStatus.PENDING: 1, ImageReplicationStatus.FAILED: 2}


def _is_origin(row: ImageReplication) -> bool:
    # The push's own region is recorded complete at push time with no source (services.events).
    return row.source_region_id is None and row.completed_at == row.pushed_at


def _copied_for_the_push(row: ImageReplication) -> bool:
    """The push's own fan-out copied it (an event job, queued when the push was seen): its lag is real even if
    the registries' clocks put the push before the replica's creation."""
    job = row.job
    return (job is not None and job.kind == JobKind.EVENT_COPY
            and job.spec.get("origin", ReplicationOrigin.EVENT) == ReplicationOrigin.EVENT)


def _region_status(replica: Replica, row: ImageReplication | None, pushed_at: datetime,
                   initial_sync_seconds: dict[int, float | None]) -> RegionImageStatus:
    name = replica.region.name
    before_replica = replica.created_at is not None and pushed_at < replica.created_at
    initial = initial_sync_seconds.get(replica.pk)
    if row is not None:
        if row.status != ImageReplicationStatus.COMPLETE:
            return RegionImageStatus(name, row.status, row.failure_reason, row.completed_at, None)
        if _is_origin(row):
            return RegionImageStatus(name, row.status, "", row.completed_at, None, Arrival.PUSHED)
        if before_replica and not _copied_for_the_push(row):
            return RegionImageStatus(name, row.status, "", row.completed_at, None, Arrival.INITIAL_SYNC, initial)
        lag = row.lag
        return RegionImageStatus(name, row.status, "", row.completed_at,
                                 lag.total_seconds() if lag is not None else None, Arrival.REPLICATED)
    if replica.status in (ReplicaStatus.FAILED, ReplicaStatus.DELETING):
        return RegionImageStatus(name, ImageReplicationStatus.FAILED,
                                 replica.status_message or f"The replica is {replica.status}.", None, None)
    if replica.last_synced_at and replica.last_synced_at >= pushed_at:
        if before_replica:
            return RegionImageStatus(name, ImageReplicationStatus.COMPLETE, "", replica.last_synced_at, None,
                                     Arrival.INITIAL_SYNC, initial)
        # Pushed after the replica was created, and brought by a later full sync: that was its lag.
        return RegionImageStatus(name, ImageReplicationStatus.COMPLETE, "", replica.last_synced_at,
                                 (replica.last_synced_at - pushed_at).total_seconds(), Arrival.REPLICATED)
    return RegionImageStatus(name, ImageReplicationStatus.PENDING, "", None, None)


def replicas_initial_sync_seconds(replicas: list[Replica]) -> dict[int, float | None]:
    """{replica id: seconds its first successful full sync ran} (None when none has succeeded yet)."""
    seconds: dict[int, float | None] = {replica.pk: None for replica in replicas}
    jobs = (ReplicationJob.objects.filter(replica__in=replicas, kind__in=WHOLE_REPLICA_JOB_KINDS,
                                          state=JobState.SUCCEEDED, started_at__isnull=False)
            .order_by("created_at", "id").values_list("replica_id", "started_at", "finished_at"))
    for replica_id, started_at, finished_at in jobs:
        if seconds.get(replica_id) is None and finished_at:
            seconds[replica_id] = (finished_at - started_at).total_seconds()
    return seconds


def image_replication_status(*, registry: Registry, repository: str, reference: str) -> dict:
    """ECR DescribeImageReplicationStatus's shape: {repository, digest, regions: [one per replica region]}."""
    repository, reference = (repository or "").strip(), (reference or "").strip()
    if not repository or not reference:
        raise InvalidInput("Give both `repository` and `reference` (a tag or a digest).",
                           field="repository" if not repository else "reference")
    if not repository.lower().startswith(registry.repository_prefix):
        repository = registry.repository_prefix + repository  # "app" and "contoso/app" both name it
    rows = ImageReplication.objects.filter(registry=registry, repository=repository).select_related("region", "job")
    rows = list(rows.filter(digest=reference) if is_digest(reference) else rows.filter(reference=reference))
    if not rows:
        raise NotFound(f"Registry '{registry.name}' has no replication record of {repository}:{reference}.")
    latest = max(rows, key=lambda row: row.pushed_at)
    digest = reference if is_digest(reference) else latest.digest
    best: dict[int, ImageReplication] = {}
    for row in rows:
        if row.digest != digest:
            continue  # an older push of the tag, on its way out
        mine = best.get(row.region_id)
        if mine is None or _STATUS_RANK[row.status] < _STATUS_RANK[mine.status]:
            best[row.region_id] = row
    replicas = list(Replica.objects.filter(registry=registry).select_related("region").order_by("region__name"))
    initial = replicas_initial_sync_seconds(replicas)
    regions = [_region_status(replica, best.get(replica.region_id), latest.pushed_at, initial) for replica in replicas]
    return {"repository": repository, "digest": digest, "regions": [vars(r) for r in regions]}


@dataclass(frozen=True)
class ImageMatrixRow:
    repository: str
    reference: str
    digest: str
    pushed_at: datetime
    cells: list[RegionImageStatus]


@dataclass(frozen=True)
class ImageMatrix:
    regions: list[Replica]
    rows: list[ImageMatrixRow]
    degraded_after_seconds: int


def registry_image_matrix(*, registry: Registry, limit: int = 50) -> ImageMatrix:
    """The most recently pushed tags × the registry's replica regions, for the overview page."""
    replicas = list(Replica.objects.filter(registry=registry).select_related("region", "region__health")
                    .order_by("region__name"))
    for replica in replicas:
        replica.display = replica_display_state(replica)  # the column's badge says unreachable too
    initial = replicas_initial_sync_seconds(replicas)
    by_digest = Q()
    for algorithm in DIGEST_ALGORITHMS:
        by_digest |= Q(reference__startswith=f"{algorithm}:")
    tagged = ImageReplication.objects.filter(registry=registry).exclude(by_digest)
    keys = list(tagged.values_list("repository", "reference").order_by("-pushed_at").distinct()[: limit * 4])
    seen, wanted = set(), []
    for key in keys:
        if key not in seen:
            seen.add(key)
            wanted.append(key)
        if len(wanted) == limit:
            break
    query = Q()
    for repository, reference in wanted:
        query |= Q(repository=repository, reference=reference)
    by_key: dict[tuple[str, str], dict[int, ImageReplication]] = {}
    for row in tagged.filter(query).select_related("job") if wanted else []:
        by_key.setdefault((row.repository, row.reference), {})[row.region_id] = row
    rows = []
    for key in wanted:
        cells = by_key.get(key, {})
        latest = max(cells.values(), key=lambda row: row.pushed_at)
        rows.append(ImageMatrixRow(
            repository=key[0], reference=key[1], digest=latest.digest, pushed_at=latest.pushed_at,
            cells=[_region_status(replica, cells.get(replica.region_id)
                                  if cells.get(replica.region_id) and cells[replica.region_id].digest == latest.digest
                                  else None, latest.pushed_at, initial)
                   for replica in replicas]))
    return ImageMatrix(regions=replicas, rows=rows,
                       degraded_after_seconds=settings.REPLICATION_DEGRADED_AFTER_SECONDS)
