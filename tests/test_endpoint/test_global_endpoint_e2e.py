"""The global endpoint end to end: a real gunicorn process, real Distribution registries requiring the
portal's tokens, the session's portal as the token realm, clients leaving from different addresses.

Transactional, so the endpoint process and the realm see the users, registries and health rows.
"""
import datetime as dt
import os
import subprocess

import httpx
import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from replication.choices import RoutingDecision
from replication.models import Region, RegionHealth, RegistryToken
from replication.oci.client import RegistryClient, digest_of
from replication.services.health import region_health_probe
from tests.conftest import fleet_client
from tests.test_endpoint.conftest import (
    COOLDOWN,
    EUROPE_ADDRESS,
    PASSWORD,
    US_ADDRESS,
    EndpointProcess,
    counter,
    image_push,
    network_client,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

def seed_everywhere(registry, repository: str, tag: str) -> str:
    """The same image under `tag` in every replica (as a finished replication leaves it); returns its digest."""
    payload = os.urandom(2048)
    digests = {image_push(fleet_client(Region.objects.get(name=name).endpoint, prefix=registry.repository_prefix),
                          repository, tag, payload=payload) for name in ("westus", "eastus", "westeurope")}
    assert len(digests) == 1
    return digests.pop()


def test_v2_without_a_bearer_answers_the_token_services_challenge(endpoint, portal_server):
    response = httpx.get(endpoint.url + "/v2/")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{portal_server.url}/oauth2/token"')
    assert 'service="georegistry"' in challenge


def test_a_token_for_another_repository_is_challenged_with_the_right_scope(endpoint, contoso):
    repository = f"{contoso.name}/app"
    token = httpx.get(endpoint.env["PORTAL_BASE_URL"] + "/oauth2/token",
                      params={"service": "georegistry", "scope": f"repository:{contoso.name}/other:pull"},
                      auth=(contoso.user.username, PASSWORD)).json()["token"]
    response = httpx.get(f"{endpoint.url}/v2/{repository}/manifests/1.0", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert f'scope="repository:{repository}:pull"' in response.headers["WWW-Authenticate"]


def test_each_network_pulls_from_its_nearest_region(endpoint, contoso):
    repository = f"{contoso.name}/app"
    digest = seed_everywhere(contoso, repository, "1.0")
    for address, region in [(EUROPE_ADDRESS, "westeurope"), (US_ADDRESS, "westus")]:
        with network_client(endpoint.url, address=address, username=contoso.user.username,
                            password=PASSWORD) as client:
            manifest = client.get(f"/v2/{repository}/manifests/1.0")
            assert manifest.status_code == 200, manifest.text
            assert manifest.headers["Docker-Content-Digest"] == digest
            assert manifest.headers["X-Served-By-Region"] == region
            layer = manifest.json()["layers"][0]["digest"]
            blob = client.get(f"/v2/{repository}/blobs/{layer}")
            assert blob.status_code == 200
            assert blob.headers["X-Served-By-Region"] == region
            assert digest_of(blob.content) == layer
    assert counter("westeurope", RoutingDecision.SERVED) == 2  # the manifest and the blob
    assert counter("westus", RoutingDecision.SERVED) == 2


@pytest.fixture
def redirecting_endpoint(portal_server, contoso, tmp_path):
    process = EndpointProcess(portal_url=portal_server.url, log_path=tmp_path / "endpoint.log", cooldown=COOLDOWN,
                              ENDPOINT_BLOB_DOWNLOADS="redirect")
    process.start()
    yield process
    process.stop()


def test_in_redirect_mode_a_blob_download_is_sent_to_the_nearest_regions_data_endpoint(redirecting_endpoint,
                                                                                         contoso):
    repository = f"{contoso.name}/app"
    seed_everywhere(contoso, repository, "1.0")
    with network_client(redirecting_endpoint.url, address=EUROPE_ADDRESS, username=contoso.user.username,
                        password=PASSWORD) as europe:
        layer = europe.get(f"/v2/{repository}/manifests/1.0").json()["layers"][0]["digest"]
        blob = europe.get(f"/v2/{repository}/blobs/{layer}")
    assert blob.status_code == 307
    assert blob.headers["Location"] == f"{Region.objects.get(name='westeurope').endpoint}/v2/{repository}/blobs/{layer}"
    assert counter("westeurope", RoutingDecision.REDIRECTED) == 1


def test_a_stopped_region_fails_over_to_the_next_nearest_and_returns_after_the_cooldown(endpoint, contoso,
                                                                                        westeurope):
    repository = f"{contoso.name}/app"
    digest = seed_everywhere(contoso, repository, "1.0")
    with network_client(endpoint.url, address=EUROPE_ADDRESS, username=contoso.user.username,
                        password=PASSWORD) as europe:
        def served_by() -> str:
            response = europe.get(f"/v2/{repository}/manifests/1.0")
            assert response.status_code == 200, response.text
            assert response.headers["Docker-Content-Digest"] == digest
            return response.headers["X-Served-By-Region"]

        assert served_by() == "westeurope"
        westeurope.stop()
        # Health still says up (no probe yet): the read fails in West Europe and is retried in East US.
        assert served_by() == "eastus"
        assert counter("eastus", RoutingDecision.FAILED_OVER) == 1
        region_health_probe()  # what beat does every REGION_HEALTH_INTERVAL
        assert served_by() == "eastus"
        assert counter("eastus", RoutingDecision.SERVED) == 1

        westeurope.start()
        region_health_probe()
        assert RegionHealth.objects.get(region__name="westeurope").state == "up"
        assert served_by() == "eastus"  # up again, but cooling down
        # The cooldown is measured from the recorded `since`: move it back as time passing would.
        RegionHealth.objects.filter(region__name="westeurope").update(
            since=timezone.now() - dt.timedelta(seconds=COOLDOWN + 1))
        assert served_by() == "westeurope"


@pytest.fixture
def scratch(registry_factory):
    """A registry outside the fleet (no auth) holding the images a user will push through the endpoint."""
    return registry_factory("scratch")


def test_a_tag_pushed_in_europe_pulls_as_the_new_digest_from_the_us_every_time(endpoint, contoso, scratch, skopeo,
                                                                                tmp_path):
    """No worker runs: nothing replicates, and West US keeps the old digest under the tag."""
    repository = f"{contoso.name}/app"
    old = seed_everywhere(contoso, repository, "latest")
    endpoint_host = endpoint.url.removeprefix("http://")
    source = RegistryClient(scratch.url)
    with network_client(endpoint.url, address=US_ADDRESS, username=contoso.user.username,
                        password=PASSWORD) as us:
        for round_number in range(8):
            image_push(source, "src/app", "latest", payload=os.urandom(4096))
            digest_file = tmp_path / f"digest-{round_number}"
            pushed = subprocess.run(
                [skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--digestfile", str(digest_file),
                 "--dest-creds", f"{contoso.user.username}:{PASSWORD}",
                 f"docker://{scratch.url.removeprefix('http://')}/src/app:latest",
                 f"docker://{endpoint_host}/{repository}:latest"], capture_output=True, text=True, timeout=120)
            assert pushed.returncode == 0, pushed.stderr
            new = digest_file.read_text().strip()  # skopeo compresses the layer: its manifest, not the source's
            pulled = us.get(f"/v2/{repository}/manifests/latest")
            assert pulled.status_code == 200, pulled.text
            assert pulled.headers["Docker-Content-Digest"] == new != old, f"round {round_number}"
            # The push went to the pusher's nearest replica (127.0.0.1 is in the Europe network).
            assert pulled.headers["X-Served-By-Region"] == "westeurope"
            layer = pulled.json()["layers"][0]["digest"]
            blob = us.get(f"/v2/{repository}/blobs/{layer}")
            assert blob.status_code == 200  # present in West Europe only: never a false 404
            assert blob.headers["X-Served-By-Region"] == "westeurope"
    assert counter("westeurope", RoutingDecision.STALE_AVOIDED) >= 8


def test_our_own_oci_client_pushes_through_the_login_server(endpoint, contoso):
    """The upload opens in the nearest region, whose address the POST's Location names: the client gives that host
    its bearer tokens because the host answers to the same token service (it used to send nothing there: 401)."""
    repository = f"{contoso.name}/ours"
    with RegistryClient(endpoint.url, username=contoso.user.username, password=PASSWORD) as client:
        digest = image_push(client, repository, "1.0", payload=os.urandom(4096))
        assert client.head_manifest(repository, "1.0").digest == digest
    westeurope = Region.objects.get(name="westeurope")  # 127.0.0.1's region (CLIENT_NETWORKS)
    with fleet_client(westeurope.endpoint, prefix=contoso.repository_prefix) as region:
        assert region.head_manifest(repository, "1.0").digest == digest


def test_podman_pushes_through_the_login_server_into_the_nearest_region(endpoint, contoso, podman):
    repository = f"{contoso.name}/app"
    seed_everywhere(contoso, repository, "1.0")
    host = endpoint.url.removeprefix("http://")
    pushed = f"{host}/{contoso.name}/pushed:2.0"
    for argv in (("login", "--tls-verify=false", "-u", contoso.user.username, "-p", PASSWORD, host),
                 ("pull", "--tls-verify=false", f"{host}/{repository}:1.0"),
                 ("tag", f"{host}/{repository}:1.0", pushed),
                 ("push", "--tls-verify=false", pushed)):
        result = podman(*argv)
        assert result.returncode == 0, (argv[0], result.stderr)
    with fleet_client(Region.objects.get(name="westeurope").endpoint, prefix=contoso.repository_prefix) as region:
        assert region.head_manifest(f"{contoso.name}/pushed", "2.0") is not None  # 127.0.0.1's region
    with fleet_client(Region.objects.get(name="westus").endpoint, prefix=contoso.repository_prefix) as region:
        assert region.head_manifest(f"{contoso.name}/pushed", "2.0") is None  # written there only (no worker here)


def test_skopeo_and_podman_pull_through_the_login_server_with_a_registry_token(endpoint, contoso, short_tmp,
                                                                                skopeo, podman):
    repository = f"{contoso.name}/app"
    digest = seed_everywhere(contoso, repository, "1.0")
    username, password = f"{contoso.name}/ci", "token-password"
    RegistryToken.objects.create(registry=contoso, name="ci", password_hash=make_password(password),
                                 scope=[{"repository": "app", "actions": ["pull"]}])
    host = endpoint.url.removeprefix("http://")
    inspected = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false", "--creds", f"{username}:{password}",
                                f"docker://{host}/{repository}:1.0"], capture_output=True, timeout=60)
    assert inspected.returncode == 0, inspected.stderr
    assert digest_of(inspected.stdout) == digest
    login = podman("login", "--tls-verify=false", "-u", username, "-p", password, host)
    assert login.returncode == 0, login.stderr
    pulled = podman("pull", "--tls-verify=false", f"{host}/{repository}:1.0")
    assert pulled.returncode == 0, pulled.stderr
    copied = subprocess.run([skopeo, "copy", "--src-tls-verify=false", "--src-creds", f"{username}:{password}",
                             f"docker://{host}/{repository}:1.0", f"oci:{short_tmp / 'layout'}:1.0"],
                            capture_output=True, text=True, timeout=60)
    assert copied.returncode == 0, copied.stderr
