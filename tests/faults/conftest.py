"""The fault suite's fleet: three regions on hosts of their own (network namespaces behind delaying relays),
the control plane (gunicorn portal, beat, a portal-queue worker) in the root namespace, PostgreSQL and a
networked broker reached through each region's link. Needs root. Run with `pytest -m faults`.

FAULT_SECONDS sets how long a fault lasts (default 12, the CI version; `python -m bench.faults --long`: 60).
FAULTS_REPORT, when set, is a file each case appends its numbers to (one JSON line per case).
"""
import hashlib
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from replication import services
from replication.choices import ReplicaStatus
from replication.dataplane import DistributionProcess, find_free_port
from replication.fleet_hosts import REGISTRY_PORT, ControlPlane, HostFleet
from replication.oci.client import RegistryClient
from replication.oci.corpus import build_corpus, push_corpus
from replication.queues import PORTAL_QUEUE, region_queue
from tests.conftest import fleet_http_auth, purge_broker, subprocess_database_url

FAULT_REGIONS = {"westus": 0.040, "eastus": 0.040, "westeurope": 0.120}  # one-way delay of each region's link
HOME = "westus"
FAULT_SECONDS = float(os.environ.get("FAULT_SECONDS", "12"))
LEVEL_TIMEOUT = float(os.environ.get("FAULT_LEVEL_TIMEOUT", "240"))
# Apart from `run_fleet --hosts` (grf, 10.231.*), so both can run at once; two suites at once need their own.
PREFIX = os.environ.get("FAULT_FLEET_PREFIX", "grft")
OCTET = int(os.environ.get("FAULT_FLEET_OCTET", "232"))
USER = ("alice", "correct-horse")
ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


@pytest.fixture
def networked_services():
    """The suite cuts links, so the database and the broker must be reached over them: SQLite files and the
    filesystem broker would let a partitioned region carry on as if nothing happened."""
    if os.geteuid() != 0:
        pytest.fail("the fault suite needs root (ip netns, veth pairs)")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") or \
            settings.CELERY_BROKER_URL.startswith("filesystem"):
        pytest.fail("the fault suite needs PostgreSQL (DATABASE_URL) and Redis or RabbitMQ (CELERY_BROKER_URL)")


@pytest.fixture
def fleet_broker_url() -> str:
    """The broker the fleet uses: the one CELERY_BROKER_URL names; the broker cases override it with their own."""
    return settings.CELERY_BROKER_URL


def fleet_env(broker_url: str) -> dict:
    return {"DATABASE_URL": subprocess_database_url(), "CELERY_BROKER_URL": broker_url,
            "REPLICATION_RECONCILE_SECONDS": os.environ.get("FAULT_RECONCILE_SECONDS", "8"),
            "REPLICATION_RETRY_BACKOFF": "0.5", "REPLICATION_STALE_SECONDS": "20", "RETRY_JITTER": "0",
            "REGION_HEALTH_INTERVAL": "3", "WEBHOOK_RETRY_BACKOFF": "0.2"}


@dataclass
class Fleet:
    control: ControlPlane
    hosts: HostFleet
    token: str  # alice's API token, for the real portal's API
    pushed: dict = field(default_factory=dict)  # (repository, tag) -> digest: what every region must end up with

    @property
    def regions(self):
        return self.hosts.regions

    def api(self, path: str, **params) -> httpx.Response:
        return httpx.get(self.control.url + "/api/v1" + path, params=params, timeout=10,
                         headers={"Authorization": f"Token {self.token}"})

    def api_post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(self.control.url + "/api/v1" + path, json=body, timeout=30,
                          headers={"Authorization": f"Token {self.token}"})

    def replicas(self) -> list[dict]:
        body = self.api("/registries/contoso/replicas/").json()
        return body["results"] if isinstance(body, dict) else body


@pytest.fixture
def fault_fleet(networked_services, fleet_broker_url, transactional_db, catalog, admin_user, tmp_path):
    queues = [PORTAL_QUEUE, *(region_queue(n) for n in FAULT_REGIONS)]
    purge_broker(queues)
    env = fleet_env(fleet_broker_url)
    portal_bind = f"127.0.0.1:{find_free_port()}"
    hosts = HostFleet(FAULT_REGIONS, root=tmp_path / "regions", portal_url=f"http://{portal_bind}",
                      database_url=env["DATABASE_URL"], broker_url=env["CELERY_BROKER_URL"], prefix=PREFIX,
                      octet=OCTET, worker_env=env)
    control = ControlPlane(bind=portal_bind, root=tmp_path / "control", env=env, extra_hosts=hosts.portal_hosts())
    try:
        control.start()
        hosts.start()
        yield Fleet(control=control, hosts=hosts, token=Token.objects.create(user=admin_user).key)
    finally:
        hosts.stop()
        control.stop()
        fleet_diagnostics(hosts)


def fleet_diagnostics(hosts: HostFleet):
    """What a failed case needs: the jobs that failed and the tail of each region's worker log."""
    from replication.models import ReplicationJob

    for job in ReplicationJob.objects.exclude(error="").order_by("pk")[:20]:
        print(f"job {job.pk} {job.kind} {job.state}: {job.error[:300]}")
    for name in FAULT_REGIONS:
        log = hosts.root / name / "worker.log"
        if log.exists():
            print(f"--- {name} worker\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))


@pytest.fixture
def contoso(fault_fleet, admin_user):
    """Premium contoso homed in westus, replicated (really synced) into the other fault regions.

    Through the services, not the `registry_with_replicas` fixture: that one points the regions back at the
    session's loopback registries."""
    return contoso_create(fault_fleet, admin_user, regions=list(FAULT_REGIONS))


def contoso_create(fleet: Fleet, owner, *, regions: list[str]) -> Fleet:
    """contoso homed in westus with replicas in `regions` (the home among them), waited until all are ready."""
    registry = services.registry_create(name="contoso", sku="Premium", home_region=HOME, owner=owner)
    for region in regions:
        if region != HOME:
            services.replica_create(registry=registry, region=region)

    def ready():
        rows = fleet.replicas()
        return all(r["status"] == ReplicaStatus.READY for r in rows) and len(rows) == len(regions)

    wait(ready, timeout=float(os.environ.get("FAULT_SETUP_TIMEOUT", "180")), message="contoso's replicas ready")
    return fleet


def wait(predicate, *, timeout: float, interval: float = 0.5, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")


@pytest.fixture(scope="session")
def image_layout(tmp_path_factory):
    """An OCI layout on disk with 24 small distinct images (tags img00 ..), so a client inside a region's
    namespace can push without reaching any other host; returns (path, [tags])."""
    root = tmp_path_factory.mktemp("images")
    scratch = DistributionProcess("scratch", port=find_free_port(), storage_dir=root / "scratch",
                                  http_secret="scratch")
    with scratch:
        corpus = build_corpus(14, repositories=24, tags_per_repo=1, multi_platform_repositories=2,
                              base_layer_size=96 * 1024, unique_layer_size=48 * 1024)
        with RegistryClient(scratch.url) as client:
            pushed = push_corpus(client, corpus, "src/")
        tags = []
        for (repository, tag) in sorted(pushed):
            if tag == "latest":
                continue
            name = repository.removeprefix("src/")
            subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false",
                            f"docker://{scratch.url.removeprefix('http://')}/{repository}:{tag}",
                            f"oci:{root / 'layout'}:{name}"], check=True, capture_output=True, timeout=120)
            tags.append(name)
    return root / "layout", tags


def push(fleet: Fleet, layout, image: str, region: str, target: str, *, inside: bool = False,
         token: str | None = None) -> str:
    """skopeo pushes one image of the layout to `target` (repository:tag) in `region`, like a user: from the
    root namespace through the region's link, or from inside the region's namespace (with a bearer token
    fetched beforehand: the token service is across the link). Records and returns the digest."""
    region_ = fleet.regions[region]
    digest_file = layout.parent / f"digest-{time.monotonic_ns()}"
    # Each push a client of its own: skopeo's blob-info cache (root's, shared) would otherwise try
    # cross-repository mounts, which need a token for another scope.
    fresh_client = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs tmpfs /var/lib/containers/cache && exec "$@"', "skopeo"]
    copy = ["skopeo", "copy", "--all", "--dest-tls-verify=false",
            *(["--dest-registry-token", token] if token else ["--dest-creds", ":".join(USER)])]
    if inside:
        destination = f"docker://{region_.host.region_address}:{REGISTRY_PORT}/{target}"
        argv = [*region_.host.exec_prefix, *fresh_client, *copy]
    else:
        destination = f"docker://{region_.endpoint.removeprefix('http://')}/{target}"
        argv = [*fresh_client, *copy]
    result = subprocess.run([*argv, "--digestfile", str(digest_file), f"oci:{layout}:{image}", destination],
                            capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise PushFailed(result.stderr.strip()[-500:])
    digest = digest_file.read_text().strip()
    repository, _, tag = target.rpartition(":")
    fleet.pushed[(repository, tag)] = digest
    return digest


class PushFailed(Exception):
    pass


def push_token(fleet: Fleet, repositories: list[str]) -> str:
    """A bearer token for pushing to these repositories, from the portal's token service (as a client would
    have cached it before the link went down)."""
    response = httpx.get(fleet.control.url + "/oauth2/token", auth=USER, timeout=10, params={
        "service": settings.TOKEN_SERVICE_NAME,
        "scope": [f"repository:{r}:pull,push" for r in repositories]})
    response.raise_for_status()
    return response.json()["token"]


def region_tags(endpoint: str, expected: dict) -> dict:
    """(repository, tag) -> the digest the region serves, for the expected tags, each checked against the
    bytes it serves (a manifest whose bytes do not hash to its digest counts as served wrong)."""
    served = {}
    with httpx.Client(auth=fleet_http_auth("contoso/"), timeout=15) as http:
        for repository, tag in expected:
            response = http.get(f"{endpoint}/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT})
            if response.status_code != 200:
                continue
            digest = response.headers.get("Docker-Content-Digest")
            actual = "sha256:" + hashlib.sha256(response.content).hexdigest()
            served[(repository, tag)] = digest if digest == actual else f"corrupt:{actual}"
    return served


def level(fleet: Fleet) -> dict | None:
    """{region: served} when every region serves exactly the expected digests, else None."""
    states = {}
    for name, region in fleet.regions.items():
        try:
            states[name] = region_tags(region.endpoint, fleet.pushed)
        except httpx.HTTPError:
            return None
        if states[name] != fleet.pushed:
            return None
    return states


def status_api_agrees(fleet: Fleet) -> bool:
    for (repository, tag), digest in fleet.pushed.items():
        response = fleet.api("/registries/contoso/replication-status/", repository=repository, reference=tag)
        if response.status_code != 200:
            return False
        body = response.json()
        if body.get("digest") != digest or sorted(r["region"] for r in body["regions"]) != sorted(FAULT_REGIONS) \
                or any(r["status"] != "complete" for r in body["regions"]):
            return False
    return True


class PortalWatch:
    """Polls the real portal's replica list once a second while a fault happens: what an operator saw (each
    replica's display state, as its badge, the map and the list show it)."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self.seen: dict[str, list[str]] = {}
        self.messages: dict[str, list[str]] = {}  # each region's status messages while not ready, in order
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(1.0):
            try:
                rows = self.fleet.replicas()
            except (httpx.HTTPError, ValueError):
                self.errors += 1
                continue
            for row in rows:
                shown = row["display_state"]  # the badge every page shows: unreachable outranks the status
                states = self.seen.setdefault(row["region"], [])
                if not states or states[-1] != shown:
                    states.append(shown)
                messages = self.messages.setdefault(row["region"], [])
                message = row.get("display_message") or row.get("status_message")
                if shown != ReplicaStatus.READY and message and (not messages or messages[-1] != message):
                    messages.append(message)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> str:
        parts = [f"{region}: {' > '.join(states)}" for region, states in sorted(self.seen.items())
                 if len(states) > 1 or states[0] != ReplicaStatus.READY]
        if self.errors:
            parts.append(f"portal unreachable for {self.errors} polls")
        return "; ".join(parts) or "all replicas ready throughout"


def settle_and_report(fleet: Fleet, *, case: str, fault_ended: float, watch: PortalWatch, attempted: int,
                      failed_pushes: int = 0, extra: str = "") -> dict:
    """Wait until every region is level, check the status API, and record the case's numbers."""
    states = None
    deadline = time.monotonic() + LEVEL_TIMEOUT
    while time.monotonic() < deadline:
        states = level(fleet)
        if states:
            break
        time.sleep(0.5)
    level_seconds = time.monotonic() - fault_ended
    last = {name: region_tags(region.endpoint, fleet.pushed) for name, region in fleet.regions.items()}
    lost = sum(1 for key in fleet.pushed for served in last.values() if key not in served)
    wrong = sum(1 for key, digest in fleet.pushed.items() for served in last.values()
                if key in served and served[key] != digest)
    row = {"case": case, "seconds": FAULT_SECONDS, "pushed": attempted, "accepted": len(fleet.pushed),
           "refused_pushes": failed_pushes, "lost": lost, "wrong": wrong,
           "level_after_s": round(level_seconds, 1) if states else None, "portal": watch.summary(), "note": extra}
    if os.environ.get("FAULTS_REPORT"):
        with open(os.environ["FAULTS_REPORT"], "a") as report:
            report.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    assert lost == 0 and wrong == 0, row
    assert states, f"regions not level within {LEVEL_TIMEOUT:.0f} s: {row}"
    wait(lambda: status_api_agrees(fleet), timeout=120, message="the status API to agree with the regions")
    return row
