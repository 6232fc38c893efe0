"""Self-repair: failed replicas sync again once their region answers (with backoff), deletes wait for their
region however long it is down and finish when it is back, and owners can force a delete (real registries)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from replication import services
from replication.choices import JobKind, JobState, ReplicaStatus
from replication.jobs.runner import job_run
from replication.models import ActivityRecord, Replica, ReplicationJob
from replication.services.health import region_health_probe
from replication.services.self_repair import failed_replicas_resync, repair_wait_seconds, self_repair

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso(registry_with_replicas, westeurope_registry, admin_user):
    """contoso homed in westus, owned by the API client's user, with a synced replica in West Europe."""
    registry = services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=admin_user)
    _, job = services.replica_create(registry=registry, region="westeurope")
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    return registry


def replica(region="westeurope") -> Replica:
    return Replica.objects.select_related("region").get(registry__name="contoso", region__name=region)


def fail_a_sync_while_the_region_is_down(settings, westeurope_registry) -> ReplicationJob:
    settings.REPLICATION_MAX_RETRIES = 0
    settings.REGISTRY_HTTP_MAX_RETRIES = 0
    westeurope_registry.stop()
    job = ReplicationJob.objects.create(replica=replica(), registry=replica().registry, region=replica().region,
                                        kind=JobKind.RESYNC)
    assert job_run(job_id=job.pk).state == JobState.FAILED
    assert replica().status == ReplicaStatus.FAILED
    region_health_probe()
    return ReplicationJob.objects.get(pk=job.pk)


def test_a_failed_replica_is_synced_again_once_its_region_answers(contoso, settings, westeurope_registry,
                                                                  api_client, django_capture_on_commit_callbacks):
    failed = fail_a_sync_while_the_region_is_down(settings, westeurope_registry)
    assert self_repair().resynced == []  # the region is down: nothing to try
    assert replica().status == ReplicaStatus.FAILED

    westeurope_registry.start()
    region_health_probe()
    with django_capture_on_commit_callbacks() as sent:
        assert failed_replicas_resync(now=failed.finished_at + timedelta(hours=1)) == [replica().pk]
    assert len(sent) == 1  # the job's task, through the jobs layer
    repair = ReplicationJob.objects.filter(replica=replica(), kind=JobKind.RESYNC).first()
    assert repair.state == JobState.QUEUED and repair.spec == {"trigger": "self-repair"}
    assert replica().status == ReplicaStatus.SYNCING and "Synced again automatically" in replica().status_message
    # The reason of the failure stays visible until the new sync succeeds.
    body = api_client.get("/api/v1/registries/contoso/replicas/westeurope/").json()
    assert body["last_failure"] == failed.error and "Cannot reach" in failed.error
    assert failed_replicas_resync() == []  # one at a time

    assert job_run(job_id=repair.pk).state == JobState.SUCCEEDED
    assert replica().status == ReplicaStatus.READY
    assert api_client.get("/api/v1/registries/contoso/replicas/westeurope/").json()["last_failure"] == ""


def test_repairs_back_off_after_each_failed_attempt(contoso, settings, westeurope_registry):
    settings.REPLICATION_RETRY_BACKOFF, settings.REPLICATION_RETRY_BACKOFF_MAX = 10, 25
    failed = fail_a_sync_while_the_region_is_down(settings, westeurope_registry)
    westeurope_registry.start()
    region_health_probe()
    assert repair_wait_seconds(1) == 10 and repair_wait_seconds(2) == 20 and repair_wait_seconds(3) == 25
    assert failed_replicas_resync(now=failed.finished_at + timedelta(seconds=9)) == []
    assert failed_replicas_resync(now=failed.finished_at + timedelta(seconds=10)) == [replica().pk]


def test_a_delete_in_a_dead_region_waits_then_finishes_when_it_is_back(contoso, settings, westeurope_registry,
                                                                        django_capture_on_commit_callbacks):
    settings.REPLICATION_MAX_RETRIES, settings.REGISTRY_HTTP_MAX_RETRIES = 1, 0
    westeurope_registry.stop()
    region_health_probe()
    services.replica_delete(replica=replica())
    purge = ReplicationJob.objects.get(kind=JobKind.PURGE)

    first = job_run(job_id=purge.pk, retries_done=0)
    assert first.state == JobState.QUEUED and first.retry_in is not None  # the usual backoff first
    spent = job_run(job_id=purge.pk, retries_done=1)
    assert spent.state == JobState.QUEUED and spent.retry_in is None  # then it waits, without giving up
    purge.refresh_from_db()
    assert purge.state == JobState.QUEUED and purge.error.startswith("Waiting for region westeurope to come back: ")
    assert replica().status == ReplicaStatus.DELETING
    assert replica().status_message.startswith("Waiting for region westeurope to come back: ")
    with django_capture_on_commit_callbacks() as sent:
        assert self_repair().purges_sent == []  # still down
    assert sent == []

    westeurope_registry.start()
    region_health_probe()
    with django_capture_on_commit_callbacks() as sent:
        assert self_repair().purges_sent == [purge.pk]
    assert len(sent) == 1
    assert self_repair().purges_sent == []  # sent once per return of the region
    assert job_run(job_id=purge.pk, retries_done=0).state == JobState.SUCCEEDED
    assert not Replica.objects.filter(region__name="westeurope").exists()


def test_a_delete_whose_purge_failed_is_tried_again_with_backoff(contoso, settings):
    services.replica_delete(replica=replica())
    purge = ReplicationJob.objects.get(kind=JobKind.PURGE)
    ReplicationJob.objects.filter(pk=purge.pk).update(state=JobState.FAILED, finished_at=timezone.now(),
                                                      error="RegistryError: 403 DENIED")
    settings.REPLICATION_RETRY_BACKOFF = 60
    region_health_probe()
    assert self_repair().purges_queued == []  # backing off
    retry = self_repair(now=timezone.now() + timedelta(seconds=61)).purges_queued
    assert len(retry) == 1
    assert job_run(job_id=retry[0]).state == JobState.SUCCEEDED
    assert not Replica.objects.filter(region__name="westeurope").exists()


def test_an_owner_forces_a_delete_the_row_goes_and_the_purge_waits(contoso, api_client, settings, westeurope_registry):
    westeurope_registry.stop()
    region_health_probe()
    assert api_client.delete("/api/v1/registries/contoso/replicas/westeurope/").status_code == 202
    assert replica().status == ReplicaStatus.DELETING

    response = api_client.post("/api/v1/registries/contoso/replicas/westeurope/force-delete/")
    assert response.status_code == 204
    assert not Replica.objects.filter(region__name="westeurope").exists()
    assert api_client.get("/api/v1/registries/contoso/replicas/westeurope/").status_code == 404
    purge = ReplicationJob.objects.get(kind=JobKind.PURGE)  # the delete's own purge, kept: no second one
    assert purge.state == JobState.QUEUED and purge.replica_id is None and purge.registry.name == "contoso"
    record = ActivityRecord.objects.filter(action="replica.delete").order_by("-id").first()
    assert record.detail["forced"] is True

    westeurope_registry.start()
    region_health_probe()
    # Until its old content is purged, a new replica there would lose its copy: refused.
    again = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"}, format="json")
    assert again.status_code == 409 and "still being purged" in again.json()["detail"]
    assert job_run(job_id=purge.pk).state == JobState.SUCCEEDED
    assert api_client.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"},
                           format="json").status_code == 202


def test_forcing_a_delete_needs_an_owner_and_never_the_home_replica(contoso, api_client, django_user_model):
    from replication.services.access import role_assignment_create
    from rest_framework.test import APIClient
    from rest_framework.authtoken.models import Token

    contributor = django_user_model.objects.create_user("carol", password="pw-carol-123456")
    role_assignment_create(registry=contoso, username="carol", role="contributor")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=contributor).key}")
    assert client.post("/api/v1/registries/contoso/replicas/westeurope/force-delete/").status_code == 403
    assert replica().status == ReplicaStatus.READY
    home = api_client.post("/api/v1/registries/contoso/replicas/westus/force-delete/")
    assert home.status_code == 409 and "cannot be deleted" in home.json()["detail"]


def test_the_replicas_page_offers_force_delete_to_owners_while_deleting(contoso, client, admin_user):
    client.force_login(admin_user)
    assert 'data-action="force-delete"' not in client.get("/registries/contoso/replications/").content.decode()
    services.replica_delete(replica=replica())
    page = client.get("/registries/contoso/replications/").content.decode()
    assert 'data-action="force-delete"' in page
    response = client.post("/registries/contoso/replications/westeurope/force-delete/", follow=True)
    assert "purged whenever the region answers" in response.content.decode()
    assert not Replica.objects.filter(region__name="westeurope").exists()
