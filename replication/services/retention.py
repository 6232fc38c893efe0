"""Retention: history older than its RETENTION_*_DAYS setting is pruned, except what something still reads.

Kept whatever their age:
- events not processed yet; the latest user push of each tag (the global endpoint's routing, `routing._tag_states`,
  and reconcile decide a tag's digest by it) and a user delete newer than such a push of its digest (it says
  that push's digest is gone);
- jobs not finished, jobs an image's status row points at (the page tells a copy from an initial sync by it), and
  each replica's first successful full sync (its initial sync time);
- webhook deliveries still pending;
- the latest reconcile run of each registry;
- the latest scrub run of each replica (its row shows it; the schedule dates the next one from it) and unfinished
  ones (scrub runs go with RETENTION_JOBS_DAYS).

Rows go in chunks, each chunk its own short transaction (SQLite has one writer: the intake keeps answering).
`history_prune` is the periodic task's body (beat: every RETENTION_INTERVAL_SECONDS).
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from ..choices import WHOLE_REPLICA_JOB_KINDS, JobState, RegistryEventAction, WebhookDeliveryState
from ..models import ImageReplication, ReconcileRun, RegistryEvent, ReplicationJob, ScrubRun, WebhookDelivery

log = logging.getLogger(__name__)

CHUNK = 1000


@dataclass
class PruneResult:
    events: int = 0
    jobs: int = 0
    deliveries: int = 0
    reconcile_runs: int = 0
    scrub_runs: int = 0


def _cutoff(days: float):
    """None when the setting is 0: keep forever."""
    return timezone.now() - timedelta(days=days) if days and days > 0 else None


def _delete_in_chunks(queryset) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return deleted
        queryset.model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def _later_push_of_the_tag():
    user_pushes = RegistryEvent.objects.filter(action=RegistryEventAction.PUSH, from_replication=False)
    return user_pushes.filter(registry_id=OuterRef("registry_id"), repository=OuterRef("repository"),
                              tag=OuterRef("tag")).filter(
        Q(timestamp__gt=OuterRef("timestamp")) | Q(timestamp=OuterRef("timestamp"), pk__gt=OuterRef("pk")))


def prunable_events(cutoff):
    """Processed events received before cutoff that nothing reads any more."""
    old = RegistryEvent.objects.filter(processed_at__isnull=False, received_at__lt=cutoff)
    user = Q(from_replication=False)
    tagged_push = user & Q(action=RegistryEventAction.PUSH) & ~Q(tag="")
    # The latest push of each tag: a push with no later user push of the same tag.
    latest_pushes = RegistryEvent.objects.filter(action=RegistryEventAction.PUSH, from_replication=False).exclude(
        tag="").exclude(Exists(_later_push_of_the_tag()))
    covers_a_latest_push = latest_pushes.filter(
        registry_id=OuterRef("registry_id"), repository=OuterRef("repository"), digest=OuterRef("digest"),
        timestamp__lt=OuterRef("timestamp"))
    user_delete = user & Q(action=RegistryEventAction.DELETE)
    return old.filter(
        Q(from_replication=True)
        | (user & Q(action=RegistryEventAction.PUSH, tag=""))  # untagged: nothing routes by them
        | (tagged_push & Q(Exists(_later_push_of_the_tag())))  # a later push of the tag decides it now
        | (user_delete & ~Q(Exists(covers_a_latest_push)))
    )


def prunable_jobs(cutoff):
    finished = ReplicationJob.objects.filter(
        state__in=[JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED], finished_at__lt=cutoff)
    first_syncs = (ReplicationJob.objects.filter(kind__in=WHOLE_REPLICA_JOB_KINDS, state=JobState.SUCCEEDED,
                                                 replica__isnull=False)
                   .values("replica_id").annotate(first=Min("id")).values("first"))
    return finished.exclude(Exists(ImageReplication.objects.filter(job_id=OuterRef("pk")))).exclude(
        pk__in=first_syncs)


def prunable_deliveries(cutoff):
    return WebhookDelivery.objects.filter(
        state__in=[WebhookDeliveryState.SUCCEEDED, WebhookDeliveryState.FAILED], created_at__lt=cutoff)


def prunable_reconcile_runs(cutoff):
    later = ReconcileRun.objects.filter(registry_id=OuterRef("registry_id"), started_at__gt=OuterRef("started_at"))
    return ReconcileRun.objects.filter(started_at__lt=cutoff).filter(Exists(later))


def prunable_scrub_runs(cutoff):
    later = ScrubRun.objects.filter(registry_id=OuterRef("registry_id"), region_id=OuterRef("region_id"),
                                    created_at__gt=OuterRef("created_at"))
    return ScrubRun.objects.filter(created_at__lt=cutoff, finished_at__isnull=False).filter(Exists(later))


def history_prune() -> PruneResult:
    """Delete what the retention settings let go (each kind kept forever when its setting is 0)."""
    result = PruneResult()
    if cutoff := _cutoff(settings.RETENTION_EVENTS_DAYS):
        result.events = _delete_in_chunks(prunable_events(cutoff))
    if cutoff := _cutoff(settings.RETENTION_JOBS_DAYS):
        result.jobs = _delete_in_chunks(prunable_jobs(cutoff))
        result.scrub_runs = _delete_in_chunks(prunable_scrub_runs(cutoff))
    if cutoff := _cutoff(settings.RETENTION_DELIVERIES_DAYS):
        result.deliveries = _delete_in_chunks(prunable_deliveries(cutoff))
    if cutoff := _cutoff(settings.RETENTION_RECONCILE_RUNS_DAYS):
        result.reconcile_runs = _delete_in_chunks(prunable_reconcile_runs(cutoff))
    if any(vars(result).values()):
        log.info("Pruned history: %s", vars(result))
    return result
