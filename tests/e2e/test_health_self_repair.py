"""End to end: a regional registry stopped and started under a real worker, with the test playing beat
(the health probe task, every second): the API says unreachable, a failed replica comes back to ready by
itself, a delete waits for its region and finishes when it is back, and a forced delete removes the row."""
import threading

import pytest
from celery import current_app

from replication.choices import JobKind, JobState, ReplicaStatus
from replication.dispatch import job_record
from replication.job_specs import ResyncSpec
from replication.models import Replica, ReplicationJob
from replication.oci.corpus import build_corpus, push_corpus
from replication.queues import PORTAL_QUEUE
from tests.conftest import fleet_client, wait_for
from tests.e2e.test_replica_sync import tag_digests

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROBE_TASK = "replication.tasks.probe_region_health"
REPLICA_URL = "/api/v1/registries/contoso/replicas/westeurope/"


@pytest.fixture
def beat(celery_worker_process):
    """What Celery beat does in production, faster: send the health probe to the portal queue every second."""
    stop = threading.Event()

    def run():
        while not stop.wait(1.0):
            current_app.send_task(PROBE_TASK, queue=PORTAL_QUEUE, expires=5)

    thread = threading.Thread(target=run, name="test-beat", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def contoso(registry_with_replicas, admin_user, deployed_regions, westeurope_registry):
    registry = registry_with_replicas(name="contoso", replicas=(), owner=admin_user)
    with fleet_client(deployed_regions["westus"].endpoint, prefix="contoso/") as client:
        push_corpus(client, build_corpus(11, repositories=2, tags_per_repo=2), "contoso/")
    return registry


def replica_body(api_client) -> dict:
    return api_client.get(REPLICA_URL).json()


def create_ready_replica(api_client):
    assert api_client.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"},
                           format="json").status_code == 202
    wait_for(lambda: replica_body(api_client)["status"] == ReplicaStatus.READY, message="westeurope ready")


def test_a_dead_region_is_shown_repaired_and_waited_for(api_client, contoso, westeurope_registry, beat,
                                                         deployed_regions):
    home = deployed_regions["westus"].endpoint
    create_ready_replica(api_client)
    assert tag_digests(westeurope_registry.url, "contoso/") == tag_digests(home, "contoso/")

    # The region dies: the API says so (health object, display state) once the probe has seen it.
    westeurope_registry.stop()
    dead = wait_for(lambda: (body := replica_body(api_client))["display_state"] == "unreachable" and body,
                    timeout=30, message="the replica to show unreachable")
    assert dead["status"] == ReplicaStatus.READY and dead["health"]["state"] == "unreachable"
    assert dead["health"]["error"] and dead["display_message"].startswith("Region westeurope is unreachable")

    # A sync queued just as it died fails (the worker's retries run out) and stays failed while it is down.
    replica = Replica.objects.get(region__name="westeurope")
    job_record(spec=ResyncSpec(), replica=replica)
    wait_for(lambda: replica_body(api_client)["status"] == ReplicaStatus.FAILED, timeout=90,
             message="the sync to fail")
    failed = replica_body(api_client)
    assert failed["last_failure"] and failed["display_state"] == "unreachable"

    # It comes back: the probe sees it, self-repair queues a sync, the worker brings the replica to ready.
    westeurope_registry.start()
    back = wait_for(lambda: (body := replica_body(api_client))["status"] == ReplicaStatus.READY and body,
                    timeout=90, message="the failed replica to come back to ready by itself")
    assert back["display_state"] == "ready" and back["health"]["state"] == "healthy" and back["last_failure"] == ""
    repair = ReplicationJob.objects.filter(replica__region__name="westeurope", kind=JobKind.RESYNC).first()
    assert repair.spec == {"trigger": "self-repair"} and repair.state == JobState.SUCCEEDED

    # A delete while it is down waits (and says why), then finishes when the region is back.
    westeurope_registry.stop()
    wait_for(lambda: replica_body(api_client)["display_state"] == "unreachable", timeout=30,
             message="unreachable again")
    assert api_client.delete(REPLICA_URL).status_code == 202
    waiting = wait_for(
        lambda: (body := replica_body(api_client))["status_message"].startswith("Waiting for region westeurope")
        and body, timeout=60, message="the delete to say it waits")
    assert waiting["status"] == ReplicaStatus.DELETING and waiting["display_state"] == "deleting"
    purge = ReplicationJob.objects.get(kind=JobKind.PURGE, region__name="westeurope")
    # The worker's REPLICATION_MAX_RETRIES is 4: after the fifth attempt the purge waits, without a task.
    parked = wait_for(lambda: (job := ReplicationJob.objects.get(pk=purge.pk)).error.endswith(
        "(sent again once it answers)") and job, timeout=60, message="the purge's retries to run out")
    assert parked.state == JobState.QUEUED and parked.attempts >= 5
    assert replica_body(api_client)["status"] == ReplicaStatus.DELETING  # still waiting, not given up

    westeurope_registry.start()
    wait_for(lambda: api_client.get(REPLICA_URL).status_code == 404, timeout=90,
             message="the delete to finish once the region is back")
    assert ReplicationJob.objects.get(pk=purge.pk).state == JobState.SUCCEEDED
    assert tag_digests(westeurope_registry.url, "contoso/") == {}


def test_a_forced_delete_removes_the_row_and_purges_when_the_region_returns(api_client, contoso,
                                                                             westeurope_registry, beat):
    create_ready_replica(api_client)
    assert tag_digests(westeurope_registry.url, "contoso/")
    westeurope_registry.stop()
    wait_for(lambda: replica_body(api_client)["display_state"] == "unreachable", timeout=30,
             message="unreachable")
    assert api_client.delete(REPLICA_URL).status_code == 202
    assert api_client.post(REPLICA_URL + "force-delete/").status_code == 204
    assert api_client.get(REPLICA_URL).status_code == 404
    regions = [r["region"] for r in api_client.get("/api/v1/registries/contoso/replicas/").json()]
    assert regions == ["westus"]

    purge = ReplicationJob.objects.get(kind=JobKind.PURGE, region__name="westeurope")
    westeurope_registry.start()
    wait_for(lambda: ReplicationJob.objects.get(pk=purge.pk).state == JobState.SUCCEEDED, timeout=90,
             message="the purge to run once the region is back")
    assert tag_digests(westeurope_registry.url, "contoso/") == {}
