"""Retention prunes old history and keeps what is still read: the latest push of each tag (routing), the deletes
that undo such a push, unfinished work, jobs a status row points at, the first full sync, the latest run."""
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from replication.choices import JobKind, JobState, WebhookDeliveryState
from replication.models import (
    ImageReplication,
    ReconcileRun,
    Region,
    RegistryEvent,
    Replica,
    ReplicationJob,
    Webhook,
    WebhookDelivery,
)
from replication.services import retention, routing
from replication.tasks import prune_history

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=60)


def digest(char: str) -> str:
    return "sha256:" + char * 64


def recorded(geo, *, action="push", tag="", digest_="", at, from_replication=False, processed=True, old=True):
    row = RegistryEvent.objects.create(
        region=Region.objects.get(name="westus"), registry=geo, event_id=uuid.uuid4().hex, action=action,
        repository=f"{geo.name}/app", tag=tag, digest=digest_, timestamp=at, from_replication=from_replication,
        processed_at=timezone.now() if processed else None)
    if old:
        RegistryEvent.objects.filter(pk=row.pk).update(received_at=OLD)
    return row


def test_old_events_go_except_the_latest_push_of_each_tag_and_the_deletes_that_undo_it(geo):
    older = recorded(geo, tag="1.0", digest_=digest("a"), at=OLD)
    latest = recorded(geo, tag="1.0", digest_=digest("b"), at=OLD + timedelta(seconds=1))
    other_tag = recorded(geo, tag="2.0", digest_=digest("c"), at=OLD + timedelta(seconds=2))
    gone = recorded(geo, tag="3.0", digest_=digest("d"), at=OLD + timedelta(seconds=3))
    undoes_a_latest_push = recorded(geo, action="delete", digest_=digest("d"), at=OLD + timedelta(seconds=4))
    undoes_an_older_push = recorded(geo, action="delete", digest_=digest("a"), at=OLD + timedelta(seconds=5))
    untagged = recorded(geo, digest_=digest("e"), at=OLD)
    our_copy = recorded(geo, tag="1.0", digest_=digest("b"), at=OLD, from_replication=True)
    pending = recorded(geo, tag="4.0", digest_=digest("f"), at=OLD, processed=False)
    recent = recorded(geo, tag="5.0", digest_=digest("a"), at=OLD, old=False)
    recent_replaced = recorded(geo, tag="5.0", digest_=digest("b"), at=OLD + timedelta(seconds=9), old=False)
    heads = {tag: routing.tag_latest_push(registry=geo, repository=f"{geo.name}/app", tag=tag)
             for tag in ("1.0", "2.0", "3.0", "5.0")}

    result = retention.history_prune()

    kept = set(RegistryEvent.objects.values_list("pk", flat=True))
    assert kept == {latest.pk, other_tag.pk, gone.pk, undoes_a_latest_push.pk, pending.pk, recent.pk,
                    recent_replaced.pk}
    assert {older.pk, undoes_an_older_push.pk, untagged.pk, our_copy.pk}.isdisjoint(kept)
    assert result.events == 4
    assert heads == {tag: routing.tag_latest_push(registry=geo, repository=f"{geo.name}/app", tag=tag)
                     for tag in heads}, "routing decides every tag as before"
    assert heads["3.0"] is None and heads["1.0"].digest == digest("b")


def test_finished_jobs_go_unless_a_status_row_or_the_first_full_sync_needs_them(geo):
    replica = Replica.objects.get(registry=geo, region__name="eastus")

    def job(kind=JobKind.EVENT_COPY, state=JobState.SUCCEEDED, finished=OLD):
        return ReplicationJob.objects.create(replica=replica, registry=geo, region=replica.region, kind=kind,
                                             state=state, finished_at=finished)

    first_sync, later_resync = job(JobKind.INITIAL_SYNC), job(JobKind.RESYNC)
    unreferenced, failed, referenced = job(), job(state=JobState.FAILED), job()
    running, recent = job(state=JobState.RUNNING, finished=None), job(finished=timezone.now())
    ImageReplication.objects.create(registry=geo, region=replica.region, repository=f"{geo.name}/app",
                                    reference="1.0", digest=digest("a"), pushed_at=OLD, job=referenced)

    assert retention.history_prune().jobs == 3
    assert set(ReplicationJob.objects.values_list("pk", flat=True)) == {first_sync.pk, referenced.pk, running.pk,
                                                                         recent.pk}
    assert {later_resync.pk, unreferenced.pk, failed.pk}.isdisjoint(ReplicationJob.objects.values_list("pk", flat=True))


def test_old_deliveries_and_reconcile_runs_go_but_pending_ones_and_the_latest_run_stay(geo):
    webhook = Webhook.objects.create(registry=geo, name="hook", region=Region.objects.get(name="westus"),
                                     service_uri="https://example.com/hook", actions=["push"], secret="s")

    def delivery(state, created=OLD):
        row = WebhookDelivery.objects.create(webhook=webhook, event_id=uuid.uuid4(), action="push", state=state,
                                             request_body={})
        WebhookDelivery.objects.filter(pk=row.pk).update(created_at=created)
        return row.pk

    sent, failed, waiting = (delivery(s) for s in (WebhookDeliveryState.SUCCEEDED, WebhookDeliveryState.FAILED,
                                                   WebhookDeliveryState.PENDING))
    fresh = delivery(WebhookDeliveryState.SUCCEEDED, created=timezone.now())
    runs = [ReconcileRun.objects.create(registry=geo).pk for _ in range(3)]
    ReconcileRun.objects.update(started_at=OLD)
    ReconcileRun.objects.filter(pk=runs[-1]).update(started_at=OLD + timedelta(seconds=1))

    prune_history.apply()  # the beat task runs the service
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {waiting, fresh}
    assert {sent, failed}.isdisjoint(WebhookDelivery.objects.values_list("pk", flat=True))
    assert list(ReconcileRun.objects.values_list("pk", flat=True)) == [runs[-1]]
    assert vars(retention.history_prune()) == {"events": 0, "jobs": 0, "deliveries": 0, "reconcile_runs": 0,
                                               "scrub_runs": 0}


def test_zero_keeps_everything_and_beat_runs_the_task(geo, settings):
    settings.RETENTION_EVENTS_DAYS = 0
    recorded(geo, tag="1.0", digest_=digest("a"), at=OLD)
    recorded(geo, tag="1.0", digest_=digest("b"), at=OLD + timedelta(seconds=1))
    assert retention.history_prune().events == 0 and RegistryEvent.objects.count() == 2
    entry = django_settings.CELERY_BEAT_SCHEDULE["prune-history"]
    assert entry["task"] == prune_history.name and entry["options"]["queue"] == "portal"
