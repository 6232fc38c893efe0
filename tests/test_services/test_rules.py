"""Every business rule, through the service layer, with real regional registries answering."""
import pytest
from django.db import transaction

from replication import services
from replication.choices import JobKind, JobState, ReplicaStatus
from replication.jobs.runner import job_transition
from replication.exceptions import Conflict, InvalidInput, NotFound
from replication.models import Region, Registry, Replica, ReplicationJob


@pytest.fixture
def premium(registry_with_replicas):
    return registry_with_replicas(name="contoso", replicas=())


def test_create_registry_creates_ready_home_replica(premium):
    replica = premium.replicas.get()
    assert replica.region.name == "westus"
    assert replica.status == ReplicaStatus.READY
    assert replica.is_home


@pytest.mark.parametrize("name", ["abc", "a" * 51, "has-dash", "has space", "ünïcode", ""])
def test_invalid_registry_names_are_refused(deployed_regions, name):
    with pytest.raises(InvalidInput, match="5 to 50 characters"):
        services.registry_create(name=name, sku="Premium", home_region="westus")
    assert not Registry.objects.exists()


def test_registry_names_are_unique_case_insensitively(premium):
    with pytest.raises(Conflict, match="already exists"):
        services.registry_create(name="CONTOSO", sku="Basic", home_region="eastus")
    assert Registry.objects.count() == 1


def test_unknown_sku_and_region_are_refused(deployed_regions):
    with pytest.raises(InvalidInput, match="SKU 'Gold' does not exist"):
        services.registry_create(name="fabrikam", sku="Gold", home_region="westus")
    with pytest.raises(InvalidInput, match="Region 'atlantis' does not exist"):
        services.registry_create(name="fabrikam", sku="Basic", home_region="atlantis")
    assert not Registry.objects.exists()


def test_home_region_must_be_available(deployed_regions):
    with pytest.raises(Conflict, match="no available data plane"):
        services.registry_create(name="fabrikam", sku="Basic", home_region="japaneast")
    assert not Registry.objects.exists()


def test_replica_create_records_replica_and_queued_job(premium):
    replica, job = services.replica_create(registry=premium, region="eastus")
    assert replica.status == ReplicaStatus.CREATING
    assert job.kind == JobKind.INITIAL_SYNC and job.state == JobState.QUEUED
    assert job.replica == replica and job.region.name == "eastus"


def test_replica_task_is_queued_only_on_commit(premium, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.replica_create(registry=premium, region="eastus")
    assert len(callbacks) == 1


@pytest.mark.parametrize("sku", ["Basic", "Standard"])
def test_replicas_need_premium_and_the_error_names_the_sku(deployed_regions, sku):
    registry = services.registry_create(name="fabrikam", sku=sku, home_region="westus")
    with pytest.raises(Conflict, match=f"needs the Premium SKU.*on {sku}"):
        services.replica_create(registry=registry, region="eastus")
    assert registry.replicas.count() == 1
    assert not ReplicationJob.objects.exists()


def test_replica_in_home_region_is_refused(premium):
    with pytest.raises(Conflict, match="home region"):
        services.replica_create(registry=premium, region="westus")


def test_duplicate_replica_is_refused(premium):
    services.replica_create(registry=premium, region="eastus")
    with pytest.raises(Conflict, match="already has a replica in 'eastus'"):
        services.replica_create(registry=premium, region="eastus")
    assert premium.replicas.count() == 2
    assert ReplicationJob.objects.count() == 1


def test_replica_in_unavailable_region_is_refused(premium):
    with pytest.raises(Conflict, match="'japaneast' is not available"):
        services.replica_create(registry=premium, region="japaneast")
    assert premium.replicas.count() == 1


def test_replica_in_region_whose_registry_does_not_answer_is_refused(premium):
    Region.objects.filter(name="eastus").update(endpoint="http://127.0.0.1:9")
    with pytest.raises(Conflict, match="not available"):
        services.replica_create(registry=premium, region="eastus")


def test_disabled_region_is_unavailable(premium):
    Region.objects.filter(name="eastus").update(enabled=False)
    with pytest.raises(Conflict, match="not available"):
        services.replica_create(registry=premium, region="eastus")


def test_unknown_replica_region_is_not_found(premium):
    with pytest.raises(NotFound, match="Region 'atlantis' does not exist"):
        services.replica_create(registry=premium, region="atlantis")


def test_downgrade_with_replicas_is_refused_listing_them(premium):
    services.replica_create(registry=premium, region="eastus")
    services.replica_create(registry=premium, region="canadacentral")
    with pytest.raises(Conflict, match="Delete the replicas in canadacentral, eastus first"):
        services.registry_change_sku(registry=premium, sku="Standard")
    premium.refresh_from_db()
    assert premium.sku.name == "Premium"


def test_downgrade_without_replicas_and_upgrade_are_allowed(premium):
    services.registry_change_sku(registry=premium, sku="Basic")
    assert Registry.objects.get().sku.name == "Basic"
    services.registry_change_sku(registry=premium, sku="premium")
    assert Registry.objects.get().sku.name == "Premium"


def test_home_replica_cannot_be_deleted(premium):
    home = premium.replicas.get()
    with pytest.raises(Conflict, match="home replica"):
        services.replica_delete(replica=home)
    assert Replica.objects.filter(pk=home.pk).exists()


def test_replica_delete_marks_deleting_and_refuses_twice(premium, django_capture_on_commit_callbacks):
    replica, _ = services.replica_create(registry=premium, region="eastus")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.replica_delete(replica=replica)
    assert len(callbacks) == 1
    assert Replica.objects.get(pk=replica.pk).status == ReplicaStatus.DELETING
    with pytest.raises(Conflict, match="already being deleted"):
        services.replica_delete(replica=replica)
    with pytest.raises(Conflict, match="being deleted"):
        services.replica_create(registry=premium, region="eastus")


def test_failed_create_leaves_nothing_half_written(premium):
    before = (Replica.objects.count(), ReplicationJob.objects.count())
    with pytest.raises(Conflict):
        with transaction.atomic():
            services.replica_create(registry=premium, region="westus")
    assert (Replica.objects.count(), ReplicationJob.objects.count()) == before


def test_job_transition_is_guarded(premium):
    _, job = services.replica_create(registry=premium, region="eastus")
    assert job_transition(job_id=job.pk, to=JobState.RUNNING)
    assert not job_transition(job_id=job.pk, to=JobState.RUNNING), "two workers cannot both own a job"
    assert job_transition(job_id=job.pk, to=JobState.SUCCEEDED)
    assert not job_transition(job_id=job.pk, to=JobState.QUEUED), "a finished job stays finished"
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.started_at and job.finished_at


def test_endpoints_list_enabled_replica_regions(premium):
    from replication.selectors import registry_endpoints

    replica, _ = services.replica_create(registry=premium, region="eastus")
    services.replica_create(registry=premium, region="canadacentral")
    services.replica_set_endpoint_enabled(replica=replica, enabled=False)
    endpoints = registry_endpoints(registry=premium)
    assert [e["region"] for e in endpoints["data_endpoints"]] == ["canadacentral", "westus"]
    assert endpoints["login_server"].startswith("127.0.0.1:")


def test_downgrade_below_the_webhook_count_is_refused(premium):
    from replication.services.webhooks import webhook_create

    for n in range(3):
        webhook_create(registry=premium, name=f"hook{n}abc", region="westus", service_uri="https://hooks.example.com/h",
                       actions=["push"], secret="s" * 16)
    with pytest.raises(Conflict, match="Basic SKU allows 2 webhooks"):
        services.registry_change_sku(registry=premium, sku="Basic")
    assert Registry.objects.get().sku.name == "Premium"


def test_resync_queues_one_full_sync_at_a_time(premium):
    replica, first = services.replica_create(registry=premium, region="eastus")
    with pytest.raises(Conflict, match="already queued or running"):
        services.replica_resync(replica=replica)
    job_transition(job_id=first.pk, to=JobState.RUNNING)
    job_transition(job_id=first.pk, to=JobState.FAILED, error="boom")
    Replica.objects.filter(pk=replica.pk).update(status=ReplicaStatus.FAILED)
    job = services.replica_resync(replica=replica)
    assert job.state == JobState.QUEUED and job.kind == JobKind.RESYNC
    assert Replica.objects.get(pk=replica.pk).status == ReplicaStatus.SYNCING


def test_resync_of_home_or_deleting_replica_is_refused(premium):
    with pytest.raises(Conflict, match="source of every sync"):
        services.replica_resync(replica=premium.replicas.get())
    replica, job = services.replica_create(registry=premium, region="eastus")
    job_transition(job_id=job.pk, to=JobState.CANCELED)
    services.replica_delete(replica=replica)
    with pytest.raises(Conflict, match="being deleted"):
        services.replica_resync(replica=Replica.objects.get(pk=replica.pk))
