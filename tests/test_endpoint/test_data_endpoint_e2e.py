"""Data endpoints end to end: the global endpoint answers blob downloads 307 with a signed URL, and the
chosen region's data endpoint (a real gunicorn process) serves the bytes from its registry.

Transactional, so the endpoint processes see the users, registries and regions the tests write.
"""
import hashlib
import json
import os
import re
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.hashers import make_password

from replication.choices import RoutingDecision
from replication.models import Region, RegistryToken
from replication.oci.client import RegistryClient, digest_of
from replication.services.data_urls import data_url_sign
from replication.services.regions import region_set_data_endpoint
from replication.testing import wait_until
from tests.conftest import fleet_client
from tests.test_endpoint.conftest import (
    EUROPE_ADDRESS,
    OCI_MANIFEST,
    PASSWORD,
    DataEndpointProcess,
    counter,
    layer_tar,
    network_client,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def europe_data_endpoint(portal_server, contoso, westeurope, tmp_path):
    """West Europe's data endpoint, recorded on the region (the global endpoint redirects there)."""
    process = DataEndpointProcess(region="westeurope", portal_url=portal_server.url,
                                  log_path=tmp_path / "data-westeurope.log").start()
    region_set_data_endpoint(name="westeurope", data_endpoint=process.url)
    yield process
    process.stop()


def multi_layer_image_push(client: RegistryClient, repository: str, tag: str, *, layers: list[bytes]) -> dict:
    """An OCI image with one layer per payload; returns its manifest as pushed."""
    tars = [layer_tar(payload) for payload in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(t) for t in tars]}}).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": client.push_blob(repository, config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": client.push_blob(repository, t),
                    "size": len(t)} for t in tars],
    }
    client.put_manifest(repository, tag, json.dumps(manifest).encode(), OCI_MANIFEST)
    return manifest


def europe_image(contoso, repository: str, *, layers: list[bytes]) -> dict:
    return multi_layer_image_push(fleet_client(Region.objects.get(name="westeurope").endpoint,
                                               prefix=contoso.repository_prefix), repository, "1.0", layers=layers)


def signed_location(endpoint, contoso, repository: str, digest: str, *, method: str = "GET") -> str:
    """The Location the global endpoint answers a European client's blob download with."""
    with network_client(endpoint.url, address=EUROPE_ADDRESS, username=contoso.user.username,
                        password=PASSWORD) as europe:
        response = europe.request(method, f"/v2/{repository}/blobs/{digest}")
    assert response.status_code == 307, response.text
    assert response.headers["X-Served-By-Region"] == "westeurope"
    return response.headers["Location"]


def test_skopeo_and_podman_pull_every_layer_from_the_data_endpoint_not_through_the_login_server(
        endpoint, contoso, europe_data_endpoint, short_tmp, skopeo, podman):
    repository = f"{contoso.name}/app"
    manifest = europe_image(contoso, repository, layers=[os.urandom(300_000), os.urandom(200_000), b"third"])
    layers = [layer["digest"] for layer in manifest["layers"]]
    username, password = f"{contoso.name}/ci", "token-password"
    RegistryToken.objects.create(registry=contoso, name="ci", password_hash=make_password(password),
                                 scope=[{"repository": "app", "actions": ["pull"]}])
    host = endpoint.url.removeprefix("http://")  # 127.0.0.1: the Europe network
    layout = short_tmp / "layout"
    copied = subprocess.run([skopeo, "copy", "--preserve-digests", "--src-tls-verify=false",
                             "--src-creds", f"{username}:{password}",
                             f"docker://{host}/{repository}:1.0", f"oci:{layout}:1.0"],
                            capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    for digest in layers:  # skopeo verified each digest as it read; check what it wrote too
        assert "sha256:" + hashlib.sha256((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
                                          ).hexdigest() == digest
    wait_until(lambda: len(europe_data_endpoint.blob_requests()) >= len(layers) + 1, timeout=10, interval=0.1,
               message="the layers in the data endpoint's log")
    served = europe_data_endpoint.blob_requests()
    for digest in layers + [manifest["config"]["digest"]]:
        assert any(path.startswith(f"/v2/{repository}/blobs/{digest}?") and status == "200"
                   for path, status in served), f"{digest} not served by the data endpoint: {served}"
    after_skopeo = counter("westeurope", RoutingDecision.REDIRECTED)
    assert after_skopeo >= len(layers) + 1
    login_server_blob_answers = re.findall(r'"GET /v2/\S+/blobs/sha256:\S+ HTTP/1.1" (\d+)',
                                           endpoint.log_path.read_text())
    assert login_server_blob_answers and set(login_server_blob_answers) == {"307"}  # not one byte through it

    assert podman("login", "--tls-verify=false", "-u", username, "-p", password, host).returncode == 0
    pulled = podman("pull", "--tls-verify=false", f"{host}/{repository}:1.0")
    assert pulled.returncode == 0, pulled.stderr
    wait_until(lambda: len(europe_data_endpoint.blob_requests()) >= len(served) + len(layers), timeout=10,
               interval=0.1, message="podman's layers in the data endpoint's log")
    assert counter("westeurope", RoutingDecision.REDIRECTED) >= after_skopeo + len(layers)


def registry_saw(process, digest: str) -> bool:
    return digest in process.log_path.read_text(errors="replace")


def test_a_tampered_foreign_or_expired_url_is_denied_before_any_registry_request(endpoint, contoso, westeurope,
                                                                                 europe_data_endpoint):
    repository = f"{contoso.name}/app"
    data = europe_data_endpoint.url
    region = Region.objects.get(name="westeurope")
    unseen = [digest_of(os.urandom(16)) for _ in range(4)]
    signed = data_url_sign(region=region, repository=repository, digest=unseen[0])
    tampered = signed[:-4] + ("0000" if not signed.endswith("0000") else "1111")
    westus = Region(name="westus", data_endpoint=data)  # signed for West US, sent to West Europe's data endpoint
    foreign_region = data_url_sign(region=westus, repository=repository, digest=unseen[1])
    other_repository = data_url_sign(region=region, repository=f"{contoso.name}/other", digest=unseen[2]).replace(
        f"{contoso.name}/other", repository)
    expired = data_url_sign(region=region, repository=repository, digest=unseen[3], now=time.time() - 3600)
    for url in (tampered, foreign_region, other_repository, expired, f"{data}/v2/{repository}/blobs/{unseen[0]}"):
        response = httpx.get(url)
        assert response.status_code == 403, url
        assert response.json()["errors"][0]["code"] == "DENIED"
    assert not any(registry_saw(westeurope, digest) for digest in unseen)
    # The same URL, untampered, does reach the registry (which has no such blob).
    assert httpx.get(signed).status_code == 404 and registry_saw(westeurope, unseen[0])


def test_a_range_request_to_the_data_endpoint_gets_206_with_those_bytes(endpoint, contoso, europe_data_endpoint):
    repository = f"{contoso.name}/app"
    manifest = europe_image(contoso, repository, layers=[os.urandom(100_000)])
    layer = manifest["layers"][0]
    whole = httpx.get(signed_location(endpoint, contoso, repository, layer["digest"]))
    assert whole.status_code == 200 and digest_of(whole.content) == layer["digest"]
    assert whole.headers["Docker-Content-Digest"] == layer["digest"]
    part = httpx.get(signed_location(endpoint, contoso, repository, layer["digest"]),
                     headers={"Range": "bytes=1000-50999"})
    assert part.status_code == 206
    assert part.content == whole.content[1000:51000]
    assert part.headers["Content-Range"] == f"bytes 1000-50999/{layer['size']}"


def test_head_of_a_blob_is_redirected_and_answered_by_the_data_endpoint(endpoint, contoso, europe_data_endpoint):
    repository = f"{contoso.name}/app"
    layer = europe_image(contoso, repository, layers=[b"small layer"])["layers"][0]
    location = signed_location(endpoint, contoso, repository, layer["digest"], method="HEAD")
    assert urlsplit(location).netloc == urlsplit(europe_data_endpoint.url).netloc
    head = httpx.head(location)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == layer["digest"]
    assert int(head.headers["Content-Length"]) == layer["size"]
    assert head.content == b""
    # gunicorn writes the access log line just after the answer
    wait_until(lambda: europe_data_endpoint.blob_requests(method="HEAD"), timeout=10, interval=0.1,
               message="the data endpoint to log the HEAD")
