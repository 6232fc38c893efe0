"""What the global endpoint costs and how fast it fails over.

    .venv/bin/python -m bench.endpoint [--runs 3] [--big-mib 100] [--requests 300] [--seconds 5] [--keep]

Everything on this machine, in a temporary directory: a portal (`manage.py runserver`, the token realm)
on its own SQLite database, two regional Distribution registries requiring its tokens (West Europe and
West US, the same content in both), and the global endpoint as `manage.py run_endpoint` starts it
(gunicorn, 2 workers × 16 threads). The client's network (127.0.0.1) is mapped to West Europe.

- **big**: `skopeo copy` of one ~100 MB image to `dir:`, straight from West Europe vs through the endpoint
  with West Europe's data endpoint (`run_data_endpoint`: blobs answered 307 with a signed URL, the bytes
  from the data endpoint) vs through the endpoint relaying the bytes (the region without a data endpoint);
- **manifest**: GETs of one manifest by tag with a warm client and a valid bearer, through the endpoint
  vs straight; the added time is the difference of the medians (and of the 99th percentiles);
- **throughput**: manifest GETs per second through the endpoint, 16 client threads;
- **failover**: West Europe's registry is stopped; time until the first successful manifest pull through
  the endpoint (no health probe runs: this is the endpoint's own retry on the next nearest).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.environment import embedded_defaults_env, stop_children, workdir_finish

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "endbench"
TOKEN_PASSWORD = "endpoint-bench-token-password"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.endpoint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300, help="manifest GETs per path for the latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the throughput run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    return parser.parse_args(argv)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_for(url: str, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{what} did not start; see {log}")
        time.sleep(0.2)


class EndpointBench:
    def __init__(self, directory: Path, args):
        from replication.dataplane import find_free_port

        self.directory, self.args = directory, args
        self.portal_url = f"http://127.0.0.1:{find_free_port()}"
        self.endpoint_url = f"http://127.0.0.1:{find_free_port()}"
        self.env = embedded_defaults_env(directory, PORTAL_BASE_URL=self.portal_url,
                                         GLOBAL_ENDPOINT_URL=self.endpoint_url,
                                         CLIENT_NETWORKS="127.0.0.1/32=westeurope",
                                         ENDPOINT_UPSTREAM_CONNECT_TIMEOUT="0.5")
        self.children: list[subprocess.Popen] = []
        self.registries = {}

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "ab")
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children.append(child)
        return child

    def start(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.utils import timezone

        from replication.choices import ReplicaStatus
        from replication.dataplane import DistributionProcess, find_free_port
        from replication.endpoint.server import data_endpoint_command, endpoint_argv
        from replication.local_fleet import fleet_token_auth
        from replication.models import Region, RegionHealth, Registry, RegistryToken, Replica, Sku
        from replication.services.regions import region_set_endpoint

        call_command("migrate", verbosity=0)
        portal = self._spawn("portal", [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                                        self.portal_url.removeprefix("http://")], self.env)
        wait_for(self.portal_url + "/oauth2/token", portal, "the portal", self.directory / "portal.log")
        auth = fleet_token_auth(portal_url=self.portal_url)
        for name in ("westeurope", "westus"):
            process = DistributionProcess(name, port=find_free_port(), storage_dir=self.directory / name,
                                          http_secret=f"bench-{name}", log_path=self.directory / f"{name}.log",
                                          auth=auth)
            process.start()
            self.registries[name] = process
            region_set_endpoint(name=name, endpoint=process.url)
        registry = Registry.objects.create(name=REGISTRY, sku=Sku.objects.get(name="Premium"),
                                           home_region=Region.objects.get(name="westus"))
        for name in ("westus", "westeurope"):
            Replica.objects.create(registry=registry, region=Region.objects.get(name=name), status=ReplicaStatus.READY)
        RegionHealth.objects.update(since=timezone.now() - dt.timedelta(hours=1))  # past any failback cooldown
        RegistryToken.objects.create(registry=registry, name="puller", password_hash=make_password(TOKEN_PASSWORD),
                                     scope=[{"repository": "*", "actions": ["pull"]}])
        endpoint = self._spawn("endpoint", endpoint_argv(binds=[self.endpoint_url.removeprefix("http://")]),
                               {**self.env, "DJANGO_SETTINGS_MODULE": "portal.endpoint_settings"})
        wait_for(self.endpoint_url + "/v2/", endpoint, "the endpoint", self.directory / "endpoint.log")
        self.data_endpoint_url = f"http://127.0.0.1:{find_free_port()}"
        argv, env = data_endpoint_command(region="westeurope", bind=self.data_endpoint_url.removeprefix("http://"))
        data_endpoint = self._spawn("data-endpoint", argv, {**env, **self.env,
                                                            "DJANGO_SETTINGS_MODULE": env["DJANGO_SETTINGS_MODULE"]})
        wait_for(self.data_endpoint_url + "/v2/", data_endpoint, "the data endpoint",
                 self.directory / "data-endpoint.log")

    def use_data_endpoint(self, used: bool) -> None:
        """Record West Europe's data endpoint (the endpoint redirects blobs there) or none (it relays them)."""
        from replication.services.regions import region_set_data_endpoint

        region_set_data_endpoint(name="westeurope", data_endpoint=self.data_endpoint_url if used else "")

    def seed(self) -> str:
        """The same ~100 MB image in both regions (pushed with the engine's identity); returns repository:tag."""
        from replication.oci.client import RegistryClient
        from replication.oci.corpus import MiB, build_corpus, push_corpus
        from replication.services.token_service import replication_credentials

        half = self.args.big_mib * MiB // 2
        big = build_corpus(93, repositories=1, tags_per_repo=1, shared_base_layers=1, base_layer_size=half,
                           layers_per_image=1, unique_layer_size=half, multi_platform_repositories=0)
        username, password = replication_credentials(prefix=f"{REGISTRY}/", actions=("pull", "push"))
        for process in self.registries.values():
            with RegistryClient(process.url, username=username, password=password) as client:
                pushed = push_corpus(client, big, f"{REGISTRY}/big/")
        return next(f"{repository}:{tag}" for repository, tag in pushed if tag != "latest")

    def bearer(self, repository: str) -> str:
        return httpx.get(self.portal_url + "/oauth2/token", auth=(f"{REGISTRY}/puller", TOKEN_PASSWORD),
                         params={"service": "georegistry", "scope": f"repository:{repository}:pull"}).json()["token"]

    def pull_big(self, base_url: str, image: str) -> float:
        target = self.directory / "pulled"
        shutil.rmtree(target, ignore_errors=True)
        argv = ["skopeo", "copy", "--src-tls-verify=false", "--src-creds", f"{REGISTRY}/puller:{TOKEN_PASSWORD}",
                f"docker://{base_url.removeprefix('http://')}/{image}", f"dir:{target}"]
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
        return time.perf_counter() - started

    def manifest_times(self, base_url: str, path: str, headers: dict) -> list[float]:
        times = []
        with httpx.Client(base_url=base_url, headers=headers) as client:
            client.get(path).raise_for_status()  # warm
            for _ in range(self.args.requests):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - started)
        return times

    def throughput(self, path: str, headers: dict, threads: int = 16) -> float:
        done, errors = [0] * threads, [0] * threads
        deadline = time.monotonic() + self.args.seconds

        def run(index):
            with httpx.Client(base_url=self.endpoint_url, headers=headers) as client:
                while time.monotonic() < deadline:
                    if client.get(path).status_code == 200:
                        done[index] += 1
                    else:
                        errors[index] += 1

        workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if sum(errors):
            print(f"  throughput run: {sum(errors)} non-200 answers")
        return sum(done) / (time.perf_counter() - started)

    def failover(self, path: str, headers: dict) -> tuple[float, str]:
        self.registries["westeurope"].stop()
        stopped = time.perf_counter()
        with httpx.Client(base_url=self.endpoint_url, headers=headers, timeout=10) as client:
            while True:
                response = client.get(path)
                if response.status_code == 200:
                    return time.perf_counter() - stopped, response.headers.get("X-Served-By-Region", "?")

    def close(self) -> None:
        for process in self.registries.values():
            process.stop()
        stop_children(self.children)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="endpoint-bench-"))
    bench = EndpointBench(directory, args)
    try:
        bench.start()
        image = bench.seed()
        repository, tag = image.rsplit(":", 1)
        direct_url = bench.registries["westeurope"].url
        big = {"direct": [], "redirect": [], "relay": []}
        for round_number in range(args.runs):
            order = list(big) if round_number % 2 == 0 else list(reversed(big))
            for mode in order:
                bench.use_data_endpoint(mode == "redirect")
                big[mode].append(bench.pull_big(direct_url if mode == "direct" else bench.endpoint_url, image))
            print(f"  round {round_number + 1}: " + ", ".join(f"{mode} {big[mode][-1]:.2f} s" for mode in big),
                  flush=True)
        bench.use_data_endpoint(True)
        data_reads = (directory / "data-endpoint.log").read_text().count("/blobs/sha256:")
        print(f"  the data endpoint served {data_reads} blob reads (its access log)", flush=True)
        headers = {"Authorization": f"Bearer {bench.bearer(repository)}", "Accept": ACCEPT}
        path = f"/v2/{repository}/manifests/{tag}"
        direct = bench.manifest_times(direct_url, path, headers)
        through = bench.manifest_times(bench.endpoint_url, path, headers)
        rps = bench.throughput(path, headers)
        failover_seconds, failover_region = bench.failover(path, headers)
    finally:
        bench.close()
    big_direct, big_redirect, big_relay = (statistics.median(big[mode]) for mode in ("direct", "redirect", "relay"))
    print()
    print(f"{args.big_mib} MiB pull (skopeo, medians of {args.runs}): direct {big_direct:.2f} s; through the endpoint "
          f"redirected to the data endpoint {big_redirect:.2f} s ({big_redirect / big_direct:.2f}×), "
          f"relayed {big_relay:.2f} s ({big_relay / big_direct:.2f}×)")
    print(f"manifest GET ({args.requests} each): direct median {statistics.median(direct) * 1000:.1f} ms / p99 "
          f"{percentile(direct, 0.99) * 1000:.1f} ms; endpoint median {statistics.median(through) * 1000:.1f} ms / p99 "
          f"{percentile(through, 0.99) * 1000:.1f} ms; added median "
          f"{(statistics.median(through) - statistics.median(direct)) * 1000:.1f} ms, added p99 "
          f"{(percentile(through, 0.99) - percentile(direct, 0.99)) * 1000:.1f} ms")
    print(f"throughput: {rps:.0f} manifest GETs/s through the endpoint (16 client threads, {args.seconds:.0f} s)")
    print(f"failover: first successful pull {failover_seconds * 1000:.0f} ms after West Europe stopped "
          f"(served by {failover_region})")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    workdir_finish(directory, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
