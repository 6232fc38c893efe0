"""Reconcile: compare every replica's tags and digests with its peers and queue what differs.

Events can be lost (Distribution keeps its queue in memory; the portal or a region may be
down), so this periodic pass is what makes the replicas level in the end:

- the wanted set of a registry is the union of (repository, tag) over its ready replicas;
- a tag whose digests differ goes to the digest of the latest recorded push of that tag,
  and without one (or if no region has it any more) to the home region's, else the first;
- a digest deleted after the tag's latest push is deleted where it is still found;
- each run is a ReconcileRun row: what was compared, what differed, which jobs it queued;
- a run reads one tag list per repository and HEADs only the tags our records do not know in that region
  (every REPLICATION_RECONCILE_FULL_SECONDS, a full pass HEADs them all); the event history is read only
  for the repositories of tags that differ.

Untagged manifests are compared through the tags that reference them only.
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..choices import ImageReplicationStatus, JobState, RegistryEventAction, ReplicaStatus, ReplicationOrigin
from ..models import (
    ImageReplication,
    ReconcileRun,
    Registry,
    RegistryEvent,
    Replica,
)
from ..dispatch import job_record
from ..job_specs import EventCopySpec, EventDeleteSpec, ImageToCopy, ImageToDelete
from ..oci.reference import is_digest
from . import image_status
from .region_clients import region_client

log = logging.getLogger(__name__)

COMPARED_STATUSES = (ReplicaStatus.READY, ReplicaStatus.DEGRADED)
MAX_RECORDED_DIFFERENCES = 500


@dataclass
class RegionListing:
    """What one region's registry holds under a registry's prefix: (repository, tag) → digest, or None where the
    tag is listed and its digest was not asked (the recorded one stands for it)."""

    tags: dict[tuple[str, str], str | None] = field(default_factory=dict)
    requests: int = 0


def region_tag_digests(region, repository_prefix: str, *, recorded: dict | None = None) -> RegionListing:
    """The region's tags from its catalog and one tag list per repository; a HEAD only for a tag whose digest in
    this region is not `recorded` ((repository, tag) → digest our copies or its push left complete there).
    recorded=None: a HEAD for every tag (a full pass)."""
    listing = RegionListing()
    with region_client(region, prefix=repository_prefix, catalog=True) as client:
        repositories = list(client.catalog(prefix=repository_prefix))
        listing.requests += 1 + len(repositories) // 1000
        for repository in repositories:
            tags = client.tags(repository)
            listing.requests += 1
            for tag in tags:
                known = recorded.get((repository, tag)) if recorded is not None else None
                if known:
                    listing.tags[(repository, tag)] = known
                    continue
                descriptor = client.head_manifest(repository, tag)
                listing.requests += 1
                if descriptor is not None:
                    listing.tags[(repository, tag)] = descriptor.digest
    return listing


def recorded_digests(registry: Registry, region) -> dict[tuple[str, str], str]:
    """(repository, tag) → the digest our records say the region holds (its status row is complete)."""
    rows = ImageReplication.objects.filter(registry=registry, region=region, status=ImageReplicationStatus.COMPLETE)
    return {(repository, reference): digest for repository, reference, digest
            in rows.values_list("repository", "reference", "digest") if not is_digest(reference)}


def _latest_events(registry: Registry, keys) -> tuple[dict, dict]:
    """(repo, tag) → latest user push, and (repo, digest) → latest user delete time, for the repositories of
    `keys` only (the ones that differ): a run that finds nothing different reads none of the history."""
    pushes, deletes = {}, {}
    repositories = sorted({repository for repository, _ in keys})
    for start in range(0, len(repositories), 500):
        events = RegistryEvent.objects.filter(registry=registry, from_replication=False,
                                              repository__in=repositories[start:start + 500]).order_by("timestamp", "id")
        for event in events.only("action", "repository", "tag", "digest", "timestamp"):
            if event.action == RegistryEventAction.PUSH and event.tag:
                pushes[(event.repository, event.tag)] = event
            elif event.action == RegistryEventAction.DELETE:
                deletes[(event.repository, event.digest)] = event.timestamp
    return pushes, deletes


def _full_pass_due(registry: Registry) -> bool:
    """A HEAD of every tag now and then (REPLICATION_RECONCILE_FULL_SECONDS) finds what the records cannot: a tag
    moved in a region whose event was lost."""
    last = ReconcileRun.objects.filter(registry=registry, full_pass=True, finished_at__isnull=False,
                                       error="").order_by("-started_at").values_list("started_at", flat=True).first()
    return last is None or last < timezone.now() - timedelta(seconds=settings.REPLICATION_RECONCILE_FULL_SECONDS)


def registry_reconcile(*, registry: Registry) -> ReconcileRun:
    full = _full_pass_due(registry)
    run = ReconcileRun.objects.create(registry=registry, full_pass=full)
    replicas = [r for r in Replica.objects.filter(registry=registry, status__in=COMPARED_STATUSES)
                .select_related("region").order_by("region__name") if r.region.endpoint and r.region.enabled]
    listings: dict[str, dict] = {}
    unreachable: dict[str, str] = {}
    requests = 0
    if len(replicas) > 1:
        recorded = {r.region.name: None if full else recorded_digests(registry, r.region) for r in replicas}
        with ThreadPoolExecutor(max_workers=min(8, len(replicas))) as pool:
            futures = {r.region.name: pool.submit(region_tag_digests, r.region, registry.repository_prefix,
                                                  recorded=recorded[r.region.name]) for r in replicas}
        for name, future in futures.items():
            try:
                listing = future.result()
            except Exception as exc:  # an unreachable region is skipped, not treated as empty
                unreachable[name] = f"{type(exc).__name__}: {exc}"
                continue
            listings[name] = listing.tags
            requests += listing.requests
    compared = [r for r in replicas if r.region.name in listings]
    by_name = {r.region.name: r for r in compared}
    home = registry.home_region.name
    started = run.started_at

    differences, copies, removals = [], {}, {}  # copies: (target, source) -> [image]; removals: target -> [image]
    keys = set().union(*listings.values()) if len(compared) > 1 else set()
    # Only a tag some region lacks or holds at another digest needs the history and a decision.
    differing = {key for key in keys if len({listing.get(key) for listing in listings.values()}) > 1}
    pushes, deletes = _latest_events(registry, differing)
    in_flight = _in_flight(registry) if differing else set()
    for repository, tag in sorted(differing):
        have = {name: listing.get((repository, tag)) for name, listing in listings.items()}
        latest = pushes.get((repository, tag))
        live = {name: digest for name, digest in have.items()
                if digest and not _deleted_since(deletes, repository, digest, latest)}
        for name, digest in have.items():
            if digest and name not in live:
                differences.append({"repository": repository, "tag": tag, "region": name, "problem": "deleted",
                                    "digest": digest})
                removals.setdefault(name, []).append(ImageToDelete(repository=repository, digest=digest))
        if not live:
            continue
        if latest and latest.digest in live.values():
            wanted, pushed_at = latest.digest, latest.timestamp
        elif home in live:
            wanted, pushed_at = live[home], started
        else:
            wanted, pushed_at = live[sorted(live)[0]], started
        source = home if live.get(home) == wanted else sorted(n for n, d in live.items() if d == wanted)[0]
        for name in listings:
            if have[name] == wanted:
                continue
            problem = "missing" if have[name] is None else "different"
            differences.append({"repository": repository, "tag": tag, "region": name, "problem": problem,
                                "digest": wanted})
            if (name, repository, tag, wanted) in in_flight:
                continue  # an event copy is on its way already
            copies.setdefault((name, source), []).append(
                ImageToCopy(repository=repository, reference=tag, digest=wanted, pushed_at=pushed_at))

    jobs = []
    with transaction.atomic():
        for (target, source), images in copies.items():
            job = job_record(spec=EventCopySpec(source_region=source, images=tuple(images),
                                                origin=ReplicationOrigin.RECONCILE, reconcile_run=run.pk),
                             replica=by_name[target])
            jobs.append(job.pk)
            for image in images:
                image_status.image_status_record(
                    registry=registry, region=by_name[target].region, repository=image.repository,
                    reference=image.reference, digest=image.digest, pushed_at=image.pushed_at,
                    status=ImageReplicationStatus.PENDING, source_region=by_name[source].region, job=job,
                    queued_at=job.created_at)
        for target, images in removals.items():
            jobs.append(job_record(spec=EventDeleteSpec(images=tuple(images), origin=ReplicationOrigin.RECONCILE,
                                                        reconcile_run=run.pk),
                                   replica=by_name[target]).pk)
        ReconcileRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(), regions_checked=sorted(listings), regions_unreachable=unreachable,
            tags_checked=len(keys), differences=differences[:MAX_RECORDED_DIFFERENCES],
            difference_count=len(differences), jobs_queued=jobs, requests_sent=requests)
    image_status.replica_refresh_degraded(registry=registry)
    run.refresh_from_db()
    if differences:
        log.info("Reconcile of %s: %d differences, queued jobs %s", registry.name, len(differences), jobs)
    return run


def _deleted_since(deletes: dict, repository: str, digest: str, latest_push) -> bool:
    deleted_at = deletes.get((repository, digest))
    return deleted_at is not None and (latest_push is None or deleted_at > latest_push.timestamp)


def _in_flight(registry: Registry) -> set[tuple[str, str, str, str]]:
    """(region, repository, tag, digest) that a queued or running copy is bringing already."""
    rows = ImageReplication.objects.filter(
        registry=registry, status=ImageReplicationStatus.PENDING,
        job__state__in=[JobState.QUEUED, JobState.RUNNING]).select_related("region")
    return {(row.region.name, row.repository, row.reference, row.digest) for row in rows}


def registries_reconcile() -> list[ReconcileRun]:
    """Reconcile every registry with more than one replica (the periodic task)."""
    runs = []
    names = (Replica.objects.filter(status__in=COMPARED_STATUSES).values("registry")
             .order_by("registry").distinct())
    for registry in Registry.objects.filter(pk__in=names).select_related("home_region"):
        if registry.replicas.filter(status__in=COMPARED_STATUSES).count() < 2:
            continue
        try:
            runs.append(registry_reconcile(registry=registry))
        except Exception as exc:  # one broken registry must not stop the others
            log.exception("Reconcile of %s failed", registry.name)
            ReconcileRun.objects.create(registry=registry, finished_at=timezone.now(), error=str(exc))
    return runs
