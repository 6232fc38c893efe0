"""`python -m bench lag`: push → present in every other region, over the whole event path.

Four local Distribution registries (westus home + three replicas) notify a portal started
here (`manage.py runserver`), and one `celery worker` consumes the portal queue and every
region's queue, all on a temporary SQLite database and filesystem broker. Distinct images are
pushed with skopeo (as a user would: our own engine's pushes are not fanned out) to rotating
regions, one at a time; the lag of a push is the time from skopeo's exit to the moment a HEAD
of the tag answers with its digest in every other region (polled). Prints median and worst.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.environment import ROOT, embedded_defaults_env, stop_children
from replication.testing import wait_until

REGIONS = ["westus", "eastus", "canadacentral", "westeurope"]  # the first is home
PUSHER_PASSWORD = "lag-bench-pusher"  # a throwaway user in the run's own temporary database


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench lag", description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=24, help="distinct images pushed (at least 20)")
    parser.add_argument("--layer-kib", type=int, default=1024, help="size of each image's own layer")
    parser.add_argument("--concurrency", type=int, default=4, help="celery worker processes")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for one push to arrive")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    return parser.parse_args(argv)


def free_port() -> int:
    from replication.dataplane import find_free_port

    return find_free_port()


class LagBench:
    def __init__(self, directory: Path, args):
        self.directory = directory
        self.args = args
        self.portal_port = free_port()
        self.env = embedded_defaults_env(directory, PORTAL_BASE_URL=f"http://127.0.0.1:{self.portal_port}")
        self.children: list[subprocess.Popen] = []
        self.registries = {}
        self.scratch = None

    # ---- setup -----------------------------------------------------------------------------

    def start(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.spawn("portal", [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                              f"127.0.0.1:{self.portal_port}"])
        wait_until(lambda: self.answers(f"http://127.0.0.1:{self.portal_port}/api/v1/skus/"), timeout=60,
                   interval=0.1, message="the portal")
        self.start_registries()
        from replication.management.commands.run_worker import worker_argv

        log = self.spawn("worker", worker_argv(regions=REGIONS, concurrency=self.args.concurrency,
                                               hostname=f"lag-{os.getpid()}@localhost"))
        wait_until(lambda: b"ready." in log.read_bytes(), timeout=60, interval=0.1, message="the celery worker")
        self.create_registry()

    def spawn(self, name: str, argv: list[str]) -> Path:
        log = self.directory / f"{name}.log"
        handle = open(log, "ab")
        self.children.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        return log

    @staticmethod
    def answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def start_registries(self) -> None:
        from replication.dataplane import DistributionProcess
        from replication.local_fleet import local_region_process
        from replication.services.regions import region_set_endpoint

        for name in REGIONS:
            # index 0 with a free port: consecutive ports may be taken here, any free one will do.
            process = local_region_process(name, index=0, base_port=free_port(), root=self.directory / "regions",
                                           portal_url=f"http://127.0.0.1:{self.portal_port}")
            process.start()
            self.registries[name] = process
            region_set_endpoint(name=name, endpoint=process.url)
        self.scratch = DistributionProcess("scratch", port=free_port(), storage_dir=self.directory / "scratch",
                                           http_secret="scratch")
        self.scratch.start()

    def create_registry(self) -> None:
        from replication.choices import ReplicaStatus
        from replication.models import Replica
        from replication.services import registry_create, replica_create

        from django.contrib.auth import get_user_model

        from replication.services.token_service import replication_credentials

        self.registry = registry_create(name="lagbench", sku="Premium", home_region=REGIONS[0])
        # The regions require the portal's tokens: the pusher logs in as a user, the HEADs read as the engine.
        get_user_model().objects.create_user("lagpusher", password=PUSHER_PASSWORD, is_staff=True)
        self.read_credentials = replication_credentials(prefix=self.registry.repository_prefix)
        for name in REGIONS[1:]:
            replica_create(registry=self.registry, region=name)
        wait_until(lambda: Replica.objects.filter(registry=self.registry, status=ReplicaStatus.READY).count()
                   == len(REGIONS), timeout=120, interval=0.1, message="the replicas to be ready")

    # ---- the measurement -------------------------------------------------------------------

    def images(self) -> list[tuple[str, str]]:
        """Distinct single-platform images in the scratch registry: [(repository, tag)]."""
        from replication.oci.client import RegistryClient
        from replication.oci.corpus import KiB, build_corpus, push_corpus

        corpus = build_corpus(77, repositories=self.args.pushes, tags_per_repo=1, multi_platform_repositories=0,
                              shared_base_layers=1, base_layer_size=2048 * KiB,
                              unique_layer_size=self.args.layer_kib * KiB)
        with RegistryClient(self.scratch.url) as client:
            pushed = push_corpus(client, corpus, "src/", concurrency=8)
        return sorted({repository: tag for repository, tag in pushed if tag != "latest"}.items())

    def digest(self, process, repository: str, reference: str) -> str | None:
        client = self.readers.get(process.name)
        if client is None:  # one client per region: its tokens are cached per repository for their lifetime
            from replication.oci.client import RegistryClient

            username, password = self.read_credentials
            client = self.readers[process.name] = RegistryClient(process.url, username=username, password=password,
                                                                 timeout=10)
        descriptor = client.head_manifest(repository, reference)
        return descriptor.digest if descriptor else None

    def measure(self) -> list[tuple[str, str, float]]:
        results = []
        self.readers = {}
        rotation = REGIONS[1:] + REGIONS[:1]  # non-home regions first
        for number, (source, tag) in enumerate(self.images()):
            region = rotation[number % len(rotation)]
            process = self.registries[region]
            target = f"lagbench/{source.removeprefix('src/')}"
            subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                            "--dest-creds", f"lagpusher:{PUSHER_PASSWORD}",
                            f"docker://{self.scratch.url.removeprefix('http://')}/{source}:{tag}",
                            f"docker://{process.url.removeprefix('http://')}/{target}:{tag}"],
                           check=True, capture_output=True, timeout=120)
            pushed_at = time.perf_counter()
            digest = self.digest(process, target, tag)
            waiting = [p for name, p in self.registries.items() if name != region]

            def everywhere() -> bool:
                # A region that has the image keeps it: ask only the others again.
                waiting[:] = [other for other in waiting if self.digest(other, target, tag) != digest]
                return not waiting

            wait_until(everywhere, timeout=self.args.timeout, interval=0.02,
                       message=f"{target}:{tag} pushed to {region} to reach every region; see {self.directory}")
            lag = time.perf_counter() - pushed_at
            results.append((region, f"{target}:{tag}", lag))
            print(f"  {number + 1:>3}  {region:<14} {target}:{tag:<6} {lag * 1000:8.0f} ms", flush=True)
        return results

    def close(self) -> None:
        for client in getattr(self, "readers", {}).values():
            client.close()
        for process in [*self.registries.values(), self.scratch]:
            if process:
                process.stop()
        stop_children(self.children)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.pushes < 20:
        print("--pushes must be at least 20", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="lag-bench-"))
    bench = LagBench(directory, args)
    try:
        bench.start()
        print(f"Lag from push (skopeo exit) to presence in all other regions: {len(REGIONS) - 1} replicas + home, "
              f"{args.pushes} distinct images (2 MiB shared base + {args.layer_kib} KiB own layer), "
              f"worker -c {args.concurrency}, regions rotating:")
        lags = [lag for _, _, lag in bench.measure()]
    finally:
        bench.close()
    print(f"median {statistics.median(lags) * 1000:.0f} ms, worst {max(lags) * 1000:.0f} ms "
          f"(best {min(lags) * 1000:.0f} ms, mean {statistics.fmean(lags) * 1000:.0f} ms, n={len(lags)})")
    if args.keep:
        print(f"logs and database kept in {directory}")
    else:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
