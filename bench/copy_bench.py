"""The copy benchmark: the project's engine against `skopeo sync`, a plain copier, the target registry's own
ingest, and the whole portal path.

One source registry holds a reproducible corpus per size (pushed once per run); every
trial copies it into a fresh, empty Distribution registry, checks that every tag arrived
with the source's digest, and throws the target away. The tools alternate within each
round so that a warm page cache or a noisy neighbour favours neither.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import yaml

from bench.environment import ROOT, Trial, embedded_defaults_env
from replication.dataplane import DistributionProcess, find_free_port
from replication.oci.client import RegistryClient
from replication.oci.constants import MANIFEST_ACCEPT
from replication.oci.corpus import GiB, MiB, Corpus, benchmark_corpus, build_corpus, push_corpus

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
TOOLS = ("skopeo", "copy_registry", "engine", "plain", "ingest", "portal")
TOOL_LABELS = {"skopeo": "skopeo sync", "copy_registry": "manage.py copy_registry", "engine": "engine",
               "plain": "plain copier", "ingest": "target's own ingest", "portal": "whole path (API → ready)"}
DEFAULT_TOOLS = ("skopeo", "engine", "portal")
# `python -m bench engine`: the command as an operator runs it (start-up included) against its yardsticks.
ENGINE_PRESET = ["--sizes", "mid,blobs", "--tools", "skopeo,copy_registry,engine,plain,ingest"]


def small_corpus() -> Corpus:
    """The shape of benchmark_corpus (10 repositories, 30 tags, 2 multi-platform) at ~120 MB."""
    return build_corpus(11, repositories=10, tags_per_repo=3, shared_base_layers=3, base_layer_size=2 * MiB,
                        layers_per_image=2, unique_layer_size=3 * MiB // 2, multi_platform_repositories=2)


def single_blob_corpus() -> Corpus:
    """One image whose only layer is 1 GiB: the copying process's memory must stay flat."""
    return build_corpus(12, repositories=1, tags_per_repo=1, shared_base_layers=0, layers_per_image=1,
                        unique_layer_size=GiB, multi_platform_repositories=0)


def mid_corpus() -> Corpus:
    """The shape the engine found hardest: 12 repositories × 3 tags, 4 of them two-platform indexes, 32 MiB
    per platform image of which 24 MiB are base layers shared by every image of the platform (453 MB unique)."""
    return build_corpus(13, repositories=12, tags_per_repo=3, shared_base_layers=3, base_layer_size=8 * MiB,
                        layers_per_image=2, unique_layer_size=4 * MiB, multi_platform_repositories=4)


def large_blobs_corpus() -> Corpus:
    """Four images of one 128 MiB layer each: the copy is bound by the target's ingest, not by requests."""
    return build_corpus(14, repositories=4, tags_per_repo=1, shared_base_layers=0, layers_per_image=1,
                        unique_layer_size=128 * MiB, multi_platform_repositories=0)


CORPORA = {"small": small_corpus, "large": benchmark_corpus, "single": single_blob_corpus, "mid": mid_corpus,
           "blobs": large_blobs_corpus}


@dataclass
class Row:
    size: str
    tool: str
    mbytes: float
    trials: list[Trial] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(t.seconds for t in self.trials)

    @property
    def cpu(self) -> float | None:
        values = [t.cpu for t in self.trials if t.cpu is not None]
        return statistics.median(values) if values else None

    @property
    def target_cpu(self) -> float | None:
        values = [t.target_cpu for t in self.trials if t.target_cpu is not None]
        return statistics.median(values) if values else None

    @property
    def source_cpu(self) -> float | None:
        values = [t.source_cpu for t in self.trials if t.source_cpu is not None]
        return statistics.median(values) if values else None

    @property
    def peak_rss(self) -> int | None:
        values = [t.peak_rss for t in self.trials if t.peak_rss is not None]
        return max(values) if values else None


# ---- measuring a process ----------------------------------------------------------------


def peak_rss_kib(pid: int) -> int | None:
    """The process's own RSS high-water mark (VmHWM): reset at exec, unlike wait4's ru_maxrss,
    which keeps the RSS of the forked copy of this (large) benchmark process."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_measured(argv: list[str], *, env: dict | None = None, log: Path) -> Trial:
    """Run argv to completion: wall time, peak RSS (VmHWM, polled every 20 ms) and CPU time (wait4)."""
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        peak = 0
        while True:
            # WNOHANG: the child stays a zombie until reaped, so /proc/pid/status is there till the end.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_rss_kib(process.pid) or 0)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{tail}")
    return Trial(seconds, peak * 1024 or None, cpu=usage.ru_utime + usage.ru_stime)


# ---- checking a target ------------------------------------------------------------------


def tag_digests(endpoint: str, prefix: str) -> dict[tuple[str, str], str]:
    """Every (repository, tag) -> digest under prefix, read with plain httpx (not the engine's client)."""
    result = {}
    with httpx.Client(base_url=endpoint, timeout=30) as http:
        repositories, url = [], "/v2/_catalog?n=1000"
        while url:
            response = http.get(url)
            repositories += response.json().get("repositories") or []
            link = response.headers.get("Link", "")
            url = link[link.index("<") + 1:link.index(">")] if "rel=\"next\"" in link else None
        for repository in (r for r in repositories if r.startswith(prefix)):
            for tag in http.get(f"/v2/{repository}/tags/list", params={"n": 1000}).json().get("tags") or []:
                response = http.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
                result[(repository, tag)] = response.headers.get("Docker-Content-Digest", "")
    return result


def check_target(endpoint: str, expected: dict[tuple[str, str], str], prefix: str, tool: str) -> None:
    arrived = tag_digests(endpoint, prefix)
    missing = {key: digest for key, digest in expected.items() if arrived.get(key) != digest}
    if missing:
        sample = ", ".join(f"{repo}:{tag}" for repo, tag in list(missing)[:5])
        raise RuntimeError(f"{tool}: {len(missing)} of {len(expected)} tags missing or wrong in the target ({sample})")


# ---- the benchmark ----------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="georegistry-bench-", dir=args.workdir))
        self.log = self.root / "bench.log"
        self.registries: list[DistributionProcess] = []
        self.portal = None
        self.serial = 0

    def say(self, message: str) -> None:
        print(message, flush=True)

    def start_registry(self, name: str) -> DistributionProcess:
        self.serial += 1
        name = f"{name}-{self.serial}"
        process = DistributionProcess(name, port=find_free_port(), storage_dir=self.root / name / "data",
                                      http_secret=f"bench-{name}", log_path=self.root / f"{name}.log")
        process.start()
        self.registries.append(process)
        return process

    def discard(self, process: DistributionProcess) -> None:
        process.stop()
        self.registries.remove(process)
        shutil.rmtree(process.storage_dir.parent, ignore_errors=True)

    def close(self) -> None:
        if self.portal:
            self.portal.close()
        for process in list(self.registries):
            process.stop()
        if self.args.keep:
            self.say(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- the tools --

    def skopeo(self, source: DistributionProcess, target: DistributionProcess, repositories: list[str],
               prefix: str) -> Trial:
        spec = self.root / "skopeo-sync.yml"
        host = source.url.removeprefix("http://")
        spec.write_text(yaml.safe_dump({host: {"tls-verify": False, "images": {r: [] for r in repositories}}}))
        # skopeo keeps only the last path component of each source repository: put the prefix back.
        destination = target.url.removeprefix("http://") + "/" + prefix.rstrip("/")
        argv = ["skopeo", "sync", "--all", "--preserve-digests", "--src", "yaml", "--dest", "docker",
                "--dest-tls-verify=false", str(spec), destination]
        return run_measured(argv, log=self.log)

    def copy_registry(self, source: DistributionProcess, target: DistributionProcess, prefix: str) -> Trial:
        """The operator's command, start-up included, in the environment a fresh checkout has (no database)."""
        argv = [sys.executable, "manage.py", "copy_registry", source.url, target.url, "--repository-prefix", prefix,
                "--concurrency", str(self.args.concurrency)]
        return run_measured(argv, env=embedded_defaults_env(self.root / "cli"), log=self.log)

    def plain(self, source: DistributionProcess, target: DistributionProcess, prefix: str) -> Trial:
        argv = [sys.executable, "-m", "bench.plain_copy", "copy", source.url, target.url, "--repository-prefix",
                prefix, "--concurrency", str(self.args.concurrency)]
        return run_measured(argv, log=self.log)

    def ingest(self, plan: Path, target: DistributionProcess) -> Trial:
        argv = [sys.executable, "-m", "bench.plain_copy", "ingest", str(plan), target.url,
                "--concurrency", str(self.args.concurrency)]
        return run_measured(argv, log=self.log)

    def ingest_plan(self, size: str, corpus: Corpus, prefix: str) -> Path:
        """Every unique blob in a file (read once before the trials, so from the page cache in them) and the
        writes a copy makes: one upload per blob, mounts into the other repositories, manifests children first."""
        folder = self.root / f"ingest-{size}"
        folder.mkdir(exist_ok=True)
        blobs = corpus.unique_blobs()
        homes: dict[str, list[str]] = {}
        for repository, repository_blobs in corpus.blobs_by_repository().items():
            for digest in repository_blobs:
                homes.setdefault(digest, []).append(prefix + repository)
        for digest, blob in blobs.items():
            with open(folder / digest.replace(":", "-"), "wb") as file:
                for chunk in blob.chunks():
                    file.write(chunk)
        manifests = []
        for image in corpus.images:
            for child in image.children:
                manifests.append({"repository": prefix + image.repository, "reference": child.digest,
                                  "media_type": child.media_type, "body": child.body.decode()})
            for tag in image.tags:
                manifests.append({"repository": prefix + image.repository, "reference": tag,
                                  "media_type": image.media_type, "body": image.body.decode()})
        plan = {"blobs": [{"digest": digest, "size": blob.size, "repositories": homes[digest],
                           "path": str(folder / digest.replace(":", "-"))} for digest, blob in blobs.items()],
                "manifests": manifests}
        path = folder / "plan.json"
        path.write_text(json.dumps(plan))
        return path

    def engine(self, source: DistributionProcess, target: DistributionProcess, prefix: str, profile: str | None) -> Trial:
        argv = [sys.executable, "-m", "bench.engine", source.url, target.url, "--repository-prefix", prefix,
                "--concurrency", str(self.args.concurrency)]
        if profile:  # sampled from outside, every thread; the time and RSS of this run include py-spy's
            argv = [PY_SPY, "record", "--rate", "200", "--format", "raw", "--output", profile, "--", *argv]
        return run_measured(argv, log=self.log)

    # -- one size --

    def run_size(self, size: str, source: DistributionProcess) -> list[Row]:
        corpus = CORPORA[size]()
        name = f"bench{size}"  # also the portal registry's name: its repositories live under name/
        prefix = f"{name}/"
        mbytes = corpus.total_blob_bytes / 1e6
        self.say(f"[{size}] corpus: {len(corpus.repositories)} repositories, {len(corpus.tags())} tags, "
                 f"{len(corpus.unique_blobs())} unique blobs, {mbytes:.0f} MB; pushing to the source ...")
        started = time.perf_counter()
        with RegistryClient(source.url) as client:
            expected = push_corpus(client, corpus, prefix, concurrency=4)
        self.say(f"[{size}] pushed in {time.perf_counter() - started:.1f} s")
        repositories = [prefix + r for r in corpus.repositories]

        plan = self.ingest_plan(size, corpus, prefix) if "ingest" in self.args.tools else None
        tools = [t for t in self.args.tools if t != "portal" or self.portal_ready(size, source, name)]
        rows = {tool: Row(size, tool, mbytes) for tool in tools}
        for round_ in range(self.args.runs):
            order = tools if round_ % 2 == 0 else list(reversed(tools))
            for tool in order:
                target = self.start_registry(f"{size}-{tool}")
                target_process = psutil.Process(target._process.pid)
                source_process = psutil.Process(source._process.pid)
                source_before = sum(source_process.cpu_times()[:2])
                try:
                    if tool == "skopeo":
                        trial = self.skopeo(source, target, repositories, prefix)
                    elif tool == "engine":
                        profile = (str(self.root / f"engine-{size}-{round_}.stacks") if self.args.profile else None)
                        trial = self.engine(source, target, prefix, profile)
                        if profile:
                            self.report_profile(profile)
                    elif tool == "copy_registry":
                        trial = self.copy_registry(source, target, prefix)
                    elif tool == "plain":
                        trial = self.plain(source, target, prefix)
                    elif tool == "ingest":
                        trial = self.ingest(plan, target)
                    else:
                        trial = self.portal.replicate(target.url)
                    times = target_process.cpu_times()
                    trial.target_cpu = times.user + times.system
                    trial.source_cpu = sum(source_process.cpu_times()[:2]) - source_before
                    check_target(target.url, expected, prefix, tool)
                finally:
                    self.discard(target)
                rows[tool].trials.append(trial)
                rss = f", peak RSS {trial.peak_rss / MiB:.0f} MiB" if trial.peak_rss else ""
                rss += f", CPU {trial.cpu:.1f} s" if trial.cpu is not None else ""
                rss += f", target registry CPU {trial.target_cpu:.1f} s, source registry CPU {trial.source_cpu:.1f} s"
                self.say(f"[{size}] run {round_ + 1}/{self.args.runs} {TOOL_LABELS[tool]}: {trial.seconds:.2f} s "
                         f"({mbytes / trial.seconds:.0f} MB/s{rss}); every digest verified")
        return list(rows.values())

    def portal_ready(self, size: str, source: DistributionProcess, name: str) -> bool:
        if self.portal is None:
            from bench.portal import Portal  # sets up Django: only when the whole path is measured

            self.say("starting the portal (temporary SQLite + filesystem broker) and a celery worker ...")
            self.portal = Portal(self.root / "portal", concurrency=self.args.concurrency)
            self.portal.start()
        self.portal.prepare(registry_name=name, home_url=source.url)
        return True

    def report_profile(self, path: str, top: int = 15) -> None:
        """The functions where the engine's threads were sampled most (self and inclusive)."""
        own, inclusive, total = Counter(), Counter(), 0
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [f for f in stack.split(";") if f]
            if not frames:
                continue
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
        self.say(f"profile ({total} samples at 200 Hz, idle threads excluded; raw stacks in {path}):")
        for title, counter in (("self", own), ("inclusive", inclusive)):
            self.say(f"  top {title}:")
            for frame, count in counter.most_common(top):
                self.say(f"    {100 * count / total:5.1f}%  {frame[:140]}")

    def run(self) -> list[Row]:
        source = self.start_registry("source")
        rows = []
        for size in self.args.sizes:
            rows += self.run_size(size, source)
        return rows


# ---- the table --------------------------------------------------------------------------


def format_table(rows: list[Row], *, runs: int, concurrency: int) -> str:
    header = ["size", "unique MB", "tool", "median s", "MB/s", "peak RSS MiB", "CPU s", "target CPU s", "source CPU s",
              "ratio"]
    lines = []
    for row in rows:
        same_size = {r.tool: r for r in rows if r.size == row.size}
        ratios = []
        if row.tool == "portal":
            yardsticks = ["engine"]
        elif row.tool in ("copy_registry", "engine", "plain"):
            yardsticks = ["skopeo", "ingest"]
        else:
            yardsticks = []
        for yardstick in yardsticks:
            if yardstick in same_size:
                ratios.append(f"{row.median / same_size[yardstick].median:.2f} × {yardstick}")
        ratio = ", ".join(ratios)
        rss = f"{row.peak_rss / MiB:.0f}" if row.peak_rss else "-"
        cpu = f"{row.cpu:.1f}" if row.cpu is not None else "-"
        target_cpu = f"{row.target_cpu:.1f}" if row.target_cpu is not None else "-"
        source_cpu = f"{row.source_cpu:.1f}" if row.source_cpu is not None else "-"
        lines.append([row.size, f"{row.mbytes:.0f}", TOOL_LABELS[row.tool], f"{row.median:.2f}",
                      f"{row.mbytes / row.median:.0f}", rss, cpu, target_cpu, source_cpu, ratio])
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths)),
           "-|-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    load = os.getloadavg()[0]
    note = (f"medians of {runs} run(s); concurrency {concurrency}; {os.cpu_count()} CPUs, load average "
            f"{load:.1f} at the end; CPU s = the copying process (the ingest: its uploader), target / source CPU s = the "
            "target / source registry (the ingest reads no registry: its source CPU is other trials' noise); "
            "every tag's digest verified in every target")
    return "\n".join(out + [note])


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time the copy engine against `skopeo sync --all --preserve-digests`, and the whole "
                    "API → replica-ready path, on fresh local Distribution registries.",
    )
    parser.add_argument("--runs", type=int, default=3, help="trials per tool and size (default 3; medians reported)")
    parser.add_argument("--sizes", default="small,large",
                        help="comma-separated: small (~126 MB), large (~1.3 GB of unique blobs), single (one 1 GiB "
                             "layer, for memory), mid (12 repositories × 3 tags, ~32 MiB images with shared base "
                             "layers, 453 MB), blobs (4 × 128 MiB layers); default small,large")
    parser.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)} (default {','.join(DEFAULT_TOOLS)}); "
                             "copy_registry = manage.py copy_registry (start-up included), plain = a plain copier, "
                             "ingest = the same writes from local files (the target's own ingest time)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("REPLICATION_CONCURRENCY", "8")),
                        help="the engine's parallel transfers (default $REPLICATION_CONCURRENCY or 8)")
    parser.add_argument("--profile", action="store_true",
                        help="sample each engine run with py-spy (pip install py-spy) and print where its threads spend time")
    parser.add_argument("--workdir", default=None, help="where the registries store data (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    args = parser.parse_args(argv)
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.tools = [t for t in args.tools.split(",") if t]
    for size in args.sizes:
        if size not in CORPORA:
            parser.error(f"unknown size {size!r}: choose from {', '.join(CORPORA)}")
    for tool in args.tools:
        if tool not in TOOLS:
            parser.error(f"unknown tool {tool!r}: choose from {', '.join(TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if "skopeo" in args.tools and shutil.which("skopeo") is None:
        print("skopeo is not installed (apt-get install skopeo)", file=sys.stderr)
        return 2
    if args.profile and not Path(PY_SPY).exists():
        print("--profile needs py-spy: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    bench = Bench(args)
    try:
        rows = bench.run()
    finally:
        bench.close()
    print()
    print(format_table(rows, runs=args.runs, concurrency=args.concurrency))
    return 0
