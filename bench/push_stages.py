"""`python -m bench push-stages`: where a push waits, stage by stage, for a single push and for a burst.

One trial starts, in a temporary folder with the embedded defaults (SQLite, filesystem broker): a
Distribution registry per region (home westus + `--replicas` others) notifying a portal (as production
runs it: `manage.py run_portal`, gunicorn with 2 processes × 8 threads; `--portal runserver` for Django's
development server, one process), and the celery workers as `make run` starts them: one for the portal queue,
one for every region's queue (`run_worker`'s default concurrency unless `--concurrency`; a baseline from
before that split: one worker for all). It creates a Premium registry with a replica
in each region, then:

- **single**: `--singles` small two-platform index images pushed one at a time to the home region with
  skopeo (as a user would), each awaited until every region has it;
- **burst**: `--pushers` skopeo processes push `--images` such images into the home region at once.

A push's trip is read from the stamps on its ImageReplication rows (one per region it is copied into):
`pushed_at` (the registry event's own timestamp), `event_received_at` (the portal's intake recorded it),
`queued_at` (the fan-out recorded the copy job), `copy_started_at`, `copy_finished_at` (by digest) and
`completed_at` (the tag written, status complete). Prints the median and worst of each stage, the copy's
total from its push, and the last copy after the last push.

`--compare REF` runs the same trial on REF's code too (exported with `git archive`), alternating the order
every round (`--rounds`), and prints both side by side with the load average. `BENCH_PORTS=6700-6799` keeps
every server it starts in that range.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.environment import ROOT, embedded_defaults_env, process_tree_cpu, stop_children

REGIONS = ["westus", "eastus", "canadacentral", "westeurope", "northeurope", "southeastasia"]  # the first is home
PUSHER_PASSWORD = "push-stages-pusher"  # a throwaway user in the trial's own temporary database
# gunicorn's access line of a notification: ... "POST /api/v1/events/ HTTP/1.1" 202 55 12ms ...
ACCESS_EVENTS = re.compile(r'"POST /api/v1/events/ [^"]*" \d+ \S+ (\d+)ms')
# ... "GET /oauth2/token?account=... HTTP/1.1" 200 1157 6ms ...: the pushers' token requests (skopeo asks one per
# repository and action; the engine issues its own in process)
ACCESS_TOKENS = re.compile(r'"GET /oauth2/token[^"]*" \d+ \S+ (\d+)ms')
IDLE_SECONDS = 5
STAGES = [  # (label, from field, to field)
    ("event sent → intake received", "pushed_at", "event_received_at"),
    ("intake → fan-out queued", "event_received_at", "queued_at"),
    ("queued → copy started", "queued_at", "copy_started_at"),
    ("copy started → finished", "copy_started_at", "copy_finished_at"),
    ("copy finished → complete", "copy_finished_at", "completed_at"),
    ("push → complete (total)", "pushed_at", "completed_at"),
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench push-stages", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=4, help="regions besides home (at most 5)")
    parser.add_argument("--singles", type=int, default=8, help="single pushes, one at a time (0: none)")
    parser.add_argument("--pushers", type=int, default=10, help="concurrent pushers in the burst")
    parser.add_argument("--images", type=int, default=50, help="images pushed in the burst (0: no burst)")
    parser.add_argument("--layer-kib", type=int, default=256, help="each platform image's own layer")
    parser.add_argument("--concurrency", type=int, help="celery worker processes (default: run_worker's)")
    parser.add_argument("--portal", choices=("gunicorn", "runserver"), default="gunicorn",
                        help="the portal as production runs it (run_portal: gunicorn, the default) or runserver")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the copies")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite: postgres://USER@HOST:PORT/NAME; "
                                                 "the database NAME is dropped and created again for every trial")
    parser.add_argument("--broker-url", help="Redis instead of the filesystem broker: redis://HOST:PORT/N; the "
                                               "database N is emptied (FLUSHDB) for every trial")
    parser.add_argument("--compare", metavar="REF", help="also run REF's code (git archive), alternating order")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each checkout with --compare")
    parser.add_argument("--json", type=Path, help="(internal) write one trial's figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    return parser.parse_args(argv)


_next_port = iter(range(*(lambda a, b: (int(a), int(b) + 1))(*os.environ["BENCH_PORTS"].split("-")))) \
    if os.environ.get("BENCH_PORTS") else None


def free_port() -> int:
    """A free port: the next free one of BENCH_PORTS ("6700-6799") when set (a shared machine), else any."""
    from replication.dataplane import find_free_port

    if _next_port is None:
        return find_free_port()
    import socket

    for port in _next_port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("BENCH_PORTS has no free port left")


def database_recreate(url: str) -> None:
    """A fresh PostgreSQL database of that name (only that one): every trial starts from the same state."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def broker_empty(url: str) -> None:
    """FLUSHDB of the Redis database in the URL (never FLUSHALL: the server is shared)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def cpu_by_group(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group's processes and their living descendants (gunicorn's and celery's
    pool processes), plus this process's reaped children (the skopeo pushers) and this process itself."""
    import resource

    used = {group: sum(process_tree_cpu(pid) for pid in pids) for group, pids in roots.items()}
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    used["skopeo"] = reaped.ru_utime + reaped.ru_stime
    used["bench"] = own.ru_utime + own.ru_stime
    return used


class PushStagesTrial:
    def __init__(self, directory: Path, args):
        self.directory = directory
        self.args = args
        self.regions = REGIONS[: args.replicas + 1]
        self.portal_port = free_port()
        self.env = embedded_defaults_env(directory, PORTAL_BASE_URL=f"http://127.0.0.1:{self.portal_port}")
        if args.database_url:
            self.env["DATABASE_URL"] = args.database_url
            database_recreate(args.database_url)
        if args.broker_url:
            self.env["CELERY_BROKER_URL"] = args.broker_url
            broker_empty(args.broker_url)
        self.children: list[subprocess.Popen] = []
        self.groups: dict[str, list[int]] = {"portal": [], "workers": []}  # for cpu_by_group
        self.portal_log: Path | None = None  # gunicorn's access log, when the portal runs under it
        self.registries = {}
        self.scratch = None

    def start(self) -> None:
        from replication.testing import wait_until

        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if getattr(self.args, "portal", "runserver") == "gunicorn":
            call_command("collectstatic", interactive=False, verbosity=0)  # run_portal serves the hashed names
            # INFO: gunicorn's access lines, whose times are the events and token endpoints' answers (portal_answers).
            self.portal_log = self.spawn("portal", [sys.executable, "manage.py", "run_portal", "--bind",
                                                    f"127.0.0.1:{self.portal_port}"], group="portal", LOG_LEVEL="INFO")
        else:
            self.spawn("portal", [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                                  f"127.0.0.1:{self.portal_port}"], group="portal")
        wait_until(lambda: self.answers(f"http://127.0.0.1:{self.portal_port}/api/v1/skus/"), timeout=60,
                   interval=0.1, message="the portal")
        self.start_registries()
        options = {"concurrency": self.args.concurrency} if self.args.concurrency else {}
        try:  # the workers as `make run` starts them: a portal-queue worker and a regions' worker
            from replication.management.commands.run_worker import local_workers
            workers = local_workers(regions=self.regions, hostname_suffix=f"-stages-{os.getpid()}", **options)
        except ImportError:  # a baseline from before that split: one worker for every queue
            from replication.management.commands.run_worker import worker_argv
            workers = [("worker", worker_argv(regions=self.regions, hostname=f"stages-{os.getpid()}@localhost",
                                              **options))]
        for name, argv in workers:
            log = self.spawn(name, argv, group="workers")
            wait_until(lambda: b"ready." in log.read_bytes(), timeout=60, interval=0.1, message=f"the {name}")
        self.create_registry()

    def spawn(self, name: str, argv: list[str], *, group: str, **env: str) -> Path:
        log = self.directory / f"{name}.log"
        handle = open(log, "ab")
        self.children.append(subprocess.Popen(argv, cwd=os.getcwd(), env={**self.env, **env}, stdout=handle,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        self.groups[group].append(self.children[-1].pid)
        return log

    def cpu_used(self) -> dict[str, float]:
        registries = [process._process.pid for process in self.registries.values() if process._process]
        source = [self.scratch._process.pid] if self.scratch and self.scratch._process else []
        return cpu_by_group({**self.groups, "registries": registries, "pushers' source": source})

    @staticmethod
    def answers(url: str) -> bool:
        import httpx

        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def start_registries(self) -> None:
        from replication.dataplane import DistributionProcess
        from replication.local_fleet import local_region_process
        from replication.services.regions import region_set_endpoint

        for name in self.regions:
            process = local_region_process(name, index=0, base_port=free_port(), root=self.directory / "regions",
                                           portal_url=f"http://127.0.0.1:{self.portal_port}")
            process.start()
            self.registries[name] = process
            region_set_endpoint(name=name, endpoint=process.url)
        self.scratch = DistributionProcess("scratch", port=free_port(), storage_dir=self.directory / "scratch",
                                           http_secret="scratch")
        self.scratch.start()

    def create_registry(self) -> None:
        from django.contrib.auth import get_user_model

        from replication.choices import ReplicaStatus
        from replication.models import Replica
        from replication.services import registry_create, replica_create
        from replication.testing import wait_until

        self.registry = registry_create(name="stages", sku="Premium", home_region=self.regions[0])
        get_user_model().objects.create_user("stagespusher", password=PUSHER_PASSWORD, is_staff=True)
        for name in self.regions[1:]:
            replica_create(registry=self.registry, region=name)
        wait_until(lambda: Replica.objects.filter(registry=self.registry, status=ReplicaStatus.READY).count()
                   == len(self.regions), timeout=180, interval=0.1, message="the replicas to be ready")

    # ---- pushes --------------------------------------------------------------------------------

    def images(self, count: int, seed: int) -> list[tuple[str, str]]:
        """`count` distinct small two-platform index images in the scratch registry: [(repository, tag)]."""
        from replication.oci.client import RegistryClient
        from replication.oci.corpus import KiB, build_corpus, push_corpus

        repositories = max(1, min(count, self.args.pushers))
        per_repository = -(-count // repositories)
        corpus = build_corpus(seed, repositories=repositories, tags_per_repo=per_repository,
                              multi_platform_repositories=repositories, shared_base_layers=1,
                              base_layer_size=64 * KiB, unique_layer_size=self.args.layer_kib * KiB)
        with RegistryClient(self.scratch.url) as client:
            pushed = push_corpus(client, corpus, f"src{seed}/", concurrency=8)
        return sorted(key for key in pushed if key[1] != "latest")[:count]

    def push(self, source: str, tag: str, *, prefix: str) -> None:
        target = f"stages/{prefix}{source.split('/', 1)[1]}"
        result = subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                        "--dest-tls-verify=false", "--dest-creds", f"stagespusher:{PUSHER_PASSWORD}",
                        f"docker://{self.scratch.url.removeprefix('http://')}/{source}:{tag}",
                        f"docker://{self.registries[self.regions[0]].url.removeprefix('http://')}/{target}:{tag}"],
                       check=False, capture_output=True, timeout=300)
        if result.returncode:
            raise RuntimeError(f"skopeo push of {target}:{tag} failed: {result.stderr.decode(errors='replace')}")

    def tag_rows_complete(self, prefix: str, expected: int) -> bool:
        from replication.choices import ImageReplicationStatus
        from replication.models import ImageReplication

        rows = self.tag_rows(prefix)
        done = rows.filter(status=ImageReplicationStatus.COMPLETE).count()
        failed = rows.filter(status=ImageReplicationStatus.FAILED).count()
        if failed:
            raise RuntimeError(f"{failed} copies failed; see {self.directory}")
        return done >= expected * len(self.regions)

    def tag_rows(self, prefix: str):
        from replication.models import ImageReplication
        from replication.oci.reference import DIGEST_ALGORITHMS

        rows = ImageReplication.objects.filter(registry=self.registry,
                                               repository__startswith=f"stages/{prefix}")
        for algorithm in DIGEST_ALGORITHMS:
            rows = rows.exclude(reference__startswith=f"{algorithm}:")
        return rows

    def run_single(self) -> dict:
        from replication.testing import wait_until

        images = self.images(self.args.singles, seed=501)
        offset = self.portal_log_size()
        for number, (source, tag) in enumerate(images):
            self.push(source, tag, prefix="single-")
            wait_until(lambda: self.tag_rows_complete("single-", number + 1), timeout=self.args.timeout,
                       interval=0.02, message=f"single push {number + 1} to reach every region; see {self.directory}")
        return self.figures("single-", offset)

    def run_burst(self) -> dict:
        from replication.testing import wait_until

        images = self.images(self.args.images, seed=502)
        offset = self.portal_log_size()
        # One repository per pusher, as separate CI jobs would: Distribution fails concurrent pushes of the same
        # blobs into one repository now and then ("blob unknown"), whatever replicates them afterwards.
        by_repository: dict[str, list] = {}
        for source, tag in images:
            by_repository.setdefault(source, []).append((source, tag))
        lanes = list(by_repository.values())
        errors = []

        def pusher(lane):
            try:
                for source, tag in lane:
                    self.push(source, tag, prefix="burst-")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=pusher, args=(lane,)) for lane in lanes if lane]
        idle_from = self.cpu_used()
        time.sleep(IDLE_SECONDS)  # what the fleet uses doing nothing (polling brokers, probes), for comparison
        cpu_before, started = self.cpu_used(), time.monotonic()
        idle = {group: (cpu_before[group] - idle_from[group]) / IDLE_SECONDS for group in cpu_before}
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pushed = time.monotonic()
        if errors:
            raise errors[0]
        wait_until(lambda: self.tag_rows_complete("burst-", len(images)), timeout=self.args.timeout, interval=0.1,
                   message=f"the burst to reach every region; see {self.directory}")
        cpu_after, level = self.cpu_used(), time.monotonic()
        figures = self.figures("burst-", offset)
        figures["phases"] = {"pushing": pushed - started, "pushing → level": level - pushed}
        figures["cpu"] = {group: cpu_after[group] - cpu_before[group] for group in cpu_after}
        figures["idle_cpu"] = idle
        return figures

    def portal_log_size(self) -> int:
        return self.portal_log.stat().st_size if self.portal_log else 0

    def portal_answers(self, offset: int, pattern: re.Pattern) -> list[float]:
        """Seconds the portal took to answer each request of `pattern` since offset (gunicorn's access log)."""
        if not self.portal_log:
            return []
        with open(self.portal_log, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return [int(ms) / 1000 for ms in pattern.findall(text)]

    def figures(self, prefix: str, log_offset: int = 0) -> dict:
        """Seconds of each stage for every copied image (not the push's own region), and per push."""
        rows = list(self.tag_rows(prefix).filter(source_region__isnull=False).values(
            "repository", "reference", *{field for _, a, b in STAGES for field in (a, b)}))
        stages = {}
        for label, start, end in STAGES:
            stages[label] = [(row[end] - row[start]).total_seconds() for row in rows
                             if row[start] is not None and row[end] is not None]
        pushes = {}
        for row in rows:
            key = (row["repository"], row["reference"])
            pushed, complete = pushes.get(key, (row["pushed_at"], row["completed_at"]))
            pushes[key] = (pushed, max(complete, row["completed_at"]))
        everywhere = [(complete - pushed).total_seconds() for pushed, complete in pushes.values()]
        last_after_last_push = (max(c for _, c in pushes.values()) - max(p for p, _ in pushes.values())).total_seconds()
        return {"copies": len(rows), "pushes": len(pushes), "stages": stages, "everywhere": everywhere,
                "intake_answers": self.portal_answers(log_offset, ACCESS_EVENTS),
                "token_answers": self.portal_answers(log_offset, ACCESS_TOKENS),
                "last_after_last_push": last_after_last_push, "verified": self.verify(prefix)}

    def verify(self, prefix: str) -> int:
        """Every tag in every region answers with the home region's digest (plain HEADs as the engine)."""
        from replication.oci.client import RegistryClient
        from replication.services.token_service import replication_credentials

        username, password = replication_credentials(prefix="stages/")
        keys = set(self.tag_rows(prefix).values_list("repository", "reference"))
        clients = {name: RegistryClient(process.url, username=username, password=password)
                   for name, process in self.registries.items()}
        try:
            checked = 0
            for repository, tag in sorted(keys):
                digests = {name: (client.head_manifest(repository, tag) or None) for name, client in clients.items()}
                found = {d.digest if d else None for d in digests.values()}
                if len(found) != 1 or None in found:
                    raise RuntimeError(f"{repository}:{tag} differs between regions: {digests}")
                checked += len(clients) - 1
            return checked
        finally:
            for client in clients.values():
                client.close()

    def close(self) -> None:
        for process in [*self.registries.values(), self.scratch]:
            if process:
                process.stop()
        stop_children(self.children)


def trial(args) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="push-stages-"))
    bench = PushStagesTrial(directory, args)
    result = {}
    try:
        bench.start()
        if args.singles:
            result["single"] = bench.run_single()
        if args.images:
            result["burst"] = bench.run_burst()
    finally:
        bench.close()
        if args.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return result


# ---- the report --------------------------------------------------------------------------------


def _ms(values: list[float], how) -> str:
    return f"{how(values) * 1000:7.0f}" if values else "      -"


def report(results: dict[str, list[dict]]) -> str:
    """One table: per scenario and stage, median / worst (ms) of every checkout, all rounds pooled."""
    names = list(results)
    header = f"{'scenario':<7} {'stage':<31}" + "".join(f" | {name[:19]:>19}" for name in names)
    lines = [header, f"{'':<7} {'':<31}" + " | median    worst  " * len(names), "-" * len(header)]
    for scenario in ("single", "burst"):
        if not any(scenario in trial_result for runs in results.values() for trial_result in runs):
            continue
        rows = [(label, lambda r, label=label: r["stages"][label]) for label, _, _ in STAGES]
        rows.append(("push → present everywhere", lambda r: r["everywhere"]))
        rows.append(("events endpoint's answer", lambda r: r.get("intake_answers", [])))
        rows.append(("token endpoint's answer", lambda r: r.get("token_answers", [])))
        rows.append(("last copy after last push", lambda r: [r["last_after_last_push"]]))
        for label, pick in rows:
            cells = []
            for name in names:
                values = [v for r in results[name] if scenario in r for v in pick(r[scenario])]
                cells.append(f" | {_ms(values, statistics.median)}  {_ms(values, max)}")
            lines.append(f"{scenario:<7} {label:<31}" + "".join(cells))
        for name in names:
            runs = [r[scenario] for r in results[name] if scenario in r]
            lines.append(f"{scenario:<7} {name}: {sum(r['copies'] for r in runs)} copies of "
                         f"{sum(r['pushes'] for r in runs)} pushes, {sum(r['verified'] for r in runs)} verified "
                         f"by HEAD in every region")
            for run in (r for r in runs if "cpu" in r):
                cpu = run["cpu"]
                wall = sum(run["phases"].values())
                lines.append(
                    f"{scenario:<7} {name}: pushing {run['phases']['pushing']:.1f} s, then level after "
                    f"{run['phases']['pushing → level']:.1f} s; CPU s "
                    + ", ".join(f"{group} {seconds:.1f}" for group, seconds in sorted(cpu.items(), key=lambda i: -i[1]))
                    + f"; {sum(cpu.values()):.1f} CPU s in {wall:.1f} s on {os.cpu_count()} CPUs")
                if "idle_cpu" in run:
                    lines.append(f"{scenario:<7} {name}: idle before the burst, CPU s per s: " + ", ".join(
                        f"{group} {rate:.2f}" for group, rate in sorted(run["idle_cpu"].items(), key=lambda i: -i[1])))
    return "\n".join(lines)


def export(ref: str, directory: Path) -> Path:
    """REF's tree in `directory`, with this checkout's virtualenv and benchmark (the same measurement of both)."""
    directory.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    shutil.rmtree(directory / "bench", ignore_errors=True)
    shutil.copytree(ROOT / "bench", directory / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    (directory / ".venv").symlink_to((ROOT / ".venv").resolve())
    return directory


def run_checkout(checkout: Path, argv: list[str], out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "bench", "push-stages", *argv, "--json", str(out)], cwd=checkout,
                   check=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    # A trial's servers are all stopped when it returns: the next trial may take the same ports.
    return json.loads(out.read_text())


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.replicas > len(REGIONS) - 1:
        print(f"--replicas is at most {len(REGIONS) - 1}", file=sys.stderr)
        return 2
    if args.json:  # one trial of this checkout, for a comparing parent
        args.json.write_text(json.dumps(trial(args), default=str))
        return 0
    passed = list(argv)  # --keep too: each trial keeps its folder
    if "--compare" in passed:
        index = passed.index("--compare")
        del passed[index:index + 2]
    if "--rounds" in passed:
        index = passed.index("--rounds")
        del passed[index:index + 2]
    scratch = Path(tempfile.mkdtemp(prefix="push-stages-compare-"))
    try:
        checkouts = {"this checkout": ROOT}
        if args.compare:
            checkouts = {f"baseline {args.compare}": export(args.compare, scratch / "baseline"), **checkouts}
        results = {name: [] for name in checkouts}
        for round_number in range(args.rounds):
            order = list(checkouts) if round_number % 2 == 0 else list(reversed(checkouts))
            for name in order:
                print(f"round {round_number + 1}: {name}", file=sys.stderr, flush=True)
                out = scratch / f"{round_number}-{len(results[name])}-{abs(hash(name))}.json"
                results[name].append(run_checkout(checkouts[name], passed, out))
        stores = (f"{'PostgreSQL' if args.database_url else 'SQLite'} + "
                  f"{'Redis' if args.broker_url else 'filesystem broker'}")
        print(f"Push stages: portal {args.portal}, {stores}; home + {args.replicas} replicas; single: {args.singles} pushes one "
              "at a time; burst: "
              f"{args.pushers} pushers, {args.images} two-platform index images (2 × {args.layer_kib} KiB own "
              f"layers); {args.rounds} round(s), alternating order; times in ms")
        print(report(results))
        print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
