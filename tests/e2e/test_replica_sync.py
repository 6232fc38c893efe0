"""End to end: real Distribution registries, a real Celery worker, the REST API, skopeo as the judge."""
import json
import subprocess
import time

import httpx
import pytest

from replication.choices import JobKind, JobState, ReplicaStatus
from replication.models import Region, Replica, ReplicationJob
from replication.oci.corpus import build_corpus, push_corpus
from tests.conftest import fleet_client, fleet_http_auth, wait_for

USER_CREDS = "alice:correct-horse"  # the staff user behind api_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def tag_digests(endpoint: str, prefix: str) -> dict[tuple[str, str], str]:
    """Every (repository, tag) → digest under the prefix, read with plain HTTP (not the project's client)."""
    result = {}
    with httpx.Client(base_url=endpoint, timeout=30, auth=fleet_http_auth(prefix)) as http:
        repositories = [r for r in http.get("/v2/_catalog", params={"n": 1000}).json()["repositories"]
                        if r.startswith(prefix)]
        accept = ", ".join([
            "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ])
        for repository in repositories:
            for tag in http.get(f"/v2/{repository}/tags/list").json().get("tags") or []:
                response = http.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": accept})
                if response.status_code == 404:
                    continue  # deleted between the tag list and this read
                response.raise_for_status()
                result[(repository, tag)] = response.headers["Docker-Content-Digest"]
    return result


def skopeo_raw(endpoint: str, image: str) -> bytes:
    host = endpoint.removeprefix("http://")
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", USER_CREDS,
                           f"docker://{host}/{image}"],
                           check=True, capture_output=True, timeout=60).stdout


def push_with_skopeo_from_layout(tmp_path, endpoint: str, image: str) -> None:
    """Push one image the way a user would: skopeo copy from an OCI layout on disk."""
    layout = tmp_path / "layout"
    host = endpoint.removeprefix("http://")
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--src-creds", USER_CREDS,
                    f"docker://{host}/contoso/app00:1.0",
                    f"oci:{layout}:seed"], check=True, capture_output=True, timeout=120)
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", USER_CREDS, f"oci:{layout}:seed",
                    f"docker://{host}/{image}"], check=True, capture_output=True, timeout=120)


@pytest.fixture
def contoso(registry_with_replicas, admin_user):
    """Premium contoso homed in westus, owned by the API client's user; no replica besides home yet."""
    return registry_with_replicas(name="contoso", replicas=(), owner=admin_user)


def wait_for_replica(api_client, region, *, timeout=120):
    def ready():
        body = api_client.get(f"/api/v1/registries/contoso/replicas/{region}/").json()
        if body["status"] == ReplicaStatus.FAILED:
            pytest.fail(f"replica failed: {body['status_message']}")
        return body if body["status"] == ReplicaStatus.READY else None

    return wait_for(ready, timeout=timeout, message=f"replica in {region} to be ready")


def test_new_replica_gets_every_image_byte_for_byte(api_client, contoso, deployed_regions, celery_worker_process,
                                                    tmp_path):
    home, target = deployed_regions["westus"].endpoint, deployed_regions["eastus"].endpoint
    with fleet_client(home, prefix="contoso/") as client:
        pushed = push_corpus(client, build_corpus(7, repositories=3, tags_per_repo=2), "contoso/")
    push_with_skopeo_from_layout(tmp_path, home, "contoso/tools/skopeo-pushed:2.0")
    at_home = tag_digests(home, "contoso/")
    assert len(at_home) == len(pushed) + 1 and any(tag == "latest" for _, tag in at_home)

    started = time.monotonic()
    response = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json")
    assert response.status_code == 202
    replica = wait_for_replica(api_client, "eastus")
    elapsed = time.monotonic() - started

    assert tag_digests(target, "contoso/") == at_home
    index_tag = next(f"{repo}:{tag}" for (repo, tag) in at_home if repo == "contoso/app00")
    index = skopeo_raw(target, index_tag)
    assert index == skopeo_raw(home, index_tag)
    assert json.loads(index)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    for child in json.loads(index)["manifests"]:
        child_ref = f"contoso/app00@{child['digest']}"
        assert skopeo_raw(target, child_ref) == skopeo_raw(home, child_ref)

    job = api_client.get(replica["latest_job"]["url"]).json()
    assert job["state"] == JobState.SUCCEEDED
    assert job["manifests_done"] == job["manifests_total"] > 0
    assert job["bytes_done"] == job["bytes_total"] > 0 and job["percent_done"] == 100
    assert replica["last_synced_at"]
    print(f"initial sync of {len(at_home)} tags, {job['bytes_total'] / 1e6:.1f} MB: {elapsed:.1f} s")


def test_sync_twice_copies_nothing_the_second_time(api_client, contoso, deployed_regions, celery_worker_process):
    from replication.dispatch import job_send
    from replication.models import ReplicationJob as Job

    with fleet_client(deployed_regions["westus"].endpoint, prefix="contoso/") as client:
        push_corpus(client, build_corpus(8, repositories=2, tags_per_repo=2), "contoso/")
    api_client.post("/api/v1/registries/contoso/replicas/", {"region": "canadacentral"}, format="json")
    wait_for_replica(api_client, "canadacentral")
    first = Job.objects.get(region__name="canadacentral")
    again = Job.objects.create(replica=first.replica, registry=first.registry, region=first.region, kind=JobKind.RESYNC)
    job_send(again)  # outside a transaction: sent at once
    wait_for(lambda: Job.objects.get(pk=again.pk).state == JobState.SUCCEEDED, message="second sync")
    again.refresh_from_db()
    assert again.bytes_total == 0 and again.blobs_total == 0 and again.manifests_total == 0
    assert first.bytes_total > 0


def test_killed_worker_is_replaced_and_the_sync_completes(api_client, contoso, deployed_regions,
                                                          celery_worker_process):
    home, target = deployed_regions["westus"].endpoint, deployed_regions["westeurope"].endpoint
    corpus = build_corpus(9, repositories=4, tags_per_repo=3, base_layer_size=4 << 20, unique_layer_size=6 << 20,
                          layers_per_image=2)
    with fleet_client(home, prefix="contoso/") as client:
        push_corpus(client, corpus, "contoso/")
    at_home = tag_digests(home, "contoso/")

    api_client.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"}, format="json")
    job = wait_for(
        lambda: ReplicationJob.objects.filter(region__name="westeurope", state=JobState.RUNNING,
                                              bytes_done__gt=0).first(),
        interval=0.05, message="the sync to be under way",
    )
    celery_worker_process.kill()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.bytes_done < job.bytes_total, "killed before it finished"
    copied_before_the_kill = job.bytes_done  # as last recorded (every 0.5 s) by the killed attempt
    partial = tag_digests(target, "contoso/")
    assert partial != at_home

    celery_worker_process.start()
    wait_for_replica(api_client, "westeurope")
    assert tag_digests(target, "contoso/") == at_home
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2
    # bytes_done counts both attempts' copies, not the last one's only (exactly: test_honest_numbers).
    assert job.bytes_done == job.bytes_total > copied_before_the_kill and job.percent_done == 100


def test_unreachable_region_fails_after_retries_with_the_reason(api_client, contoso, region_registries,
                                                                celery_worker_process, fleet_auth):
    from replication.dataplane import DistributionProcess, find_free_port

    doomed = DistributionProcess("eastus", port=find_free_port(), storage_dir=celery_worker_process.log_path.parent
                                 / "doomed", http_secret="x", auth=fleet_auth)
    doomed.start()
    Region.objects.filter(name="eastus").update(endpoint=doomed.url)
    with fleet_client(region_registries["westus"].url, prefix="contoso/") as client:
        push_corpus(client, build_corpus(10, repositories=1, tags_per_repo=1), "contoso/")
    doomed.stop()
    # Available when checked a moment ago; gone when the worker gets there.
    from replication import services
    from replication.models import Registry
    from unittest import mock

    with mock.patch("replication.services.replicas.region_health_check", return_value=True):
        services.replica_create(registry=Registry.objects.get(), region="eastus")
    replica = wait_for(lambda: Replica.objects.filter(region__name="eastus", status=ReplicaStatus.FAILED).first(),
                       timeout=90, message="the replica to fail")
    assert "Cannot reach" in replica.status_message and "gave up after" in replica.status_message
    job = ReplicationJob.objects.get(region__name="eastus")
    assert job.state == JobState.FAILED and job.attempts >= 2

    # The region is back: "Sync again" brings the failed replica level.
    doomed.start()
    try:
        response = api_client.post("/api/v1/registries/contoso/replicas/eastus/sync/")
        assert response.status_code == 202, response.content
        wait_for_replica(api_client, "eastus")
        assert tag_digests(doomed.url, "contoso/") == tag_digests(region_registries["westus"].url, "contoso/")
    finally:
        doomed.stop()


def test_deleting_a_replica_and_the_registry_removes_their_content(api_client, contoso, deployed_regions,
                                                                   celery_worker_process):
    home, east = deployed_regions["westus"].endpoint, deployed_regions["eastus"].endpoint
    with fleet_client(home, prefix="contoso/") as client:
        push_corpus(client, build_corpus(11, repositories=2, tags_per_repo=1), "contoso/")
    api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json")
    wait_for_replica(api_client, "eastus")
    assert tag_digests(east, "contoso/") == tag_digests(home, "contoso/") != {}

    assert api_client.delete("/api/v1/registries/contoso/replicas/eastus/").status_code == 202
    wait_for(lambda: not Replica.objects.filter(region__name="eastus").exists(), message="the replica row to go")
    assert tag_digests(east, "contoso/") == {}, "its images are gone from East US"
    assert tag_digests(home, "contoso/") != {}, "and still at home"

    assert api_client.delete("/api/v1/registries/contoso/").status_code == 204
    wait_for(lambda: tag_digests(home, "contoso/") == {}, message="the registry's images to go from West US")
