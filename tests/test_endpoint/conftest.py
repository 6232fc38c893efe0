"""The global endpoint as a real process (gunicorn, as `manage.py run_endpoint` starts it), and clients that
reach it from different source addresses."""
import datetime as dt
import io
import json
import os
import re
import subprocess
import tarfile
import uuid
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from replication import services
from replication.choices import ReplicaStatus, RoutingDecision

from replication.dataplane import find_free_port
from replication.endpoint.server import data_endpoint_command, endpoint_argv
from replication.models import Region, RegionHealth, Replica, RoutingCounter
from replication.oci.client import RegistryClient, digest_of
from replication.services.regions import region_set_endpoint
from replication.testing import wait_until
from tests.conftest import ROOT, subprocess_database_url

# Each "network" is a loopback address of its own: the endpoint sees a different source address per client.
EUROPE_ADDRESS = "127.0.0.2"
US_ADDRESS = "127.0.0.3"
CLIENT_NETWORKS = f"{EUROPE_ADDRESS}/32=westeurope,{US_ADDRESS}/32=westus,127.0.0.1/32=westeurope"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PASSWORD = "correct-horse-battery"
COOLDOWN = 30.0
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


class EndpointProcess:
    def __init__(self, *, portal_url: str, log_path: Path, cooldown: float, **settings_env):
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "PORTAL_BASE_URL": portal_url,
                    "CLIENT_NETWORKS": CLIENT_NETWORKS, "CLIENT_DEFAULT_REGION": "westus",
                    "ROUTING_FAILBACK_COOLDOWN": str(cooldown), "ENDPOINT_UPSTREAM_CONNECT_TIMEOUT": "0.5",
                    "DJANGO_SETTINGS_MODULE": "portal.endpoint_settings", "PYTHONUNBUFFERED": "1",
                    "ROUTING_COUNTER_FLUSH_SECONDS": "0",  # the tests read the counters right after a request
                    **settings_env}
        self.popen = None

    ready_status = 401  # GET /v2/ without a bearer: the token challenge

    def argv(self) -> list[str]:
        # Every loopback address, so clients bound to 127.0.0.2 / .3 reach it too.
        return endpoint_argv(binds=[f"0.0.0.0:{self.port}"], workers=1, threads=8)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv(), cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

        def answers():
            if self.popen.poll() is not None:
                raise RuntimeError(f"the endpoint exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                return httpx.get(self.url + "/v2/", timeout=2).status_code == self.ready_status
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60, interval=0.2, message="the global endpoint to answer")
        return self

    def stop(self):
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class DataEndpointProcess(EndpointProcess):
    """A region's data endpoint (gunicorn, as `manage.py run_data_endpoint REGION` starts it); its access log
    is `log_path`, which tells which blob requests it served."""

    ready_status = 405  # it serves signed blob URLs only

    def __init__(self, *, region: str, portal_url: str, log_path: Path, **settings_env):
        super().__init__(portal_url=portal_url, log_path=log_path, cooldown=0, **settings_env)
        self.region = region
        argv, env = data_endpoint_command(region=region, bind=f"127.0.0.1:{self.port}", workers=1, threads=8)
        self._argv = argv
        self.env = {**self.env, "DJANGO_SETTINGS_MODULE": env["DJANGO_SETTINGS_MODULE"],
                    "DATA_ENDPOINT_REGION": region}

    def argv(self) -> list[str]:
        return self._argv

    def blob_requests(self, *, method: str = "GET") -> list[str]:
        """The request lines of blob downloads in its access log: '"GET /v2/<repo>/blobs/<digest>?... HTTP/1.1" 200'."""
        return re.findall(rf'"{method} (/v2/\S+/blobs/\S+) HTTP/1.1" (\d+)', self.log_path.read_text())


class TokenAuth(httpx.Auth):
    """The OCI token flow with a user's password (what `docker login` does), from the client's own address."""

    def __init__(self, username: str, password: str, *, local_address: str):
        self.credentials = (username, password)
        self.local_address = local_address

    def auth_flow(self, request):
        response = yield request
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.startswith("Bearer "):
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            answer = httpx.get(params["realm"], params={"service": params["service"], "scope": params.get("scope", "")},
                               auth=self.credentials)
            request.headers["Authorization"] = f"Bearer {answer.json()['token']}"
            yield request


def network_client(base_url: str, *, address: str, username: str, password: str) -> httpx.Client:
    """An HTTP client whose connections leave from `address` (its "network")."""
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=address),
                        auth=TokenAuth(username, password, local_address=address), headers={"Accept": ACCEPT},
                        timeout=30)


def layer_tar(payload: bytes) -> bytes:
    """An uncompressed tar with one file holding `payload`: a layer real clients can unpack."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def image_push(client: RegistryClient, repository: str, tag: str, *, payload: bytes) -> str:
    """A one-layer OCI image whose layer holds `payload`; returns the manifest's digest."""
    payload = layer_tar(payload)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(payload)]}}).encode()
    layer_digest = client.push_blob(repository, payload)
    config_digest = client.push_blob(repository, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(payload)}],
    }).encode()
    return client.put_manifest(repository, tag, manifest, OCI_MANIFEST)


# ---- the fleet the endpoint tests share -------------------------------------------------------


@pytest.fixture
def westeurope(registry_factory, fleet_auth, deployed_regions):
    """West Europe on a registry of its own (requiring the portal's tokens), which a test may stop and start."""
    process = registry_factory("westeurope", auth=fleet_auth)
    region_set_endpoint(name="westeurope", endpoint=process.url)
    return process


@pytest.fixture
def contoso(deployed_regions, westeurope):
    """Registry `contoso<random>` owned by alice: home West US, replicas in East US and West Europe, all ready,
    every region up for longer than the failback cooldown."""
    user = get_user_model().objects.create_user(f"alice{uuid.uuid4().hex[:6]}", password=PASSWORD)
    registry = services.registry_create(name=f"contoso{uuid.uuid4().hex[:6]}", sku="Premium", home_region="westus",
                                        owner=user)
    for name in ("eastus", "westeurope"):
        Replica.objects.create(registry=registry, region=Region.objects.get(name=name), status=ReplicaStatus.READY)
    RegionHealth.objects.filter(state="up").update(since=timezone.now() - dt.timedelta(hours=1))
    registry.user = user
    return registry


@pytest.fixture
def endpoint(portal_server, contoso, tmp_path):
    process = EndpointProcess(portal_url=portal_server.url, log_path=tmp_path / "endpoint.log", cooldown=COOLDOWN)
    process.start()
    yield process
    process.stop()


def counter(region: str, decision: RoutingDecision) -> int:
    row = RoutingCounter.objects.filter(region__name=region, decision=decision).first()
    return row.count if row else 0


