"""Honest numbers: a retried job counts the bytes of every attempt; images older than a replica show its
initial sync, not a lag; the origin says "pushed here" (real registries, jobs run in the test process)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from replication import services
from replication.choices import JobState
from replication.jobs.runner import job_run
from replication.models import ImageReplication, Region, ReplicationJob
from replication.oci.corpus import build_corpus, push_corpus
from tests.conftest import fleet_client

pytestmark = pytest.mark.django_db(transaction=True)  # the progress thread writes on its own connection


@pytest.fixture
def contoso(deployed_regions, admin_user):
    registry = services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=admin_user)
    with fleet_client(deployed_regions["westus"].endpoint, prefix="contoso/") as client:
        push_corpus(client, build_corpus(21, repositories=1, tags_per_repo=1), "contoso/")
    return registry


def test_a_retried_job_counts_what_every_attempt_copied(contoso):
    _, job = services.replica_create(registry=contoso, region="eastus")
    # As a killed worker leaves it: 5000 bytes and 2 blobs copied by the first attempt, then requeued.
    ReplicationJob.objects.filter(pk=job.pk).update(attempts=1, bytes_done=5000, bytes_total=9000, blobs_done=2,
                                                    blobs_total=4)
    assert job_run(job_id=job.pk, retries_done=0).state == JobState.SUCCEEDED
    job.refresh_from_db()
    assert job.bytes_done > 5000 and job.bytes_done == job.bytes_total and job.percent_done == 100
    assert job.blobs_done > 2 and job.blobs_done == job.blobs_total


def test_the_matrix_and_the_api_say_pushed_here_initial_sync_and_lag(contoso, client, admin_user, api_client):
    pushed = timezone.now() - timedelta(minutes=10)
    old = {"registry": contoso, "repository": "contoso/web", "reference": "1.0", "digest": "sha256:" + "a" * 64,
           "pushed_at": pushed}
    ImageReplication.objects.create(region=Region.objects.get(name="westus"), status="complete",
                                    completed_at=pushed, **old)  # its origin, recorded at push time
    replica, job = services.replica_create(registry=contoso, region="eastus")
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    job.refresh_from_db()
    duration = (job.finished_at - job.started_at).total_seconds()

    body = api_client.get("/api/v1/registries/contoso/replication-status/",
                          {"repository": "web", "reference": "1.0"}).json()
    regions = {r["region"]: r for r in body["regions"]}
    assert regions["westus"]["arrival"] == "pushed" and regions["westus"]["lag_seconds"] is None
    assert regions["eastus"]["status"] == "complete" and regions["eastus"]["arrival"] == "initial_sync"
    assert regions["eastus"]["lag_seconds"] is None
    assert regions["eastus"]["initial_sync_seconds"] == pytest.approx(duration)

    # Pushed after the replica existed and copied for the push: a lag, and only then.
    later = timezone.now()
    new = {**old, "reference": "2.0", "digest": "sha256:" + "b" * 64, "pushed_at": later}
    ImageReplication.objects.create(region=Region.objects.get(name="westus"), status="complete",
                                    completed_at=later, **new)
    ImageReplication.objects.create(region=Region.objects.get(name="eastus"), status="complete",
                                    source_region=Region.objects.get(name="westus"),
                                    completed_at=later + timedelta(seconds=3.2), **new)
    client.force_login(admin_user)
    page = client.get("/registries/contoso/").content.decode()
    assert page.count('data-arrival="pushed">pushed here') == 2
    assert 'data-arrival="initial_sync">initial sync (' in page
    assert 'data-arrival="replicated">lag 3.2 s' in page
    assert "lag 0.0 s" not in page
