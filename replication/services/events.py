"""Registry notifications: record each once, then fan a push or delete out to every other replica.

A regional Distribution posts `{"events": [...]}` for every manifest push and delete. The
intake only records rows and queues `process_registry_events` on the portal queue; the fan-out
records one event copy (or event delete) job per other replica, on that region's queue, whose
body (`copy_for_event`, `delete_for_event`) reuses the copy engine.

Loops: our own copies into a region are notified too. A region that requires the portal's tokens names the
token's subject as the event's actor, and only the engine's signed credentials carry its identity: such events
only confirm that region's copy and never fan out again (event_from_replication).
"""
import contextvars
import dataclasses
import fcntl
import hashlib
import logging
import queue
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .. import metrics
from ..choices import ImageReplicationStatus, JobKind, JobState, RegistryEventAction, ReplicaStatus, ReplicationOrigin
from ..exceptions import InvalidInput
from ..models import (
    ImageReplication,
    Region,
    Registry,
    RegistryEvent,
    Replica,
    ReplicationJob,
)
from ..dispatch import PROCESS_EVENTS_TASK, job_record, task_send_on_commit
from ..job_specs import EventCopySpec, EventDeleteSpec, ImageToCopy, ImageToDelete, spec_dump, spec_load
from ..oci.client import USER_AGENT, Manifest
from ..oci.constants import MANIFEST_MEDIA_TYPES
from ..oci.copy import CopiedImage, CopyResult, ImageRef, copy_images, delete_image, tag_manifest
from ..oci.reference import is_digest
from ..queues import PORTAL_QUEUE
from . import image_status
from .region_clients import region_client
from .webhooks import webhook_notify

log = logging.getLogger(__name__)

# "georegistry-replication/": every request of our copy engine says so (oci/client.py USER_AGENT); it tells our
# pushes apart only in a region that names no actor (event_from_replication).
REPLICATION_USER_AGENT_PREFIX = USER_AGENT.split("/")[0] + "/"
# Replicas that receive event copies: a creating/syncing one too, as its initial sync may have
# listed the tags before this push. Failed and deleting replicas are left to a new sync.
FAN_OUT_STATUSES = (ReplicaStatus.READY, ReplicaStatus.DEGRADED, ReplicaStatus.SYNCING, ReplicaStatus.CREATING)


# ---- intake -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParsedEvent:
    event_id: str
    action: str
    repository: str
    tag: str
    digest: str
    media_type: str
    size: int
    timestamp: datetime
    user_agent: str
    actor: str = ""  # the token's subject in a region that requires tokens; "" in one open to anyone


@dataclasses.dataclass
class IntakeResult:
    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0


def _parse_timestamp(value) -> datetime:
    # Distribution sends nanoseconds ("…52.670437695Z"); parse_datetime keeps the microseconds.
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise InvalidInput(f"Event timestamp {value!r} is not an ISO 8601 date and time.", field="timestamp")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt_timezone.utc)


def events_parse(body) -> list[ParsedEvent]:
    """Distribution's envelope, checked; InvalidInput (400) when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidInput('The body must be {"events": [...]}.', field="events")
    parsed = []
    for index, event in enumerate(body["events"]):
        if not isinstance(event, dict):
            raise InvalidInput(f"events[{index}] is not an object.", field="events")
        target, request = event.get("target"), event.get("request") or {}
        if not isinstance(target, dict) or not isinstance(request, dict):
            raise InvalidInput(f"events[{index}] has no target object.", field="events")
        event_id, action = event.get("id"), event.get("action")
        if not isinstance(event_id, str) or not event_id or not isinstance(action, str):
            raise InvalidInput(f"events[{index}] needs an id and an action.", field="events")
        repository = target.get("repository")
        if not isinstance(repository, str) or not repository:
            raise InvalidInput(f"events[{index}].target needs a repository.", field="events")
        try:
            size = int(target.get("size") or 0)
        except (TypeError, ValueError):
            raise InvalidInput(f"events[{index}].target.size is not a number.", field="events") from None
        parsed.append(ParsedEvent(
            event_id=event_id[:100], action=action, repository=repository,
            tag=str(target.get("tag") or ""), digest=str(target.get("digest") or ""),
            media_type=str(target.get("mediaType") or ""), size=size,
            timestamp=_parse_timestamp(event.get("timestamp")),
            user_agent=str(request.get("useragent") or "")[:300],
            actor=_actor_name(event.get("actor")),
        ))
    return parsed


def _actor_name(actor) -> str:
    name = actor.get("name") if isinstance(actor, dict) else None
    return name if isinstance(name, str) else ""


def event_from_replication(event: ParsedEvent) -> bool:
    """Whether our copy engine made this push or delete (it then never fans out again).

    A region that requires tokens names who pushed: the engine only when the token was issued for its signed
    credentials, whatever User-Agent a client sends (a user pushing with our own OCI client, or one claiming
    our User-Agent, still fans out). A region open to anyone names no one; there the User-Agent is all it tells.
    """
    if event.actor:
        return event.actor == settings.REPLICATION_IDENTITY
    return event.user_agent.startswith(REPLICATION_USER_AGENT_PREFIX)


def event_ignore_reason(event: ParsedEvent) -> str | None:
    """Why an event needs no replication, or None when it is a manifest push or a delete by digest."""
    if event.action == RegistryEventAction.PUSH:
        if event.media_type not in MANIFEST_MEDIA_TYPES or not is_digest(event.digest):
            return "not a manifest push (a blob, or an unsupported manifest type)"
        return None
    if event.action == RegistryEventAction.DELETE:
        # Deleting a manifest also notifies one tag delete per tag it had: the digest delete covers them.
        if event.tag or not is_digest(event.digest):
            return "a tag delete (the manifest delete propagates)"
        return None
    return f"action {event.action!r} is not replicated"


def _registry_name(repository: str) -> str | None:
    """The registry a regional repository belongs to: its first part ("contoso/web" -> "contoso")."""
    name, slash, _ = repository.partition("/")
    return name if slash else None


def _registry_for(repository: str, cache: dict) -> Registry | None:
    name = _registry_name(repository)
    if name is None:
        return None
    if name not in cache:
        cache[name] = Registry.objects.filter(name__iexact=name).first()
    return cache[name]


def events_record(*, region: Region, body) -> IntakeResult:
    """Record each new manifest event once (per region and event id) and queue their processing; `region` is
    the one the intake authenticated (region_events_authenticate)."""
    result = IntakeResult()
    new_ids = []
    counted = []  # (action, source) of each received event, counted once the transaction commits
    registries: dict = {}
    wanted = []  # (event, registry, from_replication)
    for event in events_parse(body):
        if event_ignore_reason(event):
            result.ignored += 1
            continue
        from_replication = event_from_replication(event)
        if from_replication and not _confirms_a_pending_copy(event, region=region):
            # Our copy already marked its image complete there (the usual case, most of a burst's notifications):
            # one read, and no write that would queue behind the worker's for SQLite's one write lock while the
            # registry waits for our answer.
            result.ignored += 1
            counted.append((event.action, "replication"))
            continue
        registry = _registry_for(event.repository, registries)
        if registry is None:
            result.ignored += 1
            continue
        wanted.append((event, registry, from_replication))
    if not wanted:
        _count_received(region, counted)
        return result
    with transaction.atomic():
        for event, registry, from_replication in wanted:
            try:
                with transaction.atomic():  # a duplicate only rolls back its own savepoint
                    row = RegistryEvent.objects.create(
                        region=region, registry=registry, event_id=event.event_id, action=event.action,
                        repository=event.repository, tag=event.tag, digest=event.digest,
                        media_type=event.media_type, size=event.size, timestamp=event.timestamp,
                        user_agent=event.user_agent, from_replication=from_replication,
                    )
            except IntegrityError:
                result.duplicates += 1
                continue
            result.recorded += 1
            counted.append((row.action, "replication" if row.from_replication else "user"))
            if not row.from_replication:
                new_ids.append(row.pk)
        # Only a user's push or delete needs acting on at once. Our own copies' events only confirm what the copy
        # job records itself: the next fan-out run takes them along (or the lost-work sweep, events_drain), so a
        # burst's copies do not queue a task each behind the pushes.
        if new_ids:
            transaction.on_commit(lambda: fan_out_request(event_ids=new_ids))
    _count_received(region, counted)  # committed
    return result


# A pending user event received this recently has a fan-out run due; an older one may be one whose run failed and
# waits for its retry, which must not hold back new events.
FAN_OUT_COALESCE_SECONDS = 10


def fan_out_request(*, event_ids: list[int]) -> None:
    """Queue a fan-out run for these committed events, unless one is already due for an older pending event.

    This check runs after our commit, and a run queues the next one while a user event is pending after its own
    commit (events_process): so either the older event's run reads the pending events after our commit and takes
    ours, or it had read them before and queues the run that will. A burst queues a run per batch instead of one
    per notification, and the registry, which waits for this answer, waits for a read instead of a broker send.
    Only an older event counts: two notifications committed side by side (a registry's two lanes, two regions)
    would each see the other pending and neither queue a run; the older one's does, as nothing older holds it.
    """
    recent = timezone.now() - timedelta(seconds=FAN_OUT_COALESCE_SECONDS)
    due = RegistryEvent.objects.filter(processed_at__isnull=True, from_replication=False,
                                       received_at__gte=recent, pk__lt=min(event_ids))
    if not due.exists():
        task_send_on_commit(PROCESS_EVENTS_TASK, kwargs={"event_ids": event_ids}, queue=PORTAL_QUEUE)


def _confirms_a_pending_copy(event: ParsedEvent, *, region: Region) -> bool:
    """Whether our copy's event would change a status: its image is recorded in the region and not complete yet.
    Its registry is joined in the same query, by name."""
    registry_name = _registry_name(event.repository)
    if event.action != RegistryEventAction.PUSH or registry_name is None:
        return False  # a delete of ours confirms nothing (image_status_confirm)
    return ImageReplication.objects.filter(
        registry__name__iexact=registry_name, region=region, repository=event.repository,
        reference=event.tag or event.digest, digest=event.digest,
    ).exclude(status=ImageReplicationStatus.COMPLETE).exists()


def _count_received(region: Region, counted: list[tuple[str, str]]) -> None:
    for action, source in counted:
        metrics.events_received.labels(region=region.name, action=action, source=source).inc()


# ---- fan-out ------------------------------------------------------------------------------


# At most this many pending events per fan-out run, and images per copy job (the engine copies them in parallel).
FAN_OUT_BATCH_MAX_EVENTS = 500
COPY_JOB_MAX_IMAGES = 100


def events_process(*, event_ids: list[int]) -> None:
    """Act on recorded events, oldest first; each once, even if the task runs twice.

    A run takes `event_ids` and every other event still pending (up to FAN_OUT_BATCH_MAX_EVENTS), so the pushes of
    one registry into one region become one copy job per other replica instead of one per push. After its commit
    it queues the next run if a user event is still pending, which is what lets the intake queue a run only when
    none is due (fan_out_request); a run queued rather than a loop here, so copy jobs get the worker in between.
    The batch is one transaction: a failure un-claims it, then each event is tried on its own so that one bad
    event holds back only itself; the first failure is raised at the end (the task retries).
    """
    pending = RegistryEvent.objects.filter(processed_at__isnull=True)
    candidates = list(pending.filter(pk__in=event_ids).values_list("pk", flat=True))
    candidates += [pk for pk in pending.exclude(pk__in=candidates).order_by("timestamp", "id")
                   .values_list("pk", flat=True)[:FAN_OUT_BATCH_MAX_EVENTS]]
    if not candidates:
        return
    failed, failure = set(), None
    try:
        _events_fan_out(candidates)
    except Exception as exc:
        if len(candidates) > 1:
            log.exception("Fan-out of %d events failed; acting on each alone", len(candidates))
        for pk in candidates:
            try:
                _events_fan_out([pk])
            except Exception as exc_alone:  # noqa: BLE001 - raised below, once the next run is queued
                failed.add(pk)
                failure = failure or (exc if len(candidates) == 1 else exc_alone)
    # Events recorded after our candidates were read, or beyond the batch: their intake may have counted on us.
    if pending.filter(from_replication=False).exclude(pk__in=failed).exists():
        task_send_on_commit(PROCESS_EVENTS_TASK, kwargs={"event_ids": []}, queue=PORTAL_QUEUE)
    if failure is not None:
        raise failure


def events_drain() -> None:
    """Act on every pending event (the lost-work sweep): our copies' confirmations, and events whose task was lost."""
    events_process(event_ids=[])


def _events_fan_out(event_ids: list[int]) -> None:
    """Claim and act on those of event_ids still pending."""
    claim = uuid.uuid4().hex
    counted = []
    with transaction.atomic():
        # The conditional UPDATE is the claim: another run (a duplicate task, a drain) gets none of these.
        RegistryEvent.objects.filter(pk__in=event_ids, processed_at__isnull=True).update(
            processed_at=timezone.now(), fan_out_claim=claim)
        claimed = RegistryEvent.objects.filter(fan_out_claim=claim).select_related(
            "registry__home_region", "region").order_by("timestamp", "id")
        pushes: dict[tuple[int, int], list[RegistryEvent]] = {}  # (registry, origin region) -> pushes, in order

        def flush(registry_id=None):
            for key in [key for key in pushes if registry_id is None or key[0] == registry_id]:
                batch = pushes.pop(key)
                jobs = event_fan_out_pushes(events=batch)
                counted.extend((event, [job for job in jobs if event.pk in job.carried]) for event in batch)

        for event in claimed:
            if event.from_replication:
                image_status.image_status_confirm(event=event)
                continue
            if event.action == RegistryEventAction.PUSH:
                pushes.setdefault((event.registry_id, event.region_id), []).append(event)
            else:
                flush(event.registry_id)  # the pushes before a delete are fanned out before it
                counted.append((event, event_fan_out_delete(event=event)))
            # The region where a user pushed or deleted tells its webhooks.
            webhook_notify(registry_id=event.registry_id, region_name=event.region.name, action=event.action,
                           target=event_webhook_target(event))
        flush()
    for event, jobs in counted:  # committed
        _count_fan_out(event, jobs)


def _count_fan_out(event: RegistryEvent, jobs: list[ReplicationJob]) -> None:
    metrics.events_fanned_out.labels(region=event.region.name, action=event.action).inc()
    for job in jobs:
        metrics.fan_out_jobs.labels(region=job.region.name, action=event.action).inc()


def event_webhook_target(event: RegistryEvent) -> dict:
    return {"repository": event.repository, "tag": event.tag, "digest": event.digest,
            "mediaType": event.media_type, "size": event.size}


def event_superseded(*, registry_id: int, repository: str, tag: str, digest: str, pushed_at: datetime) -> bool:
    """True when a later push put another digest under the tag, or a later delete removed the digest.

    This is what makes the later of two pushes of one tag win in every region: a copy of the
    older one checks this before it writes the tag, and leaves the tag alone.
    """
    winners = Q(action=RegistryEventAction.DELETE, digest=digest)
    if tag:
        winners |= Q(action=RegistryEventAction.PUSH, tag=tag) & ~Q(digest=digest)
    return RegistryEvent.objects.filter(winners, registry_id=registry_id, repository=repository,
                                        from_replication=False, timestamp__gt=pushed_at).exists()  # one query


def event_fan_out_push(*, event: RegistryEvent) -> list[ReplicationJob]:
    """One copy job per other replica of the registry; the origin region is recorded as complete."""
    return event_fan_out_pushes(events=[event])


def event_fan_out_pushes(*, events: list[RegistryEvent]) -> list[ReplicationJob]:
    """The pushes of one registry into one region (oldest first): per other replica, copy jobs carrying them all
    (up to COPY_JOB_MAX_IMAGES each); the origin region is recorded as complete. Each job's `carried` lists the
    event ids it carries (for the metrics)."""
    registry, origin_region = events[0].registry, events[0].region
    replicas = list(Replica.objects.filter(registry=registry).select_related("region", "registry"))
    origin = next((r for r in replicas if r.region_id == origin_region.pk), None)
    if origin is None or origin.status == ReplicaStatus.DELETING:
        log.info("Ignoring %d push(es): %s holds no replica of %s", len(events), origin_region.name, registry.name)
        return []
    wanted = []  # (event, image)
    overwritten = []  # tags a push stamped older than their winner may have just overwritten in the origin region
    for event in events:
        if event_superseded(registry_id=registry.pk, repository=event.repository, tag=event.tag,
                            digest=event.digest, pushed_at=event.timestamp):
            # Arrived late, or pushed over in this very batch: the newer push or a delete propagates. But the
            # push did land in its region, perhaps after the winner's copy (a slow clock looks the same as a
            # late event): that region gets the winner once more.
            if event.tag:
                overwritten.append(event)
            continue
        reference = event.tag or event.digest
        wanted.append((event, ImageToCopy(repository=event.repository, reference=reference, digest=event.digest,
                                          pushed_at=event.timestamp)))
    jobs = []
    with transaction.atomic():
        records = [image_status.StatusRecord(
            region=origin.region, repository=image.repository, reference=image.reference, digest=image.digest,
            pushed_at=image.pushed_at, status=ImageReplicationStatus.COMPLETE, completed_at=image.pushed_at,
            event_received_at=event.received_at,
        ) for event, image in wanted]
        for replica in replicas:
            if replica.pk == origin.pk:
                continue
            if replica.status not in FAN_OUT_STATUSES or not replica.region.endpoint:
                records += [image_status.StatusRecord(
                    region=replica.region, repository=image.repository, reference=image.reference,
                    digest=image.digest, pushed_at=image.pushed_at, status=ImageReplicationStatus.FAILED,
                    failure_reason=f"The replica in {replica.region.name} is {replica.status}; "
                                   f"it is not receiving copies.",
                    source_region=origin.region,
                ) for _, image in wanted]
                continue
            for start in range(0, len(wanted), COPY_JOB_MAX_IMAGES):
                part = wanted[start:start + COPY_JOB_MAX_IMAGES]
                job = _copy_job_carrying(replica=replica, source=origin.region, images=[image for _, image in part])
                job.carried = {event.pk for event, _ in part}
                queued_at = timezone.now()
                records += [image_status.StatusRecord(
                    region=replica.region, repository=image.repository, reference=image.reference,
                    digest=image.digest, pushed_at=image.pushed_at, status=ImageReplicationStatus.PENDING,
                    source_region=origin.region, job=job, event_received_at=event.received_at, queued_at=queued_at,
                ) for event, image in part]
                jobs.append(job)
        image_status.image_status_record_many(registry=registry, records=records)
        if origin.status in FAN_OUT_STATUSES and origin.region.endpoint:
            jobs.extend(_winner_reasserted(origin=origin, event=event) for event in overwritten)
    return [job for job in jobs if job is not None]


def _copy_job_carrying(*, replica: Replica, source: Region, images: list[ImageToCopy]) -> ReplicationJob:
    """A copy job into replica's region carrying images: the newest queued one from the same source, joined while
    no worker has taken it and it has room, else a new one. A burst's pushes then ride a few jobs per region
    instead of one per fan-out run, each paying its own start (tokens, connections, status writes) in a queue.
    """
    queued = (ReplicationJob.objects.select_for_update()
              .filter(replica=replica, kind=JobKind.EVENT_COPY, state=JobState.QUEUED, attempts=0)
              .order_by("-pk").first())
    if queued is not None:
        spec = spec_load(queued.kind, queued.spec)
        if (spec.source_region == source.name and spec.origin == ReplicationOrigin.EVENT
                and spec.reconcile_run is None and len(spec.images) + len(images) <= COPY_JOB_MAX_IMAGES):
            # Only the new images are dumped and checked: the stored ones were when the job was recorded, and
            # the whole spec, dumped and checked again at every join, cost more than the rest of a fan-out run.
            added = spec_dump(dataclasses.replace(spec, images=tuple(images)))["images"]
            joined = {**queued.spec, "images": [*queued.spec["images"], *added]}
            # Conditional: a worker that took it meanwhile runs what it read, and these get a job of their own.
            if ReplicationJob.objects.filter(pk=queued.pk, state=JobState.QUEUED, attempts=0).update(spec=joined):
                queued.spec = joined
                return queued
    return job_record(spec=EventCopySpec(source_region=source.name, images=tuple(images)), replica=replica)


def _winner_reasserted(*, origin: Replica, event: RegistryEvent) -> ReplicationJob | None:
    """Copy the tag's winning push (the latest user push) from its region into `origin`, whose own older-stamped
    push of the same tag may now stand there. Reconcile would not see it: our records say `origin` holds the
    winner. Nothing when the winner was pushed in `origin` itself (one clock) or a later delete removed it."""
    winner = (RegistryEvent.objects.filter(registry_id=event.registry_id, repository=event.repository, tag=event.tag,
                                           action=RegistryEventAction.PUSH, from_replication=False)
              .select_related("region").order_by("-timestamp", "-pk").first())
    if winner is None or winner.digest == event.digest or winner.region_id == origin.region_id:
        return None
    if event_superseded(registry_id=event.registry_id, repository=winner.repository, tag=winner.tag,
                        digest=winner.digest, pushed_at=winner.timestamp):
        return None
    image = ImageToCopy(repository=winner.repository, reference=winner.tag, digest=winner.digest,
                        pushed_at=winner.timestamp)
    job = job_record(spec=EventCopySpec(source_region=winner.region.name, images=(image,)), replica=origin)
    job.carried = set()
    # Not complete there any more until the copy has put the winner back.
    ImageReplication.objects.filter(registry_id=event.registry_id, region_id=origin.region_id,
                                    repository=winner.repository, reference=winner.tag).update(
        status=ImageReplicationStatus.PENDING, completed_at=None, source_region=winner.region, job=job,
        digest=winner.digest, pushed_at=winner.timestamp, updated_at=timezone.now())
    log.info("A push of %s:%s in %s is stamped before the winning push from %s: copying the winner back",
             event.repository, event.tag, origin.region.name, winner.region.name)
    return job


def event_fan_out_delete(*, event: RegistryEvent) -> list[ReplicationJob]:
    """Delete the manifest in every other replica's region; its status rows go with it. Nothing when the digest
    was pushed again after the delete (its event may come first: deletes and image manifests are notified in
    separate lanes, dataplane.notification_endpoints, and other regions' registries in their own)."""
    registry = event.registry
    pushed_again = RegistryEvent.objects.filter(
        registry_id=registry.pk, repository=event.repository, digest=event.digest, action=RegistryEventAction.PUSH,
        from_replication=False, timestamp__gt=event.timestamp)
    if pushed_again.exists():
        return []
    replicas = list(Replica.objects.filter(registry=registry).select_related("region", "registry"))
    if not any(r.region_id == event.region_id for r in replicas):
        return []
    jobs = []
    with transaction.atomic():
        image_status.image_status_forget(registry=registry, repository=event.repository, digest=event.digest)
        for replica in replicas:
            if replica.region_id == event.region_id or not replica.region.endpoint:
                continue
            if replica.status in (ReplicaStatus.DELETING, ReplicaStatus.FAILED):
                continue
            jobs.append(job_record(spec=EventDeleteSpec(
                source_region=event.region.name,
                images=(ImageToDelete(repository=event.repository, digest=event.digest),)), replica=replica))
    return jobs


# ---- the bodies of event copy and event delete jobs (replication/jobs/kinds/) -----------------


def delete_for_event(job: ReplicationJob, spec: EventDeleteSpec) -> None:
    """Delete the manifests in spec from the job's region."""
    with region_client(job.region, repositories=[image.repository for image in spec.images],
                       actions=("pull", "delete")) as target:
        for image in spec.images:
            delete_image(target, image.repository, image.digest)
    image_status.replica_refresh_degraded(replica_id=job.replica_id)


def copy_for_event(job: ReplicationJob, spec: EventCopySpec, *, on_progress) -> CopyResult:
    """Copy the images in spec from its source region into the job's region, unless a later push won.

    Each image is finished (tagged, marked complete) as soon as the engine has written its manifest, while the
    rest of the batch is still copying: a burst's first pushes do not wait for its last.
    """
    wanted = []
    for image in spec.images:
        tag = "" if is_digest(image.reference) else image.reference
        if event_superseded(registry_id=job.registry_id, repository=image.repository, tag=tag,
                            digest=image.digest, pushed_at=image.pushed_at):
            continue
        wanted.append((image, tag))
    source = Region.objects.get(name=spec.source_region)
    repositories = [image.repository for image, _ in wanted]
    image_status.image_status_copy_stage(job_id=job.pk, started=True)
    with region_client(source, repositories=repositories) as source_client, region_client(
            job.region, repositories=repositories, actions=("pull", "push")) as target:
        # The slow part (blobs, child manifests) runs without any lock; a tagged image's own manifest is handed
        # over, not written, and only ever written below under its tag, after the last check that no later push
        # has claimed it (one PUT, and no untagged copy left behind by a push that lost). Untagged: by digest.
        waiting: dict[tuple[str, str], list] = {}
        for image, tag in wanted:
            waiting.setdefault((image.repository, image.digest), []).append((image, tag))
        arrived: queue.SimpleQueue = queue.SimpleQueue()

        def on_copied(copied: CopiedImage, manifest: Manifest) -> None:  # a transfer thread: only a hand-over
            if (copied.repository, copied.digest) in waiting:
                arrived.put(((copied.repository, copied.digest), manifest))

        def finish(key, manifest: Manifest | None = None) -> None:
            images = waiting.pop(key, [])
            if images:
                image_status.image_status_copy_stage(job_id=job.pk, finished=True, repository=key[0], digest=key[1])
            for image, tag in images:
                _finish_image(job, target, image, tag, manifest)

        images = [ImageRef(image.repository, image.digest, hand_over=bool(tag)) for image, tag in wanted]
        engine = _EngineThread(f"copy-{job.pk}", arrived, lambda: copy_images(
            source_client, target, images,
            concurrency=settings.REPLICATION_CONCURRENCY, on_progress=on_progress, on_copied=on_copied))
        try:
            while (handed := arrived.get()) is not _ENGINE_DONE:
                finish(*handed)
        finally:
            engine.join()  # never leave it copying with the clients closed under it
        result = engine.outcome()
        # Already in the region (the engine wrote nothing for them): tagged and marked here.
        for key in list(waiting):
            finish(key)
    image_status.replica_refresh_degraded(replica_id=job.replica_id)
    return result


_ENGINE_DONE = object()  # the engine thread's last word on the hand-over queue


class _EngineThread(threading.Thread):
    """Runs the copy engine beside the job's thread, which keeps the database (one connection, as before), and
    says on `arrived` when it has ended, after every manifest it handed over."""

    def __init__(self, name: str, arrived: queue.SimpleQueue, copy):
        super().__init__(name=name, daemon=True)
        self._context = contextvars.copy_context()  # the job's log context (request id, job id)
        self._arrived = arrived
        self._copy = copy
        self._result = self._error = None
        self.start()

    def run(self) -> None:
        try:
            self._result = self._context.run(self._copy)
        except BaseException as exc:  # noqa: BLE001 - raised again in the job's thread
            self._error = exc
        finally:
            self._arrived.put(_ENGINE_DONE)

    def outcome(self) -> CopyResult:
        if self._error is not None:
            raise self._error
        return self._result


def _finish_image(job, target, image: ImageToCopy, tag: str, manifest: Manifest | None) -> None:
    if tag:
        _put_tag_unless_superseded(job, target, image, tag, manifest)
    else:
        image_status.image_status_mark_complete(
            registry_id=job.registry_id, region=job.region, repository=image.repository,
            reference=image.reference, digest=image.digest)


def _put_tag_unless_superseded(job, target, image: ImageToCopy, tag: str, manifest: Manifest | None) -> None:
    repository, digest, pushed_at = image.repository, image.digest, image.pushed_at
    # Two copies of the same tag into this region cannot interleave check and PUT.
    with _tag_write_lock(job, repository, tag):
        if event_superseded(registry_id=job.registry_id, repository=repository, tag=tag, digest=digest,
                            pushed_at=pushed_at):
            return
        tag_manifest(target, repository, tag, digest, manifest=manifest)  # with the bytes in hand: one PUT
        image_status.image_status_mark_complete(registry_id=job.registry_id, region=job.region,
                                                repository=repository, reference=tag, digest=digest)


TAG_LOCK_STRIPES = 256


@contextmanager
def _tag_write_lock(job, repository: str, tag: str):
    """Held while a copy checks and writes one tag in the job's region.

    PostgreSQL: the tag's status row, locked for the transaction. SQLite has one lock for the whole database,
    and held across the registry requests it stopped every other write meanwhile (a burst's intake waited
    seconds); one SQLite file is one host's, so a file lock (one of TAG_LOCK_STRIPES, by the tag's hash)
    serializes the same copies across the workers' processes.
    """
    if connection.vendor != "sqlite":
        with transaction.atomic():
            list(ImageReplication.objects.select_for_update().filter(
                registry_id=job.registry_id, region_id=job.region_id, repository=repository, reference=tag))
            yield
        return
    key = hashlib.sha256(f"{job.registry_id}\0{job.region_id}\0{repository}\0{tag}".encode()).digest()
    folder = Path(settings.VAR_DIR) / "tag-locks"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder / f"{int.from_bytes(key[:4], 'big') % TAG_LOCK_STRIPES}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
