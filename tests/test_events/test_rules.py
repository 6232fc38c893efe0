"""Fan-out, loops, deletes, the later push winning, per-image status, degraded replicas and reconcile,
against the session's real registries; jobs run in the test process as the worker would run them."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from replication.choices import JobKind, JobState, ReplicaStatus
from replication.models import (
    ImageReplication,
    ImageReplicationStatus,
    ReconcileRun,
    Region,
    RegistryEvent,
    Replica,
    ReplicationJob,
)
from replication.oci.constants import OCI_INDEX
from replication.oci.corpus import build_corpus, push_corpus
from replication.services import events, image_status, reconcile

from tests.conftest import fleet_client

from .conftest import BASE_TIME, engine_event, event, run_queued_jobs

pytestmark = pytest.mark.django_db(transaction=True)  # jobs write from the engine's progress thread too


def receive(region: str, *bodies) -> list[RegistryEvent]:
    """What the intake and the portal-queue task do, in the test's process."""
    before = set(RegistryEvent.objects.values_list("pk", flat=True))
    events.events_record(region=Region.objects.get(name=region), body={"events": list(bodies)})
    new = list(RegistryEvent.objects.exclude(pk__in=before).values_list("pk", flat=True))
    events.events_process(event_ids=new)
    return list(RegistryEvent.objects.filter(pk__in=new))


def push(region: Region, registry, seed: int, **corpus) -> dict[tuple[str, str], str]:
    options = {"repositories": 1, "tags_per_repo": 1, "multi_platform_repositories": 0, **corpus}
    with fleet_client(region.endpoint, prefix=registry.repository_prefix) as client:
        return push_corpus(client, build_corpus(seed, **options), registry.repository_prefix)


def digest_in(region: Region, repository: str, reference: str) -> str | None:
    with fleet_client(region.endpoint, prefix=repository.split("/")[0] + "/") as client:
        descriptor = client.head_manifest(repository, reference)
    return descriptor.digest if descriptor else None


def test_a_push_queues_one_copy_per_other_replica_and_each_arrives(geo, deployed_regions, api_client):
    Replica.objects.create(registry=geo, region=deployed_regions["westeurope"], status=ReplicaStatus.FAILED,
                           status_message="Initial sync failed.")
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 1).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag))

    jobs = ReplicationJob.objects.filter(registry=geo)
    assert sorted(j.region.name for j in jobs) == ["canadacentral", "westus"]
    assert all(j.kind == JobKind.EVENT_COPY and j.spec["source_region"] == "eastus" for j in jobs)
    states = {r.region.name: r.status for r in ImageReplication.objects.filter(registry=geo)}
    assert states == {"eastus": "complete", "westus": "pending", "canadacentral": "pending", "westeurope": "failed"}

    assert {j.state for j in run_queued_jobs()} == {JobState.SUCCEEDED}
    for name in ("westus", "canadacentral"):
        assert digest_in(deployed_regions[name], repository, tag) == digest
    body = api_client.get(f"/api/v1/registries/{geo.name}/replication-status/",
                          {"repository": repository, "reference": tag}).json()
    assert body["repository"] == repository and body["digest"] == digest
    by_region = {r["region"]: r for r in body["regions"]}
    assert list(by_region) == ["canadacentral", "eastus", "westeurope", "westus"]
    assert {n: r["status"] for n, r in by_region.items()} == {
        "canadacentral": "complete", "eastus": "complete", "westeurope": "failed", "westus": "complete"}
    assert by_region["westus"]["completed_at"] and by_region["westus"]["lag_seconds"] >= 0
    assert "failed" in by_region["westeurope"]["failure_reason"]
    assert Replica.objects.get(registry=geo, region__name="westus").status == ReplicaStatus.READY


def test_our_own_copies_only_confirm_the_region_and_never_fan_out(geo, deployed_regions):
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 2).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag))
    ReplicationJob.objects.update(state=JobState.CANCELED)  # as if still on their way
    receive("westus", engine_event(repository=repository, digest=digest, tag=tag))
    assert ReplicationJob.objects.filter(state=JobState.QUEUED).count() == 0, "no new fan-out"
    row = ImageReplication.objects.get(registry=geo, region__name="westus")
    assert row.status == ImageReplicationStatus.COMPLETE and row.completed_at
    assert ImageReplication.objects.get(registry=geo, region__name="canadacentral").status == "pending"


def test_an_index_pushed_in_one_region_arrives_whole(geo, deployed_regions):
    pushed = push(deployed_regions["canadacentral"], geo, 3, multi_platform_repositories=1)
    (repository, tag), digest = next(iter(pushed.items()))
    receive("canadacentral", event(repository=repository, digest=digest, tag=tag, media_type=OCI_INDEX))
    run_queued_jobs()
    with fleet_client(deployed_regions["westus"].endpoint, prefix=geo.repository_prefix) as client:
        index = client.get_manifest(repository, tag)
        assert index.digest == digest
        for child in json.loads(index.body)["manifests"]:
            assert client.head_manifest(repository, child["digest"]) is not None


def test_a_delete_propagates_everywhere(geo, deployed_regions):
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 4).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag))
    run_queued_jobs()
    assert digest_in(deployed_regions["westus"], repository, digest) == digest
    with fleet_client(deployed_regions["eastus"].endpoint, prefix=geo.repository_prefix) as client:
        client.delete_manifest(repository, digest)
    receive("eastus", event(action="delete", repository=repository, digest=digest))
    assert sorted(j.kind for j in ReplicationJob.objects.filter(state=JobState.QUEUED)) == [JobKind.EVENT_DELETE] * 2
    run_queued_jobs()
    for name in ("westus", "canadacentral", "eastus"):
        assert digest_in(deployed_regions[name], repository, digest) is None
    assert not ImageReplication.objects.filter(registry=geo).exists()


def test_a_delete_notified_after_a_later_push_of_its_digest_leaves_the_push_standing(geo, deployed_regions):
    """Deleted, then pushed again: the push's event arrives first (another notification lane), then the delete's."""
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 14).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag, at=BASE_TIME + timedelta(hours=2)))
    run_queued_jobs()
    receive("eastus", event(action="delete", repository=repository, digest=digest, at=BASE_TIME + timedelta(hours=1)))
    assert not ReplicationJob.objects.filter(state=JobState.QUEUED).exists()
    for name in ("westus", "canadacentral", "eastus"):
        assert digest_in(deployed_regions[name], repository, tag) == digest, name
    assert {row.status for row in ImageReplication.objects.filter(registry=geo)} == {ImageReplicationStatus.COMPLETE}


def test_the_later_of_two_pushes_of_a_tag_wins_everywhere(geo, deployed_regions):
    """eastus pushes app:1.0 (older), canadacentral pushes another app:1.0 (newer); the older copy runs last."""
    (repository, tag), older = next(iter(push(deployed_regions["eastus"], geo, 5).items()))
    newer = push(deployed_regions["canadacentral"], geo, 6)[(repository, tag)]
    assert older != newer
    receive("eastus", event(repository=repository, digest=older, tag=tag, at=BASE_TIME + timedelta(hours=1)))
    older_jobs = list(ReplicationJob.objects.filter(state=JobState.QUEUED))
    receive("canadacentral", event(repository=repository, digest=newer, tag=tag, at=BASE_TIME + timedelta(hours=2)))
    newer_jobs = list(ReplicationJob.objects.filter(state=JobState.QUEUED).exclude(pk__in=[j.pk for j in older_jobs]))
    run_queued_jobs(newer_jobs + older_jobs)
    for name in ("westus", "eastus", "canadacentral"):
        assert digest_in(deployed_regions[name], repository, tag) == newer, name
    status = image_status.image_replication_status(registry=geo, repository=repository, reference=tag)
    assert status["digest"] == newer and {r["status"] for r in status["regions"]} == {"complete"}


def test_a_late_event_of_an_older_push_copies_nothing_of_it_and_puts_the_winner_back_in_its_region(
        geo, deployed_regions):
    repository, winner = f"{geo.name}/app", "sha256:" + "b" * 64
    receive("eastus", event(repository=repository, digest=winner, tag="1", at=BASE_TIME + timedelta(hours=2)))
    queued = set(ReplicationJob.objects.values_list("pk", flat=True))
    receive("westus", event(repository=repository, digest="sha256:" + "c" * 64, tag="1", at=BASE_TIME + timedelta(hours=1)))
    (job,) = ReplicationJob.objects.exclude(pk__in=queued)
    assert job.region.name == "westus" and job.spec["source_region"] == "eastus"
    assert [image["digest"] for image in job.spec["images"]] == [winner]


def test_an_older_stamped_push_that_lands_after_the_winner_is_put_right(geo, deployed_regions):
    """A region with a slow clock: its push happens after the winner's copy reached it, but is stamped before
    the winner. Its own tag then holds the loser, which our records (and so reconcile) cannot see."""
    (repository, tag), winner = next(iter(push(deployed_regions["eastus"], geo, 7).items()))
    receive("eastus", event(repository=repository, digest=winner, tag=tag, at=BASE_TIME + timedelta(hours=2)))
    run_queued_jobs(list(ReplicationJob.objects.filter(state=JobState.QUEUED)))
    assert digest_in(deployed_regions["westus"], repository, tag) == winner
    loser = push(deployed_regions["westus"], geo, 8)[(repository, tag)]
    assert loser != winner and digest_in(deployed_regions["westus"], repository, tag) == loser

    receive("westus", event(repository=repository, digest=loser, tag=tag, at=BASE_TIME + timedelta(hours=1)))
    status = image_status.image_replication_status(registry=geo, repository=repository, reference=tag)
    assert {r["region"]: r["status"] for r in status["regions"]}["westus"] == "pending"
    run_queued_jobs(list(ReplicationJob.objects.filter(state=JobState.QUEUED)))
    for name in ("westus", "eastus", "canadacentral"):
        assert digest_in(deployed_regions[name], repository, tag) == winner, name
    status = image_status.image_replication_status(registry=geo, repository=repository, reference=tag)
    assert status["digest"] == winner and {r["status"] for r in status["regions"]} == {"complete"}


def test_status_api_refuses_missing_parameters_and_unknown_names(geo, api_client):
    url = f"/api/v1/registries/{geo.name}/replication-status/"
    assert api_client.get(url).status_code == 400
    assert api_client.get(url, {"repository": "app"}).status_code == 400
    assert api_client.get(url, {"repository": "app", "reference": "nope"}).status_code == 404
    assert api_client.get("/api/v1/registries/nosuchone/replication-status/",
                          {"repository": "app", "reference": "1"}).status_code == 404


def test_a_replica_with_old_pending_work_is_degraded_until_level(geo, deployed_regions, settings):
    settings.REPLICATION_DEGRADED_AFTER_SECONDS = 60
    eastus = deployed_regions["eastus"]
    row = ImageReplication.objects.create(registry=geo, region=eastus, repository=f"{geo.name}/a", reference="1",
                                          digest="sha256:" + "d" * 64, pushed_at=timezone.now() - timedelta(minutes=5))
    image_status.replica_refresh_degraded(registry=geo)
    replica = Replica.objects.get(registry=geo, region=eastus)
    assert replica.status == ReplicaStatus.DEGRADED and "1 image" in replica.status_message
    assert Replica.objects.get(registry=geo, region__name="westus").status == ReplicaStatus.READY

    ImageReplication.objects.filter(pk=row.pk).update(status="complete", completed_at=timezone.now())
    image_status.replica_refresh_degraded(registry=geo)
    assert Replica.objects.get(registry=geo, region=eastus).status == ReplicaStatus.READY


def test_reconcile_copies_the_union_and_resolves_differences(geo, deployed_regions):
    westus, eastus, canada = (deployed_regions[n] for n in ("westus", "eastus", "canadacentral"))
    only_canada = push(canada, geo, 7, repositories=2)  # app00, app01 only there (events lost)
    repository = f"{geo.name}/app00"
    home_digest = push(westus, geo, 8)[(repository, "1.0")]  # no event: the home region's wins
    push(eastus, geo, 9)
    event_repo = f"{geo.name}/app01"
    newest = push(eastus, geo, 10, repositories=2)[(event_repo, "1.0")]
    RegistryEvent.objects.create(region=eastus, registry=geo, event_id="x", action="push", repository=event_repo,
                                 tag="1.0", digest=newest, timestamp=timezone.now())  # recorded: it wins

    run = reconcile.registry_reconcile(registry=geo)
    assert run.finished_at and run.regions_checked == ["canadacentral", "eastus", "westus"]
    assert run.difference_count > 0 and run.jobs_queued
    problems = {(d["repository"], d["tag"], d["region"]): d["problem"] for d in run.differences}
    assert problems[(repository, "1.0", "eastus")] == "different"
    run_queued_jobs()

    for region in (westus, eastus, canada):
        assert digest_in(region, repository, "1.0") == home_digest
        assert digest_in(region, event_repo, "1.0") == newest
        for (repo, tag) in only_canada:
            assert digest_in(region, repo, tag) is not None
    again = reconcile.registry_reconcile(registry=geo)
    assert again.difference_count == 0 and again.jobs_queued == []
    assert ReconcileRun.objects.filter(registry=geo).count() == 2


def test_reconcile_deletes_what_a_lost_delete_left_behind(geo, deployed_regions):
    westus, eastus = deployed_regions["westus"], deployed_regions["eastus"]
    (repository, tag), digest = next(iter(push(eastus, geo, 11).items()))
    push(westus, geo, 11)
    receive("westus", event(action="delete", repository=repository, digest=digest))
    ReplicationJob.objects.filter(state=JobState.QUEUED).update(state=JobState.CANCELED)  # the delete was lost
    with fleet_client(westus.endpoint, prefix=geo.repository_prefix) as client:
        client.delete_manifest(repository, digest)
    run = reconcile.registry_reconcile(registry=geo)
    assert {(d["region"], d["problem"]) for d in run.differences} >= {("eastus", "deleted")}
    run_queued_jobs()
    assert digest_in(eastus, repository, digest) is None and digest_in(westus, repository, tag) is None


def test_an_event_copy_run_again_counts_each_blob_once(geo, deployed_regions):
    """As a worker that died after the blobs, before the manifest, leaves the job: the next attempt finds the blobs
    there, and the row still counts each once (it counted those found there as done, on top of the first
    attempt's)."""
    (repository, tag), digest = next(iter(push(deployed_regions["eastus"], geo, 31).items()))
    receive("eastus", event(repository=repository, digest=digest, tag=tag))
    job = ReplicationJob.objects.get(registry=geo, region__name="westus")
    [first] = run_queued_jobs([job])
    assert first.state == JobState.SUCCEEDED and first.blobs_total > 0
    with fleet_client(deployed_regions["westus"].endpoint, prefix=geo.repository_prefix) as westus:
        westus.delete_manifest(repository, digest)  # the blobs stay
    ReplicationJob.objects.filter(pk=job.pk).update(state=JobState.QUEUED, attempts=1, finished_at=None)
    [again] = run_queued_jobs([job])
    assert again.state == JobState.SUCCEEDED and digest_in(deployed_regions["westus"], repository, tag) == digest
    assert (again.blobs_done, again.blobs_total) == (first.blobs_done, first.blobs_total)
    assert (again.bytes_done, again.bytes_total) == (first.bytes_done, first.bytes_total)
