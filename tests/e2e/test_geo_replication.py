"""Continuous geo-replication end to end: four real Distribution registries notifying the live
portal, a real Celery worker, skopeo pushing and deleting like a user, reconcile repairing an outage."""
import subprocess

import httpx
import pytest

from replication.choices import ReplicaStatus
from replication.dataplane import DistributionProcess, find_free_port
from replication.local_fleet import EVENTS_PATH
from replication.models import ImageReplication, ReconcileRun
from replication.oci.client import RegistryClient
from replication.oci.corpus import build_corpus, push_corpus
from replication.queues import PORTAL_QUEUE
from replication.services.region_secrets import region_events_secret
from replication.services.regions import region_get, region_set_endpoint
from replication.tasks import reconcile_replicas
from tests.conftest import TEST_REGIONS, fleet_http_auth, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


@pytest.fixture
def geo_fleet(portal_server, fleet_auth, celery_worker_process, tmp_path):
    """One registry per test region whose notifications go to the live portal, requiring its tokens; {name: process}."""
    fleet = {}
    try:
        for name in TEST_REGIONS:
            process = DistributionProcess(
                name, port=find_free_port(), storage_dir=tmp_path / "fleet" / name, http_secret=f"geo-{name}",
                notifications_url=portal_server.url + EVENTS_PATH, auth=fleet_auth,
                notifications_headers={"Authorization": [f"Bearer {region_events_secret(region=region_get(name=name))}"], "X-Region": [name]},
                log_path=tmp_path / "fleet" / f"{name}.log",
            )
            process.start()
            fleet[name] = process
            region_set_endpoint(name=name, endpoint=process.url)
        yield fleet
    finally:
        for process in fleet.values():
            process.stop()


@pytest.fixture
def scratch(tmp_path):
    """A registry outside the fleet holding the images a user will push (no notifications)."""
    process = DistributionProcess("scratch", port=find_free_port(), storage_dir=tmp_path / "scratch",
                                  http_secret="scratch")
    process.start()
    with RegistryClient(process.url) as client:
        push_corpus(client, build_corpus(21, repositories=2, tags_per_repo=1), "src/")
    yield process
    process.stop()


@pytest.fixture
def contoso(api_client, geo_fleet, registry_with_replicas, admin_user):
    """Premium contoso homed in westus with ready replicas in the three other test regions (really synced)."""
    registry_with_replicas(name="contoso", replicas=TEST_REGIONS[1:], owner=admin_user, through_service=True)
    for region in TEST_REGIONS[1:]:
        wait_for(lambda: api_client.get(f"/api/v1/registries/contoso/replicas/{region}/").json()["status"]
                 == ReplicaStatus.READY, timeout=120, message=f"replica in {region}")
    return "contoso"


USER_CREDS = "alice:correct-horse"  # the staff user behind api_client: pushes and deletes log in like users do


def host(process) -> str:
    return process.url.removeprefix("http://")


def skopeo(*argv):
    subprocess.run(["skopeo", *argv], check=True, capture_output=True, timeout=120)


def user_push(scratch, region_process, source: str, target: str):
    skopeo("copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", USER_CREDS,
           f"docker://{host(scratch)}/{source}", f"docker://{host(region_process)}/{target}")


def digest_of(process, repository: str, reference: str) -> str | None:
    response = httpx.head(f"{process.url}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT},
                          timeout=10, auth=fleet_http_auth("contoso/"))
    return response.headers["Docker-Content-Digest"] if response.status_code == 200 else None


def everywhere(fleet, repository, reference, digest) -> bool:
    return all(digest_of(process, repository, reference) == digest for process in fleet.values())


def test_a_push_to_a_non_home_region_reaches_every_region(api_client, contoso, geo_fleet, scratch):
    eastus = geo_fleet["eastus"]
    user_push(scratch, eastus, "src/app00:1.0", "contoso/products/web:1.0")  # an image index
    user_push(scratch, eastus, "src/app01:1.0", "contoso/products/api:2.1")  # a single image
    for repository, tag in [("contoso/products/web", "1.0"), ("contoso/products/api", "2.1")]:
        digest = digest_of(eastus, repository, tag)
        assert digest
        wait_for(lambda: everywhere(geo_fleet, repository, tag, digest), timeout=120,
                 message=f"{repository}:{tag} in every region")

        def complete():
            response = api_client.get("/api/v1/registries/contoso/replication-status/",
                                      {"repository": repository, "reference": tag})
            body = response.json() if response.status_code == 200 else {}
            return body if body and all(r["status"] == "complete" for r in body["regions"]) else None

        body = wait_for(complete, timeout=60, message=f"{repository}:{tag} complete in the status API")
        assert body["digest"] == digest
        assert sorted(r["region"] for r in body["regions"]) == sorted(TEST_REGIONS)
        assert all(r["completed_at"] for r in body["regions"])
    for name in TEST_REGIONS:
        assert api_client.get(f"/api/v1/registries/contoso/replicas/{name}/").json()["status"] == "ready"


def test_a_user_pushing_with_our_own_oci_client_reaches_every_region(contoso, geo_fleet):
    """Our client says it is the replication engine (its User-Agent); the region names the token's subject, alice,
    as the pusher, so the push fans out like any user's."""
    corpus = build_corpus(22, repositories=1, tags_per_repo=1, multi_platform_repositories=0)
    username, password = USER_CREDS.split(":")
    with RegistryClient(geo_fleet["eastus"].url, username=username, password=password) as client:
        pushed = push_corpus(client, corpus, "contoso/ourclient/")
    assert pushed
    for (repository, tag), digest in pushed.items():
        wait_for(lambda: everywhere(geo_fleet, repository, tag, digest), timeout=60,
                 message=f"{repository}:{tag} in every region")


def test_a_delete_goes_everywhere(api_client, contoso, geo_fleet, scratch):
    canada = geo_fleet["canadacentral"]
    user_push(scratch, canada, "src/app01:1.0", "contoso/tools/cli:1.0")
    digest = digest_of(canada, "contoso/tools/cli", "1.0")
    wait_for(lambda: everywhere(geo_fleet, "contoso/tools/cli", "1.0", digest), timeout=120,
             message="the image in every region")
    skopeo("delete", "--tls-verify=false", "--creds", USER_CREDS, f"docker://{host(canada)}/contoso/tools/cli:1.0")
    wait_for(lambda: everywhere(geo_fleet, "contoso/tools/cli", digest, None), timeout=120,
             message="the manifest gone from every region")
    assert all(digest_of(p, "contoso/tools/cli", "1.0") is None for p in geo_fleet.values())


def test_a_region_down_during_a_push_is_levelled_by_reconcile(api_client, contoso, geo_fleet, scratch):
    westeurope, eastus = geo_fleet["westeurope"], geo_fleet["eastus"]
    westeurope.stop()
    user_push(scratch, eastus, "src/app01:1.0", "contoso/batch/job:3.0")
    digest = digest_of(eastus, "contoso/batch/job", "3.0")
    up = {n: p for n, p in geo_fleet.items() if n != "westeurope"}
    wait_for(lambda: everywhere(up, "contoso/batch/job", "3.0", digest), timeout=120,
             message="the image in the regions that are up")
    row = wait_for(lambda: ImageReplication.objects.filter(region__name="westeurope", status="failed").first(),
                   timeout=120, message="the copy into the stopped region to give up")
    assert row.failure_reason

    westeurope.start()
    assert digest_of(westeurope, "contoso/batch/job", "3.0") is None, "nothing replays the lost copy by itself"
    reconcile_replicas.apply_async(queue=PORTAL_QUEUE)  # what beat sends every REPLICATION_RECONCILE_SECONDS
    wait_for(lambda: everywhere(geo_fleet, "contoso/batch/job", "3.0", digest), timeout=120,
             message="reconcile to bring westeurope level")
    run = ReconcileRun.objects.filter(registry__name="contoso").exclude(difference_count=0).first()
    assert run and run.jobs_queued and run.finished_at
    assert {(d["region"], d["problem"]) for d in run.differences} == {("westeurope", "missing")}
    body = wait_for(lambda: (lambda b: b if all(r["status"] == "complete" for r in b["regions"]) else None)(
        api_client.get("/api/v1/registries/contoso/replication-status/",
                       {"repository": "contoso/batch/job", "reference": "3.0"}).json()),
        timeout=60, message="westeurope complete in the status API")
    assert all(r["completed_at"] for r in body["regions"])


def test_a_real_push_notifies_regional_webhooks_push_and_replicated(api_client, local_receivers_allowed, contoso,
                                                                   geo_fleet, scratch):
    # local_receivers_allowed before geo_fleet: its worker must start with loopback allowed.
    import hashlib
    import hmac
    import json

    from tests.test_webhooks.receiver import WebhookReceiver

    secret = "a-shared-webhook-secret"
    with WebhookReceiver() as receiver:
        for name, region, action in [("eastpush", "eastus", "push"), ("westrepl", "westus", "replicated"),
                                     ("canadapush", "canadacentral", "push")]:
            response = api_client.post("/api/v1/registries/contoso/webhooks/", {
                "name": name, "region": region, "service_uri": f"{receiver.url}/{name}", "actions": [action],
                "scope": "products/api:*", "secret": secret}, format="json")
            assert response.status_code == 201, response.content
        user_push(scratch, geo_fleet["eastus"], "src/app01:1.0", "contoso/products/api:7.0")
        digest = digest_of(geo_fleet["eastus"], "contoso/products/api", "7.0")
        wait_for(lambda: receiver.received("/eastpush") and receiver.received("/westrepl"), timeout=120,
                 message="the push and replicated deliveries")
        wait_for(lambda: everywhere(geo_fleet, "contoso/products/api", "7.0", digest), timeout=60,
                 message="the image everywhere")
        for path, action, region in [("/eastpush", "push", "eastus"), ("/westrepl", "replicated", "westus")]:
            [request] = receiver.received(path)
            body = json.loads(request.body)
            assert body["action"] == action and body["region"] == region
            assert body["target"]["repository"] == "products/api" and body["target"]["tag"] == "7.0"
            assert body["target"]["digest"] == digest
            expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request.headers["X-Signature-SHA256"], expected)
        assert receiver.received("/canadapush") == [], "the push happened in eastus, not in canadacentral"
