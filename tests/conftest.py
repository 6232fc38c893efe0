"""Shared fixtures: real regional registries, an API client, and a real Celery worker process."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from replication.dataplane import DistributionProcess, find_free_port
from replication.catalog import catalog_seed
from replication.models import Region, Sku
from replication.queues import PORTAL_QUEUE, region_queue

# tests.registry_fixtures (registry_factory, registry_pair) is added once it exists.
pytest_plugins = [p for p in ["tests.registry_fixtures"] if (Path(__file__).parent / "registry_fixtures.py").exists()]

ROOT = Path(__file__).resolve().parent.parent
# The regions the tests deploy data planes in; the catalog's other regions stay unavailable.
TEST_REGIONS = ["westus", "eastus", "canadacentral", "westeurope"]


@pytest.fixture(scope="session")
def region_registries(tmp_path_factory):
    """One real Distribution registry per test region for the whole session: {name: process}."""
    root = tmp_path_factory.mktemp("regions")
    processes = {}
    try:
        for name in TEST_REGIONS:
            process = DistributionProcess(name, port=find_free_port(), storage_dir=root / name,
                                          http_secret=f"test-{name}", log_path=root / f"{name}.log")
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
    """Point the test regions at their registries; returns {name: Region}."""
    regions = {}
    for name, process in region_registries.items():
        Region.objects.filter(name=name).update(endpoint=process.url)
        regions[name] = Region.objects.get(name=name)
    return regions


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
               "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(self.queues),
                "-c", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"]
        self.log = open(self.log_path, "ab")
        # Its own process group, so a test can kill the worker with its pool children at once.
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return self
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker did not start:\n{self.log_tail()}")

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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"Timed out after {timeout} s waiting for {message}")


def pytest_sessionfinish(session):
    if settings.CELERY_BROKER_URL.startswith("filesystem://") and "test-broker" in str(settings.CELERY_BROKER_FOLDER):
        shutil.rmtree(settings.CELERY_BROKER_FOLDER, ignore_errors=True)


LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


@pytest.fixture
def local_receivers_allowed(settings, monkeypatch):
    """Open loopback to the outbound guard: this test's webhook receivers and import sources listen on 127.0.0.1.

    Also in the environment, so a worker process started after this fixture allows it too.
    """
    settings.OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", LOOPBACK_NETWORKS)
