"""The fleet on separate hosts: each region in a network namespace of its own, behind a link with latency.

Layout (as root; iproute2's `ip netns`, veth pairs). The control plane (portal, beat, the portal-queue
worker, the database and the broker) stays in the root namespace, which plays the backbone. Region N
gets the namespace `<prefix>-<region>` and the link 10.<octet>.N.0/30: the root side of its veth is
.1, the region's side .2. In the region's namespace run its Distribution registry (on .2) and its own
Celery worker consuming that region's queue only.

Every connection that crosses region N's link goes through its relay (link_relay.py) listening on
the root side, .1: the registry (`endpoint` = http://10.<octet>.N.1:6602, what everybody uses), and,
the other way, the portal (events, token realm), the database and the broker, which listen on
127.0.0.1 of the root namespace only. So one link's delay applies once per crossing: a copy by region
A's worker into region B's registry crosses B's link (A's worker reaches B's relay directly).
A partition takes the veth down and cuts the relay: nothing reaches the region or leaves it.

Everything made is named after the prefix, so `fleet_cleanup(prefix)` removes leftovers of a crashed
run: the processes inside those namespaces, the namespaces (their veths go with them), stray veths.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.crypto import salted_hmac

from .dataplane import DistributionProcess, token_auth
from .link_relay import LinkConditions, LinkRelays
from .local_fleet import EVENTS_PATH, TOKEN_PATH
from .queues import region_queue
from .services.region_secrets import region_events_secret
from .services.regions import region_get, region_set_endpoint
from .token_service.keys import root_bundle_write

# Ports of the relays on a link's root side (one address per link, so the same numbers on every link).
PORTAL_RELAY_PORT = 6601
REGISTRY_RELAY_PORT = 6602
DATABASE_RELAY_PORT = 6603
BROKER_RELAY_PORT = 6604
REGISTRY_PORT = 6605  # the registry itself, on the region's side
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {result.stderr.strip()}")
    return result


def fleet_cleanup(prefix: str) -> list[str]:
    """Remove what a fleet with this prefix made (even one that crashed): returns what it removed."""
    removed = []
    for line in ip("netns", "list", check=False).stdout.splitlines():
        namespace = line.split()[0] if line.split() else ""
        if not namespace.startswith(prefix + "-"):
            continue
        for pid in ip("netns", "pids", namespace, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
                removed.append(f"process {pid} in {namespace}")
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", namespace, check=False)  # its end of the veth goes with it, and so the pair
        removed.append(f"namespace {namespace}")
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(prefix + "h"):
            ip("link", "del", name, check=False)
            removed.append(f"link {name}")
    return removed


@dataclass
class RegionHost:
    """One region's namespace and its veth link to the root namespace."""

    name: str
    index: int  # 1.. ; the link is 10.<octet>.<index>.0/30
    prefix: str
    octet: int

    @property
    def namespace(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def host_interface(self) -> str:
        return f"{self.prefix}h{self.index}"  # interface names: 15 characters at most

    @property
    def region_interface(self) -> str:
        return f"{self.prefix}n{self.index}"

    @property
    def host_address(self) -> str:
        return f"10.{self.octet}.{self.index}.1"

    @property
    def region_address(self) -> str:
        return f"10.{self.octet}.{self.index}.2"

    @property
    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]

    def create(self) -> None:
        ip("netns", "add", self.namespace)
        ip("link", "add", self.host_interface, "type", "veth", "peer", "name", self.region_interface,
           "netns", self.namespace)
        ip("addr", "add", f"{self.host_address}/30", "dev", self.host_interface)
        ip("link", "set", self.host_interface, "up")
        inside = ["-n", self.namespace]
        ip(*inside, "addr", "add", f"{self.region_address}/30", "dev", self.region_interface)
        ip(*inside, "link", "set", self.region_interface, "up")
        ip(*inside, "link", "set", "lo", "up")
        # The root side is the way to everything else (other regions' relays included).
        ip(*inside, "route", "add", "default", "via", self.host_address)

    def link_down(self) -> None:
        ip("link", "set", self.host_interface, "down")

    def link_up(self) -> None:
        ip("link", "set", self.host_interface, "up")
        # Taking the interface down dropped its connected route; make sure it is back.
        ip("route", "replace", f"10.{self.octet}.{self.index}.0/30", "dev", self.host_interface, "src",
           self.host_address, check=False)

    def destroy(self) -> None:
        for pid in ip("netns", "pids", self.namespace, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        ip("netns", "del", self.namespace, check=False)
        ip("link", "del", self.host_interface, check=False)


def database_url_now() -> str:
    """The URL of the database this process uses, for the processes the fleet starts."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def event_timestamps_shifted(body: bytes, seconds: float) -> bytes:
    """A Distribution notification body with every event's timestamp moved by `seconds`."""
    import json
    from datetime import timedelta

    from django.utils.dateparse import parse_datetime

    envelope = json.loads(body)
    for event in envelope.get("events", []):
        moment = parse_datetime(event.get("timestamp", ""))
        if moment is not None:
            event["timestamp"] = (moment + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return json.dumps(envelope).encode()


def loopback_target(url: str, default_port: int) -> tuple[str, int] | None:
    """(host, port) of a service on the root namespace's loopback named by a URL, else None."""
    parts = urlsplit(url)
    if parts.hostname in LOOPBACK_HOSTS:
        return "127.0.0.1", parts.port or default_port
    return None


def url_through(url: str, host: str, port: int) -> str:
    """The URL with its host:port replaced (credentials, path and query kept)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = (credentials + "@" if credentials else "") + f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class ProcessGroupOwner:
    """A process started in a session of its own (`self.popen`): stopped or killed with everything it started."""

    popen: subprocess.Popen | None = None
    stop_timeout = 10.0

    def kill(self) -> None:
        """SIGKILL to the process group: mid-task, as a crash would."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class RegionWorker(ProcessGroupOwner):
    """A Celery worker for one region's queue, inside the region's namespace."""

    def __init__(self, host: RegionHost, *, env: dict, log_path: Path, concurrency: int = 2):
        self.host, self.env, self.log_path, self.concurrency = host, env, log_path, concurrency
        self.popen: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        argv = [*self.host.exec_prefix, sys.executable, "-m", "celery", "-A", "portal", "worker",
                "-Q", region_queue(self.host.name), "-c", str(self.concurrency), "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"{self.host.name}@{self.host.namespace}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(argv, cwd=settings.BASE_DIR, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes()[start_offset:]:
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the worker of {self.host.name} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class FleetRegion:
    """A region on its own host: namespace, link relays, registry, worker."""

    def __init__(self, host: RegionHost, link: LinkRelays, registry: DistributionProcess, worker: RegionWorker):
        self.host, self.link, self.registry, self.worker = host, link, registry, worker

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def endpoint(self) -> str:
        return f"http://{self.host.host_address}:{REGISTRY_RELAY_PORT}"

    def partition(self) -> None:
        self.host.link_down()
        self.link.partition()

    def heal(self) -> None:
        self.host.link_up()
        self.link.heal()


class HostFleet:
    """Regions on hosts of their own, each behind a link with a one-way delay; the control plane in root.

    delays: {region name: one-way delay in seconds}. portal_url, database_url, broker_url: the control
    plane's services as the root namespace reaches them; those on loopback get a relay on every link.
    """

    def __init__(self, delays: dict[str, float], *, root: Path, portal_url: str, database_url: str,
                 broker_url: str, prefix: str = "grf", octet: int = 231, worker_env: dict | None = None,
                 worker_concurrency: int = 2):
        if os.geteuid() != 0:
            raise RuntimeError("the fleet on separate hosts needs root (ip netns, veth pairs)")
        self.delays, self.root, self.prefix, self.octet = dict(delays), Path(root), prefix, octet
        self.portal_url = portal_url.rstrip("/")
        self.database_url, self.broker_url = database_url, broker_url
        self.worker_env = worker_env or {}
        self.worker_concurrency = worker_concurrency
        self.regions: dict[str, FleetRegion] = {}
        self.clock_skews: dict[str, float] = {}  # region -> seconds its registry's clock is ahead

    def _clock(self, name: str):
        """The rewrite of region `name`'s requests to the portal: its events' timestamps moved by its skew.

        A registry's clock cannot be set apart from the machine's, and Distribution stamps its events
        itself; shifting the stamps on the wire is what the portal would see from a host whose clock is off.
        """
        def rewrite(body: bytes) -> bytes:
            skew = self.clock_skews.get(name)
            if not skew or b'"timestamp"' not in body:
                return body
            return event_timestamps_shifted(body, skew)
        return rewrite

    def portal_hosts(self) -> list[str]:
        """The addresses the regions reach the portal at (its ALLOWED_HOSTS must name them)."""
        return [f"10.{self.octet}.{index}.1" for index in range(1, len(self.delays) + 1)]

    def start(self) -> dict[str, FleetRegion]:
        for name in self.delays:
            region_get(name=name)  # fail on a wrong name before making anything
        fleet_cleanup(self.prefix)  # leftovers of a run that crashed
        try:
            for index, (name, delay) in enumerate(self.delays.items(), start=1):
                self.regions[name] = self._start_region(name, index, delay)
        except BaseException:
            self.stop()
            raise
        return self.regions

    def _start_region(self, name: str, index: int, delay: float) -> FleetRegion:
        host = RegionHost(name=name, index=index, prefix=self.prefix, octet=self.octet)
        host.create()
        link = LinkRelays(name, LinkConditions(delay=delay))
        # Region -> control plane.
        link.forward(listen=(host.host_address, PORTAL_RELAY_PORT), target=loopback_target(self.portal_url, 80),
                     rewrite_request=self._clock(name))
        env = {**os.environ, **self.worker_env, "PORTAL_BASE_URL": f"http://{host.host_address}:{PORTAL_RELAY_PORT}",
               "PYTHONUNBUFFERED": "1"}
        database = None if self.database_url.startswith("sqlite") else loopback_target(self.database_url, 5432)
        if database:
            link.forward(listen=(host.host_address, DATABASE_RELAY_PORT), target=database)
            env["DATABASE_URL"] = url_through(self.database_url, host.host_address, DATABASE_RELAY_PORT)
        else:
            env["DATABASE_URL"] = self.database_url  # SQLite: a file, shared without a network
        default_broker_port = 5672 if self.broker_url.startswith("amqp") else 6379
        broker = None if self.broker_url.startswith("filesystem") else loopback_target(self.broker_url,
                                                                                        default_broker_port)
        if broker:
            link.forward(listen=(host.host_address, BROKER_RELAY_PORT), target=broker)
            env["CELERY_BROKER_URL"] = url_through(self.broker_url, host.host_address, BROKER_RELAY_PORT)
        else:
            env["CELERY_BROKER_URL"] = self.broker_url
        # Control plane and other regions -> this region's registry.
        portal_here = f"http://{host.host_address}:{PORTAL_RELAY_PORT}"
        region_dir = self.root / name
        registry = DistributionProcess(
            name, host=host.region_address, port=REGISTRY_PORT, storage_dir=region_dir / "data",
            http_secret=salted_hmac("replication.fleet_hosts.http_secret", name, algorithm="sha256").hexdigest(),
            notifications_url=portal_here + EVENTS_PATH,
            notifications_headers={"Authorization": [f"Bearer {region_events_secret(region=region_get(name=name))}"],
                                   "X-Region": [name]},
            log_path=region_dir / "registry.log",
            auth=token_auth(realm=portal_here + TOKEN_PATH, service=settings.TOKEN_SERVICE_NAME,
                            issuer=settings.TOKEN_ISSUER, rootcertbundle=root_bundle_write()),
            command_prefix=host.exec_prefix,
        )
        link.forward(listen=(host.host_address, REGISTRY_RELAY_PORT), target=(host.region_address, REGISTRY_PORT))
        registry.start(timeout=30)
        region = FleetRegion(host, link, registry, RegionWorker(host, env=env, log_path=region_dir / "worker.log",
                                                                concurrency=self.worker_concurrency))
        region_set_endpoint(name=name, endpoint=region.endpoint, storage_root=registry.storage_dir)
        region.worker.start()
        return region

    def stop(self) -> None:
        for region in reversed(list(self.regions.values())):
            region.worker.stop()
            region.registry.stop()
            region.link.close()
            region.host.destroy()
        self.regions.clear()
        fleet_cleanup(self.prefix)  # anything a half-made region left

    def __enter__(self) -> dict[str, FleetRegion]:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ControlProcess(ProcessGroupOwner):
    """One process of the control plane in the root namespace (portal, beat, the portal-queue worker)."""

    stop_timeout = 15.0

    def __init__(self, name: str, argv: list[str], *, env: dict, log_path: Path, ready: bytes | None = None,
                 ready_url: str | None = None):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.ready, self.ready_url = ready, ready_url
        self.popen: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        import httpx

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, cwd=settings.BASE_DIR, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                break
            if self.ready and self.ready in self.log_path.read_bytes()[start_offset:]:
                return
            if self.ready_url:
                try:
                    if httpx.get(self.ready_url, timeout=2).status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
            if not self.ready and not self.ready_url:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ControlPlane:
    """The portal (gunicorn), beat and a worker on the portal queue, in the root namespace."""

    def __init__(self, *, bind: str, root: Path, env: dict, worker_concurrency: int = 2,
                 extra_hosts: list[str] = ()):
        from .endpoint.server import portal_argv
        from .queues import PORTAL_QUEUE

        self.url = f"http://{bind}"
        root = Path(root)
        env = {**os.environ, **env, "PORTAL_BASE_URL": self.url, "PYTHONUNBUFFERED": "1"}
        # The regions reach the portal (token realm, events) at their link's root-side address.
        env["DJANGO_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, *extra_hosts])
        celery = [sys.executable, "-m", "celery", "-A", "portal"]
        self.portal = ControlProcess("portal", portal_argv(bind=bind, workers=1, threads=8), env=env,
                                     log_path=root / "portal.log", ready_url=self.url + TOKEN_PATH)
        self.worker = ControlProcess(
            "portal worker", [*celery, "worker", "-Q", PORTAL_QUEUE, "-c", str(worker_concurrency), "--loglevel",
                              "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                              "-n", f"portal@{os.getpid()}"],
            env=env, log_path=root / "portal-worker.log", ready=b"ready.")
        self.beat = ControlProcess("beat", [*celery, "beat", "--loglevel", "INFO", "-s",
                                            str(root / "celerybeat-schedule")],
                                   env=env, log_path=root / "beat.log", ready=b"beat: Starting")
        self.processes = [self.portal, self.worker, self.beat]

    def start(self) -> "ControlPlane":
        try:
            for process in self.processes:
                process.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def default_delays(names: list[str], *, near: float = 0.040, far: float = 0.120) -> dict[str, float]:
    """40 ms to regions in the control plane's geography (the first region's), 120 ms to the others."""
    from .models import Region

    geographies = dict(Region.objects.filter(name__in=names).values_list("name", "geography"))
    home = geographies.get(names[0]) if names else None
    return {name: near if geographies.get(name) == home else far for name in names}
