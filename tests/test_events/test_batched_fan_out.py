"""The batched fan-out: one run takes every pending event, one copy job per replica carries all the pushes,
and the guarantees of one-push-at-a-time still hold (later push wins, deletes propagate, per-image status)."""
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.celery import app as celery_app
from replication.choices import JobKind, JobState
from replication.models import ImageReplication, Region, RegistryEvent, ReplicationJob
from replication.oci.constants import OCI_INDEX, OCI_MANIFEST
from replication.queues import PORTAL_QUEUE
from replication.services import events, image_status

from tests.conftest import fleet_client, purge_broker

from .conftest import BASE_TIME, event, run_queued_jobs
from .test_rules import digest_in, push

pytestmark = pytest.mark.django_db(transaction=True)


def record(region: str, *bodies) -> list[int]:
    """Each event in its own notification, as Distribution sends them; nothing processed yet."""
    ids = []
    for body in bodies:
        events.events_record(region=Region.objects.get(name=region), body={"events": [body]})
        ids.append(RegistryEvent.objects.get(event_id=body["id"]).pk)
    return ids


def test_one_run_fans_a_burst_out_as_one_job_per_replica_and_every_image_arrives(geo, deployed_regions, api_client):
    pushed = push(deployed_regions["westus"], geo, 51, repositories=3, tags_per_repo=2, multi_platform_repositories=1)
    pushed = {key: digest for key, digest in pushed.items() if key[1] != "latest"}
    ids = record("westus", *[event(repository=repository, digest=digest, tag=tag,
                                   media_type=OCI_INDEX if repository.endswith("app00") else OCI_MANIFEST)
                             for (repository, tag), digest in pushed.items()])

    events.events_process(event_ids=ids[:1])  # the first notification's task drains the rest
    assert not RegistryEvent.objects.filter(processed_at__isnull=True).exists()
    jobs = list(ReplicationJob.objects.filter(registry=geo))
    assert sorted(job.region.name for job in jobs) == ["canadacentral", "eastus"]
    assert all(job.kind == JobKind.EVENT_COPY and len(job.spec["images"]) == len(pushed) for job in jobs)
    events.events_process(event_ids=ids)  # the other notifications' tasks: nothing left to do
    assert ReplicationJob.objects.filter(registry=geo).count() == 2

    assert {job.state for job in run_queued_jobs()} == {JobState.SUCCEEDED}
    for (repository, tag), digest in pushed.items():
        for name in ("eastus", "canadacentral"):
            assert digest_in(deployed_regions[name], repository, tag) == digest
        body = api_client.get(f"/api/v1/registries/{geo.name}/replication-status/",
                              {"repository": repository, "reference": tag}).json()
        assert {r["region"]: r["status"] for r in body["regions"]} == {
            "canadacentral": "complete", "eastus": "complete", "westus": "complete"}


def test_in_one_batch_the_later_push_wins_and_a_delete_propagates(geo, deployed_regions):
    home = deployed_regions["westus"]
    (gone_repository, gone_tag), gone = next(iter(push(home, geo, 52).items()))
    run_after = record("westus", event(repository=gone_repository, digest=gone, tag=gone_tag))
    events.events_process(event_ids=run_after)
    run_queued_jobs()
    assert digest_in(deployed_regions["eastus"], gone_repository, gone) == gone

    repository = f"{geo.name}/app00"
    older = push(home, geo, 53, repositories=1)[(repository, "1.0")]
    newer = push(home, geo, 54, repositories=1)[(repository, "1.0")]
    with fleet_client(home.endpoint, prefix=geo.repository_prefix) as client:
        for digest in (older, newer):  # the same tag pushed twice in the home region, newer last
            manifest = client.get_manifest(repository, digest)
            client.put_manifest(repository, "stable", manifest.body, manifest.media_type)
        client.delete_manifest(gone_repository, gone)
    at = BASE_TIME + timedelta(days=1)
    ids = record("westus",
                 event(repository=repository, digest=older, tag="stable", at=at),
                 event(repository=repository, digest=newer, tag="stable", at=at + timedelta(seconds=1)),
                 event(action="delete", repository=gone_repository, digest=gone, at=at + timedelta(seconds=2)))
    events.events_process(event_ids=ids)

    copies = ReplicationJob.objects.filter(registry=geo, kind=JobKind.EVENT_COPY, state=JobState.QUEUED)
    assert [[image["digest"] for image in job.spec["images"]] for job in copies] == [[newer], [newer]]
    assert ReplicationJob.objects.filter(registry=geo, kind=JobKind.EVENT_DELETE, state=JobState.QUEUED).count() == 2
    run_queued_jobs()
    for name in ("westus", "eastus", "canadacentral"):
        assert digest_in(deployed_regions[name], repository, "stable") == newer, name
        assert digest_in(deployed_regions[name], gone_repository, gone) is None, name
    status = image_status.image_replication_status(registry=geo, repository=repository, reference="stable")
    assert status["digest"] == newer and {r["status"] for r in status["regions"]} == {"complete"}
    assert not ImageReplication.objects.filter(registry=geo, digest=gone).exists()


def test_a_bad_event_holds_back_only_itself(geo, deployed_regions, monkeypatch):
    (repository, tag), digest = next(iter(push(deployed_regions["westus"], geo, 55).items()))
    bad = f"{geo.name}/broken"
    ids = record("westus", event(repository=repository, digest=digest, tag=tag),
                 event(repository=bad, digest="sha256:" + "c" * 64, tag="x"))
    original = events.event_fan_out_pushes

    def failing_for_the_bad_one(*, events):
        if any(e.repository == bad for e in events):
            raise RuntimeError("boom")
        return original(events=events)

    monkeypatch.setattr(events, "event_fan_out_pushes", failing_for_the_bad_one)
    with pytest.raises(RuntimeError, match="boom"):
        events.events_process(event_ids=ids[:1])
    assert list(RegistryEvent.objects.filter(processed_at__isnull=True).values_list("repository", flat=True)) == [bad]
    jobs = ReplicationJob.objects.filter(registry=geo)
    assert jobs.count() == 2 and all(job.spec["images"][0]["digest"] == digest for job in jobs)


def portal_queue_size() -> int:
    with celery_app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(queue=PORTAL_QUEUE, passive=True).message_count


def test_a_burst_of_notifications_queues_one_fan_out_run_which_takes_them_all(geo, deployed_regions):
    purge_broker([PORTAL_QUEUE])
    pushed = push(deployed_regions["westus"], geo, 56, repositories=3, tags_per_repo=1)
    ids = record("westus", *[event(repository=repository, digest=digest, tag=tag)
                             for (repository, tag), digest in pushed.items()])

    assert portal_queue_size() == 1  # the first notification's; the others found it due
    events.events_process(event_ids=ids[:1])
    assert not RegistryEvent.objects.filter(processed_at__isnull=True).exists()
    assert {len(job.spec["images"]) for job in ReplicationJob.objects.filter(registry=geo)} == {len(pushed)}

    (repository, tag), digest = next(iter(push(deployed_regions["westus"], geo, 57).items()))
    record("westus", event(repository=repository, digest=digest, tag=tag))
    assert portal_queue_size() == 2  # nothing was pending: a run of its own
    purge_broker([PORTAL_QUEUE])


def test_two_notifications_committed_side_by_side_queue_one_run(geo, deployed_regions, monkeypatch):
    """Two lanes of a registry (or two regions) answered at once: both events are committed before either intake
    asks whether a run is due, so each finds the other pending. The older one's intake queues the run."""
    purge_broker([PORTAL_QUEUE])
    pushed = push(deployed_regions["westus"], geo, 61, repositories=2, tags_per_repo=1)
    asked = []
    monkeypatch.setattr(events, "fan_out_request", lambda *, event_ids: asked.append(event_ids))
    record("westus", *[event(repository=repository, digest=digest, tag=tag)
                       for (repository, tag), digest in pushed.items()])
    monkeypatch.undo()
    for event_ids in reversed(asked):  # the newer one asks first: it must not count on the older one's intake
        events.fan_out_request(event_ids=event_ids)
    assert portal_queue_size() == 1
    purge_broker([PORTAL_QUEUE])


def test_an_event_recorded_while_a_run_works_is_taken_by_the_run_it_queues(geo, deployed_regions, monkeypatch):
    pushed = iter(push(deployed_regions["westus"], geo, 58, repositories=2, tags_per_repo=1).items())
    (first_repository, first_tag), first = next(pushed)
    (late_repository, late_tag), late = next(pushed)
    ids = record("westus", event(repository=first_repository, digest=first, tag=first_tag))
    purge_broker([PORTAL_QUEUE])
    original = events.event_fan_out_pushes
    late_ids = []

    def meanwhile_another_notification(*, events):
        if not late_ids:
            late_ids.extend(record("westus", event(repository=late_repository, digest=late, tag=late_tag)))
        return original(events=events)

    monkeypatch.setattr(events, "event_fan_out_pushes", meanwhile_another_notification)
    # Its intake, on a connection of its own, sees this run's event still pending (the claim is not committed):
    # it queues no run of its own.
    monkeypatch.setattr(events, "fan_out_request", lambda *, event_ids: None)
    events.events_process(event_ids=ids)
    assert portal_queue_size() == 1  # the run queued the next one: nothing else would take the late event
    monkeypatch.undo()
    events.events_process(event_ids=[])
    assert RegistryEvent.objects.get(pk=late_ids[0]).processed_at is not None
    assert run_queued_jobs() and all(
        digest_in(deployed_regions[name], late_repository, late_tag) == late for name in ("eastus", "canadacentral"))
    events.events_process(event_ids=[])
    assert portal_queue_size() == 1  # nothing pending: no further run
    purge_broker([PORTAL_QUEUE])


def test_a_pending_event_whose_run_failed_long_ago_does_not_hold_back_a_new_run(geo, deployed_regions):
    purge_broker([PORTAL_QUEUE])
    stuck = record("westus", event(repository=f"{geo.name}/broken", digest="sha256:" + "d" * 64, tag="x"))
    purge_broker([PORTAL_QUEUE])  # its run failed and waits for a retry
    RegistryEvent.objects.filter(pk__in=stuck).update(
        received_at=timezone.now() - timedelta(seconds=events.FAN_OUT_COALESCE_SECONDS + 1))
    (repository, tag), digest = next(iter(push(deployed_regions["westus"], geo, 59).items()))
    record("westus", event(repository=repository, digest=digest, tag=tag))
    assert portal_queue_size() == 1
    purge_broker([PORTAL_QUEUE])


def test_an_image_of_a_batch_is_tagged_and_complete_before_the_rest_of_its_batch_has_copied(geo, deployed_regions,
                                                                                           monkeypatch):
    pushed = push(deployed_regions["westus"], geo, 60, repositories=2, tags_per_repo=1)
    (first_repository, first_tag), first = sorted(pushed.items())[0]
    events.events_process(event_ids=record("westus", *[event(repository=repository, digest=digest, tag=tag)
                                                        for (repository, tag), digest in sorted(pushed.items())]))
    job = ReplicationJob.objects.get(registry=geo, region__name="eastus")
    first_complete = threading.Event()
    original_mark = image_status.image_status_mark_complete
    original_copy = events.copy_images

    def mark_complete(**kwargs):
        arrived = original_mark(**kwargs)
        if kwargs["repository"] == first_repository:
            first_complete.set()
        return arrived

    def first_then_the_rest(source, target, images, **options):
        """The engine copies the first image, then holds the rest until the job's thread has finished it."""
        head = [image for image in images if image.repository == first_repository]
        original_copy(source, target, head, **options)
        seen_before_the_rest.append(first_complete.wait(timeout=20))
        return original_copy(source, target, [image for image in images if image not in head], **options)

    seen_before_the_rest = []
    monkeypatch.setattr(image_status, "image_status_mark_complete", mark_complete)
    monkeypatch.setattr(events, "copy_images", first_then_the_rest)
    assert [j.state for j in run_queued_jobs(order=[job])] == [JobState.SUCCEEDED]
    assert seen_before_the_rest == [True]
    assert digest_in(deployed_regions["eastus"], first_repository, first_tag) == first
    rows = ImageReplication.objects.filter(registry=geo, region__name="eastus", job=job)
    assert rows.count() == len(pushed) and {row.status for row in rows} == {"complete"}
    assert all(row.copy_started_at <= row.copy_finished_at <= row.completed_at for row in rows)


def test_a_later_run_joins_the_queued_copy_job_but_never_one_a_worker_has_taken(geo, deployed_regions):
    pushed = sorted(push(deployed_regions["westus"], geo, 61, repositories=3, tags_per_repo=1).items())
    pushed = [(key, digest) for key, digest in pushed if key[1] != "latest"]

    def fan_out(index: int) -> None:  # a notification, then its fan-out run
        (repository, tag), digest = pushed[index]
        events.events_process(event_ids=record("westus", event(repository=repository, digest=digest, tag=tag)))

    fan_out(0)
    fan_out(1)  # no worker has taken the first run's jobs: the second run's push rides them
    jobs = list(ReplicationJob.objects.filter(registry=geo).order_by("id"))
    assert sorted(job.region.name for job in jobs) == ["canadacentral", "eastus"]
    assert all([image["digest"] for image in job.spec["images"]] == [pushed[0][1], pushed[1][1]] for job in jobs)
    rows = ImageReplication.objects.filter(registry=geo, digest=pushed[1][1]).exclude(region__name="westus")
    assert {row.job_id for row in rows} == {job.pk for job in jobs}

    eastus = next(job for job in jobs if job.region.name == "eastus")
    ReplicationJob.objects.filter(pk=eastus.pk).update(state=JobState.RUNNING, attempts=1)  # a worker took it
    fan_out(2)
    eastus_jobs = ReplicationJob.objects.filter(registry=geo, region__name="eastus").order_by("id")
    assert [len(job.spec["images"]) for job in eastus_jobs] == [2, 1]  # the taken job ran what it read
    canada = ReplicationJob.objects.get(registry=geo, region__name="canadacentral")
    assert len(canada.spec["images"]) == 3

    ReplicationJob.objects.filter(pk=eastus.pk).update(state=JobState.QUEUED)
    assert {job.state for job in run_queued_jobs()} == {JobState.SUCCEEDED}
    for (repository, tag), digest in pushed:
        for name in ("eastus", "canadacentral"):
            assert digest_in(deployed_regions[name], repository, tag) == digest
    assert set(ImageReplication.objects.filter(registry=geo, reference__in=[t for (_, t), _ in pushed])
               .values_list("status", flat=True)) == {"complete"}
