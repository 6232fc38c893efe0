"""Fixtures for the portal's page tests: a signed-in browser session and a registry with replicas."""
import pytest
from django.test import Client
from django.utils import timezone

from replication import services
from replication.choices import JobState, ReplicaStatus
from replication.models import Replica, ReplicationJob


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def csrf_client(admin_user):
    """A signed-in client that, like a browser, must send the CSRF token with every POST."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


@pytest.fixture
def contoso(registry_with_replicas, admin_user):
    """Premium registry, home West US, no replicas besides home."""
    return registry_with_replicas(name="contoso", replicas=(), owner=admin_user)


@pytest.fixture
def contoso_with_replicas(contoso):
    """contoso with a replica syncing in East US (progress recorded) and a failed one in Canada Central.

    The replicas are created by the service (the transaction of a plain `db` test never commits,
    so no task is sent); their later states are what a worker would have written.
    """
    syncing, syncing_job = services.replica_create(registry=contoso, region="eastus")
    Replica.objects.filter(pk=syncing.pk).update(status=ReplicaStatus.SYNCING,
                                                 status_message="Copying images from westus.")
    ReplicationJob.objects.filter(pk=syncing_job.pk).update(
        state=JobState.RUNNING, started_at=timezone.now(), manifests_total=12, manifests_done=3,
        blobs_total=40, blobs_done=10, bytes_total=50 * 1024 * 1024, bytes_done=20 * 1024 * 1024,
    )
    failed, failed_job = services.replica_create(registry=contoso, region="canadacentral")
    error = "Cannot reach a regional registry (westus → canadacentral): connection refused"
    Replica.objects.filter(pk=failed.pk).update(status=ReplicaStatus.FAILED, status_message=error)
    ReplicationJob.objects.filter(pk=failed_job.pk).update(state=JobState.FAILED, error=error)
    return contoso
