"""Shared fixtures: real regional registries, an API client, registries with replicas, and a real Celery
worker process."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from replication import services
from replication.catalog import catalog_seed
from replication.choices import ReplicaStatus
from replication.dataplane import DistributionProcess, find_free_port
from replication.local_fleet import fleet_token_auth
from replication.models import Region, Registry, Replica, Sku
from replication.oci.client import RegistryClient
from replication.queues import PORTAL_QUEUE, region_queue
from replication.services.token_service import replication_credentials
from replication.testing import wait_until

# tests.registry_fixtures (registry_factory, registry_pair) is added once it exists.
pytest_plugins = [p for p in ["tests.registry_fixtures"] if (Path(__file__).parent / "registry_fixtures.py").exists()]

ROOT = Path(__file__).resolve().parent.parent
# The regions the tests deploy data planes in; the catalog's other regions stay unavailable.
TEST_REGIONS = ["westus", "eastus", "canadacentral", "westeurope"]


@pytest.fixture(scope="session")
def portal_server(django_db_setup):
    """The portal on a real HTTP server for the whole session: the token realm (and the event sink) of
    every fleet registry the tests start. Named apart from pytest-django's `live_server`, which would make
    every test that reaches a region transactional; the realm's engine and anonymous grants need no rows,
    and tests that log in as users or registry tokens are transactional, so the server sees their rows."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1")
    # The first request imports the URLconf and loads the signing key: not inside a 1 s region probe.
    httpx.get(server.url + "/oauth2/token", timeout=60)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fleet_auth(portal_server):
    """The auth.token section of every fleet registry in the tests (realm: the session's portal)."""
    return fleet_token_auth(portal_url=portal_server.url)


def fleet_client(endpoint: str, *, prefix: str) -> RegistryClient:
    """A client of a fleet registry with every right on one registry's repositories (the engine's identity),
    for tests that put content in place or look at it directly."""
    username, password = replication_credentials(prefix=prefix, actions=("pull", "push", "delete"), catalog=True)
    return RegistryClient(endpoint, username=username, password=password)


class TokenFlowAuth(httpx.Auth):
    """The OCI token flow in plain httpx, apart from the engine's client: answer a bearer challenge at its realm."""

    def __init__(self, username: str, password: str):
        self.credentials = (username, password)

    def auth_flow(self, request):
        response = yield request
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.startswith("Bearer "):
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            answer = httpx.get(params["realm"], params={"service": params.get("service", ""),
                                                        "scope": params.get("scope", "")}, auth=self.credentials)
            request.headers["Authorization"] = f"Bearer {answer.json()['token']}"
            yield request


def fleet_http_auth(prefix: str) -> TokenFlowAuth:
    """Plain-HTTP credentials for every right on one registry's repositories and the catalog."""
    return TokenFlowAuth(*replication_credentials(prefix=prefix, actions=("pull", "push", "delete"), catalog=True))


@pytest.fixture(scope="session")
def region_registries(tmp_path_factory, fleet_auth):
    """One real Distribution registry per test region for the whole session, requiring tokens: {name: process}."""
    root = tmp_path_factory.mktemp("regions")
    processes = {}
    try:
        for name in TEST_REGIONS:
            process = DistributionProcess(name, port=find_free_port(), storage_dir=root / name,
                                          http_secret=f"test-{name}", log_path=root / f"{name}.log", auth=fleet_auth)
            process.start()
            processes[name] = process
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture
def catalog(db):
    """Regions and SKUs as the migration seeds them (a transactional test's flush removes them)."""
    if not Sku.objects.exists():
        catalog_seed()


@pytest.fixture
def deployed_regions(catalog, region_registries):
    """Point the test regions at their registries (probed, so they show available); returns {name: Region}."""
    from replication.services.regions import region_set_endpoint

    regions = {}
    for name, process in region_registries.items():
        regions[name] = region_set_endpoint(name=name, endpoint=process.url, storage_root=process.storage_dir)
    return regions


@pytest.fixture
def registry_with_replicas(deployed_regions):
    """A factory: registry_with_replicas(name=..., replicas=(...), ...) creates a registry and its replicas.

    The registry goes through services.registry_create (validation, ready home replica, owner role).
    Its other replicas are, by default, rows written directly in `status` (with any other Replica
    fields given), as a worker would have left them: for tests that need the state, not the sync.
    With through_service=True they are recorded by services.replica_create instead (creating, an
    initial job queued, its task sent when the transaction commits): the real flow.
    """
    def create(*, name="contoso", home="westus", replicas=("eastus",), sku="Premium",
               status=ReplicaStatus.READY, owner=None, through_service=False, **replica_fields) -> Registry:
        registry = services.registry_create(name=name, sku=sku, home_region=home, owner=owner)
        for region in replicas:
            if through_service:
                services.replica_create(registry=registry, region=region)
            else:
                Replica.objects.create(registry=registry, region=Region.objects.get(name=region), status=status,
                                       **replica_fields)
        return registry

    return create


@pytest.fixture
def westeurope_registry(deployed_regions, registry_factory):
    """West Europe on a registry of its own, which a test may stop and start (the session's stay up)."""
    from replication.services.regions import region_set_endpoint

    registry = registry_factory("westeurope")
    region_set_endpoint(name="westeurope", endpoint=registry.url)
    return registry


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_user("alice", password="correct-horse", is_staff=True)


@pytest.fixture
def api_client(admin_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


def subprocess_database_url() -> str:
    """The URL of the database the tests use right now, for processes started by a test."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real `celery worker` process consuming the portal queue and the test regions' queues."""

    def __init__(self, log_path: Path, queues: list[str]):
        self.log_path = log_path
        self.queues = queues
        self.popen = None

    def start(self):
        env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "REPLICATION_RETRY_BACKOFF": "0.5",
               "CELERY_BROKER_FOLDER": str(settings.CELERY_BROKER_FOLDER),
               "REPLICATION_STALE_SECONDS": "30", "WEBHOOK_RETRY_BACKOFF": "0.2",
               "RETRY_JITTER": "0",  # exact waits, which the e2e tests measure
               "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(self.queues),
                "-c", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"]
        self.log = open(self.log_path, "ab")
        # Its own process group, so a test can kill the worker with its pool children at once.
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

        def ready() -> bool:
            if b"ready." in self.log_path.read_bytes():
                return True
            if self.popen.poll() is not None:
                raise RuntimeError(f"Celery worker exited at start:\n{self.log_tail()}")
            return False

        try:
            wait_until(ready, timeout=60, interval=0.2, message="the Celery worker to start")
        except TimeoutError:
            raise RuntimeError(f"Celery worker did not start:\n{self.log_tail()}") from None
        return self

    def kill(self):
        """Hard kill of the whole worker, as a crashed machine would."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self):
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)  # a warm shutdown of an idle worker; nothing is left to finish
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()

    def log_tail(self, lines=60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def purge_broker(queues):
    from portal.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:
                pass  # a queue that does not exist yet has nothing to purge


@pytest.fixture
def celery_worker_process(transactional_db, deployed_regions, tmp_path):
    """Start a real worker on the test database; yields a WorkerProcess that can be killed and restarted."""
    queues = [PORTAL_QUEUE, *(region_queue(n) for n in TEST_REGIONS)]
    purge_broker(queues)
    worker = WorkerProcess(tmp_path / "worker.log", queues)
    worker.start()
    yield worker
    worker.stop()
    print(worker.log_tail(30))


def wait_for(predicate, *, timeout=120, interval=0.25, message="condition"):
    """Poll until predicate() is truthy; returns its value. Fails the test with `message` on timeout."""
    try:
        return wait_until(predicate, timeout=timeout, interval=interval, message=message)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def pytest_sessionfinish(session):
    if settings.CELERY_BROKER_URL.startswith("filesystem://") and "test-broker" in str(settings.CELERY_BROKER_FOLDER):
        shutil.rmtree(settings.CELERY_BROKER_FOLDER, ignore_errors=True)
    if "test-metrics" in os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""):  # the run's counters (portal/settings.py)
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


@pytest.fixture
def local_receivers_allowed(settings, monkeypatch):
    """Open loopback to the outbound guard: this test's webhook receivers and import sources listen on 127.0.0.1.

    Also in the environment, so a worker process started after this fixture allows it too.
    """
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", LOOPBACK_NETWORKS)


@pytest.fixture
def short_tmp():
    """A scratch folder with a short path: podman refuses a runroot longer than 50 characters."""
    path = Path(tempfile.mkdtemp(prefix="podman-", dir="/tmp"))
    yield path
    subprocess.run(["podman", "unshare", "rm", "-rf", str(path)], capture_output=True)  # vfs layers owned by subuids
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def podman(short_tmp):
    """podman(*argv) -> CompletedProcess, with storage, auth file and runtime folder of its own under short_tmp:
    nothing of the machine's podman state is touched."""
    binary = shutil.which("podman")
    if binary is None:
        pytest.fail("podman is not installed: `apt-get install podman` (scripts/bootstrap.sh installs it)")
    storage = ["--root", str(short_tmp / "root"), "--runroot", str(short_tmp / "run"), "--storage-driver", "vfs"]
    env = {"REGISTRY_AUTH_FILE": str(short_tmp / "auth.json"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(short_tmp), "XDG_RUNTIME_DIR": str(short_tmp / "xdg")}
    (short_tmp / "xdg").mkdir()

    def run(*argv):
        return subprocess.run([binary, *storage, *argv], capture_output=True, text=True, timeout=180, env=env)

    return run


@contextmanager
def notification_sink(on_post):
    """A local endpoint for a registry's notifications: on_post(headers, body bytes) for each POST, answered 200.
    Yields its URL."""
    class Events(BaseHTTPRequestHandler):
        def do_POST(self):
            on_post(self.headers, self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Events)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/events"
    finally:
        server.shutdown()
        server.server_close()
