"""A batch of pushes carried by one copy job per replica, with a real worker: killed in the middle of the batch,
another worker finishes it without copying again what the first one had copied."""
import uuid

import pytest

from replication.choices import JobKind, JobState
from replication.dataplane import find_free_port
from replication.link_relay import LinkConditions, LinkRelays
from replication.models import ImageReplication, RegistryEvent, ReplicationJob
from replication.oci.corpus import build_corpus, push_corpus
from replication.services import events
from replication.services.regions import region_set_endpoint
from tests.conftest import fleet_client, wait_for
from tests.test_events.conftest import event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_eastus(deployed_regions):
    """East US behind a 40 ms link: each request to it costs a round trip, so the batch takes seconds, not the
    fraction of a second a quiet loopback needs (the kill must land while it runs, on any machine)."""
    target = deployed_regions["eastus"].endpoint.removeprefix("http://").split(":")
    link = LinkRelays("eastus", LinkConditions(delay=0.04))
    port = find_free_port()
    link.forward(listen=("127.0.0.1", port), target=(target[0], int(target[1])))
    yield region_set_endpoint(name="eastus", endpoint=f"http://127.0.0.1:{port}")
    link.close()


def test_a_killed_workers_batch_is_finished_by_another_without_copying_twice(registry_with_replicas, deployed_regions,
                                                                            celery_worker_process, slow_eastus, monkeypatch):
    # One blob at a time, so that the kill lands in the middle of the batch.
    celery_worker_process.stop()
    monkeypatch.setenv("REPLICATION_CONCURRENCY", "1")
    celery_worker_process.start()
    registry = registry_with_replicas(name=f"batch{uuid.uuid4().hex[:8]}", replicas=("eastus",))
    prefix = registry.repository_prefix
    corpus = build_corpus(61, repositories=8, tags_per_repo=1, multi_platform_repositories=0, shared_base_layers=1,
                          base_layer_size=2 << 20, unique_layer_size=8 << 20, layers_per_image=2)
    with fleet_client(deployed_regions["westus"].endpoint, prefix=prefix) as client:
        pushed = {key: digest for key, digest in push_corpus(client, corpus, prefix).items() if key[1] != "latest"}
    unique_bytes = sum(blob.size for blob in corpus.unique_blobs().values())
    for (repository, tag), digest in pushed.items():  # one notification each; the worker drains them in one run
        events.events_record(region=deployed_regions["westus"], body={"events": [event(repository=repository, digest=digest,
                                                                          tag=tag)]})

    job = wait_for(lambda: ReplicationJob.objects.filter(registry=registry, kind=JobKind.EVENT_COPY,
                                                         state=JobState.RUNNING, bytes_done__gt=0).first(),
                   interval=0.02, message="the batch's copy to be under way")
    celery_worker_process.kill()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.bytes_done < job.bytes_total, "killed before it finished"
    assert ReplicationJob.objects.filter(registry=registry).count() == 1, "one job carries the whole batch"
    assert len(job.spec["images"]) == len(pushed)
    copied_before_the_kill = job.bytes_done

    celery_worker_process.start()  # its start requeues the dead worker's job (runner.jobs_recover)
    wait_for(lambda: ReplicationJob.objects.get(pk=job.pk).state == JobState.SUCCEEDED, timeout=180,
             message="the batch to be finished by the new worker")
    job.refresh_from_db()
    assert job.attempts == 2 and ReplicationJob.objects.filter(registry=registry).count() == 1
    # The second attempt planned only what the first had not copied (the row's total is the first attempt's
    # recorded bytes plus the second's plan): the blobs already there were not sent again, only those in flight
    # when it died (one: one transfer at a time) may be counted twice.
    second_attempt = job.bytes_total - copied_before_the_kill
    in_flight_at_most = max(blob.size for blob in corpus.unique_blobs().values())
    assert 0 < second_attempt <= unique_bytes - copied_before_the_kill + in_flight_at_most
    with fleet_client(slow_eastus.endpoint, prefix=prefix) as client:
        for (repository, tag), digest in pushed.items():
            assert client.head_manifest(repository, tag).digest == digest
    rows = ImageReplication.objects.filter(registry=registry, region__name="eastus")
    assert set(rows.values_list("reference", "status")) == {("1.0", "complete")}
    assert rows.count() == len(pushed)
    assert not RegistryEvent.objects.filter(registry=registry, from_replication=False, processed_at__isnull=True)
