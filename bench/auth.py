"""What the token flow costs a client: pulls from one region with auth off and with auth on.

    .venv/bin/python -m bench.auth [--runs 5] [--small 50] [--big-mib 100] [--keep]

Everything on this machine, in a temporary directory: a portal (`manage.py runserver`, the token
realm) on its own SQLite database, and two Distribution processes serving the same storage, one
open and one with `auth.token` trusting the portal. Per round, alternating which goes first:

- **big**: `skopeo copy docker://… dir:…` of one ~100 MB image (two layers), a fresh directory each time;
- **small**: 50 manifests, each in its own repository, each with a fresh client (like 50 separate
  `docker pull`s of a manifest: with auth, each one is a 401, a token request and the retry).

With auth on, the client logs in with a registry token (`<registry>/<name>`, scope `*`: pull).
Prints medians, and auth on / auth off.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.environment import embedded_defaults_env, workdir_finish

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = "authbench"
TOKEN_PASSWORD = "auth-bench-token-password"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.auth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", type=int, default=50, help="manifests pulled, one repository each")
    parser.add_argument("--big-mib", type=int, default=100, help="size of the big image's layers together")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    return parser.parse_args(argv)


class AuthBench:
    def __init__(self, directory: Path, args):
        from replication.dataplane import find_free_port

        self.directory = directory
        self.args = args
        self.portal_port = find_free_port()
        self.portal_url = f"http://127.0.0.1:{self.portal_port}"
        self.env = embedded_defaults_env(directory, PORTAL_BASE_URL=self.portal_url)
        self.portal = None
        self.registries = {}

    def start(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command

        from replication.dataplane import DistributionProcess, find_free_port
        from replication.local_fleet import fleet_token_auth
        from replication.models import Region, Registry, RegistryToken, Sku

        call_command("migrate", verbosity=0)
        registry = Registry.objects.create(name=REGISTRY, sku=Sku.objects.get(name="Premium"),
                                           home_region=Region.objects.get(name="westus"))
        RegistryToken.objects.create(registry=registry, name="puller", password_hash=make_password(TOKEN_PASSWORD),
                                     scope=[{"repository": "*", "actions": ["pull"]}])
        log = open(self.directory / "portal.log", "ab")
        self.portal = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                                        f"127.0.0.1:{self.portal_port}"], cwd=ROOT, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._answers(self.portal_url + "/oauth2/token"):
            if time.monotonic() > deadline or self.portal.poll() is not None:
                raise RuntimeError(f"the portal did not start; see {self.directory / 'portal.log'}")
            time.sleep(0.2)
        storage = self.directory / "region" / "data"  # one storage, served twice
        for name, auth in [("off", None), ("on", fleet_token_auth(portal_url=self.portal_url))]:
            process = DistributionProcess(f"auth-{name}", port=find_free_port(), storage_dir=storage,
                                          http_secret="auth-bench", log_path=self.directory / f"registry-{name}.log",
                                          auth=auth)
            process.start()
            self.registries[name] = process

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def seed(self) -> tuple[str, list[tuple[str, str]]]:
        """Push the big image and the small ones through the open registry; returns (big image, small refs)."""
        from replication.oci.client import RegistryClient
        from replication.oci.corpus import KiB, MiB, build_corpus, push_corpus

        half = self.args.big_mib * MiB // 2
        big = build_corpus(91, repositories=1, tags_per_repo=1, shared_base_layers=1, base_layer_size=half,
                           layers_per_image=1, unique_layer_size=half, multi_platform_repositories=0)
        small = build_corpus(92, repositories=self.args.small, tags_per_repo=1, shared_base_layers=1,
                             base_layer_size=4 * KiB, unique_layer_size=4 * KiB, multi_platform_repositories=0)
        with RegistryClient(self.registries["off"].url) as client:
            pushed_big = push_corpus(client, big, f"{REGISTRY}/big/")
            pushed_small = push_corpus(client, small, f"{REGISTRY}/small/", concurrency=8)
        big_ref = next(f"{repository}:{tag}" for repository, tag in pushed_big if tag != "latest")
        small_refs = sorted({repository: tag for repository, tag in pushed_small if tag != "latest"}.items())
        return big_ref, small_refs

    def pull_big(self, mode: str, image: str) -> float:
        target = self.directory / f"pulled-{mode}"
        shutil.rmtree(target, ignore_errors=True)
        creds = ["--src-creds", f"{REGISTRY}/puller:{TOKEN_PASSWORD}"] if mode == "on" else []
        argv = ["skopeo", "copy", "--src-tls-verify=false", *creds,
                f"docker://{self.registries[mode].url.removeprefix('http://')}/{image}", f"dir:{target}"]
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
        return time.perf_counter() - started

    def pull_small(self, mode: str, refs: list[tuple[str, str]]) -> float:
        from replication.oci.client import RegistryClient

        credentials = {"username": f"{REGISTRY}/puller", "password": TOKEN_PASSWORD} if mode == "on" else {}
        started = time.perf_counter()
        for repository, tag in refs:
            with RegistryClient(self.registries[mode].url, **credentials) as client:  # a fresh client per pull
                client.get_manifest(repository, tag)
        return time.perf_counter() - started

    def close(self) -> None:
        for process in self.registries.values():
            process.stop()
        if self.portal and self.portal.poll() is None:
            self.portal.terminate()
            try:
                self.portal.wait(20)
            except subprocess.TimeoutExpired:
                self.portal.kill()
                self.portal.wait()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    bench = AuthBench(directory, args)
    times = {(kind, mode): [] for kind in ("big", "small") for mode in ("off", "on")}
    try:
        bench.start()
        big, small = bench.seed()
        print(f"{args.runs} rounds: skopeo copy of {big} ({args.big_mib} MiB) to dir:, "
              f"{len(small)} manifests with a fresh client each; alternating auth off / on", flush=True)
        for round_number in range(args.runs):
            order = ("off", "on") if round_number % 2 == 0 else ("on", "off")
            for mode in order:
                times[("big", mode)].append(bench.pull_big(mode, big))
                times[("small", mode)].append(bench.pull_small(mode, small))
            print(f"  round {round_number + 1}: " + ", ".join(
                f"{kind} {mode} {times[(kind, mode)][-1]:.2f} s"
                for kind in ("big", "small") for mode in ("off", "on")),
                flush=True)
    finally:
        bench.close()
    print()
    print("pull                            | auth off s | auth on s | on / off | on − off per pull")
    print("--------------------------------|------------|-----------|----------|------------------")
    for kind, label, pulls in [("big", f"1 image, {args.big_mib} MiB (skopeo)", 1),
                               ("small", f"{len(small)} manifests (fresh client each)", len(small))]:
        off, on = statistics.median(times[(kind, "off")]), statistics.median(times[(kind, "on")])
        print(f"{label:<32}| {off:>10.2f} | {on:>9.2f} | {on / off:>7.2f}× | {(on - off) / pulls * 1000:>13.0f} ms")
    print(f"medians of {args.runs} run(s); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    workdir_finish(directory, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
