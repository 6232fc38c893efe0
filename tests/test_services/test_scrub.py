"""Scrub: corrupted blobs and manifests are found, reported and repaired from a healthy region, against real
Distribution registries (bytes flipped in a region's storage directory); jobs run in the test process."""
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from replication import services
from replication.choices import JobKind, JobState, ReplicaStatus, ScrubOutcome
from replication.exceptions import Conflict
from replication.jobs.runner import job_run
from replication.models import Region, Replica, ReplicationJob, ScrubRun
from replication.oci import scrub as engine
from replication.services.scrub import replica_scrub, scrub_due_queue, stored_data_path
from tests.conftest import fleet_client
from tests.scrubbing import flip_bytes, registry, shared_layer  # noqa: F401 (registry: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)  # the progress thread writes on its own connection


def scrub(registry, region="eastus") -> ScrubRun:
    replica = services.replica_get(registry=registry, region=region)
    run = replica_scrub(replica=replica)
    assert job_run(job_id=run.job_id).state == JobState.SUCCEEDED
    run.refresh_from_db()
    return run


def pull_verifies(registry, region: str, digest: str) -> dict[str, str | None]:
    """{repository: None if a pull of the blob from the region hashes to its digest, else what is wrong}."""
    endpoint = Region.objects.get(name=region).endpoint
    size = registry.corpus.unique_blobs()[digest].size
    with fleet_client(endpoint, prefix=registry.repository_prefix) as client:
        return {repository: engine.blob_check(client, registry.repository_prefix + repository, digest, size)[0]
                for repository, blobs in registry.corpus.blobs_by_repository().items() if digest in blobs}


def corrupt_counter(region: str) -> float:
    return REGISTRY.get_sample_value("georegistry_scrub_corrupt_blobs_total", {"region": region}) or 0.0


def test_a_healthy_replica_scrubs_clean_each_unique_blob_once(registry):
    run = scrub(registry)
    assert run.error == "" and run.finished_at is not None
    assert (run.blobs_checked, run.corrupt_found, run.findings) == (len(registry.corpus.unique_blobs()), 0, [])
    assert run.bytes_checked == sum(blob.size for blob in registry.corpus.unique_blobs().values())
    assert run.manifests_checked == len({image.digest for image in registry.corpus.manifests()})
    job = ReplicationJob.objects.get(pk=run.job_id)
    assert (job.kind, job.blobs_done, job.blobs_total) == (JobKind.SCRUB, run.blobs_checked, run.blobs_checked)
    assert job.bytes_done == job.bytes_total == run.bytes_checked


def test_a_retried_scrub_counts_only_its_own_attempt(registry):
    """A scrub starts over (it reads everything again), unlike a copy, whose row adds its earlier attempts' bytes."""
    replica = services.replica_get(registry=registry, region="eastus")
    run = replica_scrub(replica=replica)
    # As a killed worker leaves it: half of it read by the first attempt, then requeued.
    ReplicationJob.objects.filter(pk=run.job_id).update(attempts=1, bytes_done=5000, bytes_total=9000, blobs_done=2,
                                                        blobs_total=4)
    assert job_run(job_id=run.job_id, retries_done=0).state == JobState.SUCCEEDED
    run.refresh_from_db()
    job = ReplicationJob.objects.get(pk=run.job_id)
    assert (job.blobs_done, job.blobs_total) == (run.blobs_checked, run.blobs_checked)
    assert job.bytes_done == job.bytes_total == run.bytes_checked


def test_a_corrupted_blob_is_found_reported_and_repaired_from_a_healthy_region(registry, deployed_regions):
    digest = shared_layer(registry.corpus)
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))
    before = pull_verifies(registry, "eastus", digest)
    assert len(before) >= 2 and set(before.values()) == {engine.CORRUPT}, "a pull of it fails its digest"
    counted = corrupt_counter("eastus")

    run = scrub(registry)

    assert (run.corrupt_found, run.repaired, run.unrecoverable) == (1, 1, 0)
    (finding,) = run.findings
    assert finding["digest"] == digest and finding["kind"] == "blob" and finding["problem"] == "corrupt"
    assert finding["outcome"] == ScrubOutcome.REPAIRED and finding["source_region"] == "westus"
    assert sorted(finding["repositories"]) == sorted(registry.repository_prefix + r for r in before)
    assert set(pull_verifies(registry, "eastus", digest).values()) == {None}, "every repository pulls it right"
    assert corrupt_counter("eastus") == counted + 1
    assert scrub(registry).corrupt_found == 0, "the next scrub finds it sound"


def test_a_blob_corrupted_in_every_region_is_unrecoverable_and_left_in_place(registry, deployed_regions):
    digest = shared_layer(registry.corpus)
    for region in ("westus", "eastus"):
        flip_bytes(stored_data_path(region=deployed_regions[region], digest=digest))
    stored = stored_data_path(region=deployed_regions["eastus"], digest=digest).read_bytes()

    run = scrub(registry)

    assert (run.corrupt_found, run.repaired, run.unrecoverable) == (1, 0, 1)
    assert run.findings[0]["outcome"] == ScrubOutcome.UNRECOVERABLE
    assert "no region has a copy that verifies" in run.findings[0]["detail"]
    assert "westus: corrupt" in run.findings[0]["detail"]
    # The only copy there is (bad as it is) is never deleted: still linked, still stored, byte for byte.
    assert stored_data_path(region=deployed_regions["eastus"], digest=digest).read_bytes() == stored
    assert set(pull_verifies(registry, "eastus", digest).values()) == {engine.CORRUPT}


def test_without_its_storage_a_region_reports_the_corrupted_blob_and_touches_nothing(registry, deployed_regions):
    digest = shared_layer(registry.corpus)
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))
    Region.objects.filter(name="eastus").update(storage_root="")

    run = scrub(registry)

    assert (run.corrupt_found, run.repaired, run.unrecoverable) == (1, 0, 1)
    assert "storage is not reachable" in run.findings[0]["detail"]
    assert set(pull_verifies(registry, "eastus", digest).values()) == {engine.CORRUPT}


def test_a_corrupted_manifest_is_repaired_and_its_tag_kept(registry, deployed_regions):
    repository, tag = "app01", "latest"
    with fleet_client(deployed_regions["eastus"].endpoint, prefix=registry.repository_prefix) as client:
        digest = client.head_manifest(registry.repository_prefix + repository, tag).digest
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))

    run = scrub(registry)

    assert (run.corrupt_found, run.repaired) == (1, 1)
    assert (run.findings[0]["kind"], run.findings[0]["digest"]) == ("manifest", digest)
    with fleet_client(deployed_regions["eastus"].endpoint, prefix=registry.repository_prefix) as client:
        assert client.get_manifest(registry.repository_prefix + repository, tag).digest == digest  # verified


def test_distribution_keeps_a_stored_blob_on_delete_and_upload_which_is_why_repair_needs_the_storage(
        registry, deployed_regions):
    """The fact the repair is built on (Distribution 2.8.2): DELETE unlinks, an upload of the digest is accepted
    and dropped, so the bad bytes stay until their data file goes."""
    digest = shared_layer(registry.corpus)
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))
    repository = registry.repository_prefix + next(iter(pull_verifies(registry, "eastus", digest)))
    blob = registry.corpus.unique_blobs()[digest]
    with fleet_client(deployed_regions["eastus"].endpoint, prefix=registry.repository_prefix) as client:
        assert client.delete_blob(repository, digest)
        assert not client.blob_exists(repository, digest)
        client.upload_blob(repository, digest, blob.chunks(), blob.size)  # 201 Created
        assert engine.blob_check(client, repository, digest, blob.size)[0] == engine.CORRUPT


def test_a_second_scrub_of_a_replica_is_refused_while_one_is_queued(registry):
    replica = services.replica_get(registry=registry, region="eastus")
    replica_scrub(replica=replica)
    with pytest.raises(Conflict, match="already queued or running"):
        replica_scrub(replica=replica)


def test_a_replica_still_in_its_initial_sync_is_not_scrubbed(registry):
    Replica.objects.filter(registry=registry, region__name="eastus").update(status=ReplicaStatus.CREATING)
    with pytest.raises(Conflict, match="not while a sync copies into it"):
        replica_scrub(replica=services.replica_get(registry=registry, region="eastus"))


def test_the_schedule_queues_the_longest_waiting_due_replica_one_at_a_time(registry):
    long_ago = timezone.now() - timedelta(days=30)
    Replica.objects.filter(registry=registry).update(created_at=long_ago)
    ScrubRun.objects.create(registry=registry, region=Region.objects.get(name="westus"))  # westus: just scrubbed
    with override_settings(SCRUB_INTERVAL_SECONDS=7 * 24 * 3600):
        run = scrub_due_queue()
        assert (run.region.name, run.trigger) == ("eastus", "schedule")
        assert scrub_due_queue() is None, "one scrub at a time"
        assert job_run(job_id=run.job_id).state == JobState.SUCCEEDED
        assert scrub_due_queue() is None, "nothing else is due: eastus just ran, westus ran recently"
    with override_settings(SCRUB_INTERVAL_SECONDS=0):
        ScrubRun.objects.all().delete()
        assert scrub_due_queue() is None, "0 turns the schedule off"


def test_old_scrub_runs_are_pruned_but_each_replicas_latest_stays(registry):
    from replication.services.retention import history_prune

    eastus = Region.objects.get(name="eastus")
    old, older_latest = timezone.now() - timedelta(days=60), timezone.now() - timedelta(days=40)
    gone = ScrubRun.objects.create(registry=registry, region=eastus, finished_at=old)
    latest = ScrubRun.objects.create(registry=registry, region=eastus, finished_at=older_latest)
    ScrubRun.objects.filter(pk=gone.pk).update(created_at=old)
    ScrubRun.objects.filter(pk=latest.pk).update(created_at=older_latest)
    with override_settings(RETENTION_JOBS_DAYS=30):
        assert history_prune().scrub_runs == 1
    assert list(ScrubRun.objects.values_list("pk", flat=True)) == [latest.pk]
