"""`python -m bench scale [--tags 1000]`: what a registry of many tags costs: sync, reconcile, pages and API reads.

In a temporary folder with the embedded defaults (SQLite): one Distribution registry per region (home westus + four
replicas, requiring the portal's tokens, which the engine issues in process: no portal server is needed), a
Premium registry `scale` with its replicas, and `--tags` small images (`--tags-per-repository` tags per repository,
every image sharing its base layers) pushed into the home region. Then it measures:

- the initial sync: `copy_registry` from home into each replica region (seconds per tag);
- one reconcile run as before this change (a full pass: a HEAD of every tag in every region) and as now (tag lists;
  a HEAD only where the records do not know the digest), with the per-image status recorded as event copies
  leave it: time and requests sent;
- server time (median of `--renders`) and SQL queries of the registry page, the replications (map) page, the
  replication status of one image and the paginated API lists, with Django's test client in this process;
- the database's size. `--tags 10000` for the large point (several minutes).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.environment import embedded_defaults_env

REGIONS = ["westus", "eastus", "canadacentral", "westeurope", "northeurope"]  # the first is home


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--tags-per-repository", type=int, default=10)
    parser.add_argument("--renders", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


def free_port() -> int:
    from bench.push_stages import free_port as pick

    return pick()


def timed(function):
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    os.environ.update(embedded_defaults_env(directory, PORTAL_BASE_URL=f"http://127.0.0.1:{free_port()}"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from replication.local_fleet import local_region_process
    from replication.services.regions import region_set_endpoint

    processes = {}
    try:
        for name in REGIONS:
            processes[name] = local_region_process(name, index=0, base_port=free_port(),
                                                   root=directory / "regions",
                                                   portal_url=os.environ["PORTAL_BASE_URL"])
            processes[name].start()
            region_set_endpoint(name=name, endpoint=processes[name].url)
        measure(args, directory)
    finally:
        for process in processes.values():
            process.stop()
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def measure(args, directory: Path) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.utils import timezone

    from replication.choices import ImageReplicationStatus, ReplicaStatus
    from replication.models import ImageReplication, Region, Replica
    from replication.oci.copy import copy_registry
    from replication.oci.corpus import KiB, build_corpus, push_corpus
    from replication.services import reconcile, registry_create
    from replication.services.region_clients import region_client

    registry = registry_create(name="scale", sku="Premium", home_region=REGIONS[0])
    prefix = registry.repository_prefix
    regions = {name: Region.objects.get(name=name) for name in REGIONS}
    for name in REGIONS[1:]:
        Replica.objects.create(registry=registry, region=regions[name], status=ReplicaStatus.READY)
    repositories = max(1, args.tags // args.tags_per_repository)
    corpus = build_corpus(7, repositories=repositories, tags_per_repo=args.tags_per_repository - 1,
                          multi_platform_repositories=0, shared_base_layers=2, base_layer_size=64 * KiB,
                          unique_layer_size=4 * KiB)  # tags 1.0 .. 1.(N-2) + latest: N-1 images, N tags
    with region_client(regions["westus"], prefix=prefix, actions=("pull", "push"), catalog=True) as home:
        pushed, push_seconds = timed(lambda: push_corpus(home, corpus, prefix, concurrency=8))
    tags = len(pushed)
    print(f"Scale: {tags} tags in {repositories} repositories, home + {len(REGIONS) - 1} replicas "
          f"(pushed in {push_seconds:.1f} s)")

    sync = []
    for name in REGIONS[1:]:
        with region_client(regions["westus"], prefix=prefix, catalog=True) as source, region_client(
                regions[name], prefix=prefix, actions=("pull", "push"), catalog=True) as target:
            _, seconds = timed(lambda: copy_registry(source, target, repository_prefix=prefix,
                                                     concurrency=settings.REPLICATION_CONCURRENCY))
        sync.append(seconds)
    print(f"initial sync (copy_registry into each replica): median {statistics.median(sync):.1f} s, "
          f"{statistics.median(sync) / tags * 1000:.1f} ms per tag")

    # The per-image status an event copy leaves: complete in every region.
    now = timezone.now()
    ImageReplication.objects.bulk_create([
        ImageReplication(registry=registry, region=regions[name], repository=repository, reference=tag,
                         digest=digest, status=ImageReplicationStatus.COMPLETE, pushed_at=now, completed_at=now,
                         source_region=None if name == "westus" else regions["westus"])
        for (repository, tag), digest in pushed.items() for name in REGIONS], batch_size=1000)

    rows = []
    for label, full_seconds in (("before: a HEAD of every tag", 0), ("now: tag lists, HEAD what differs", 3600)):
        settings.REPLICATION_RECONCILE_FULL_SECONDS = full_seconds
        with CaptureQueriesContext(connection) as queries:
            run, seconds = timed(lambda: reconcile.registry_reconcile(registry=registry))
        assert run.difference_count == 0, run.differences[:5]
        rows.append((label, seconds, run.requests_sent, len(queries)))
    print(f"\n{'reconcile run':<36} | {'s':>6} | {'requests':>8} | {'queries':>7}")
    for label, seconds, requests, queries in rows:
        print(f"{label:<36} | {seconds:6.2f} | {requests:8} | {queries:7}")

    # Plain static names: the benchmark runs no collectstatic, which hashed names need; the server time is the same.
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
    admin = get_user_model().objects.create_user("scaleadmin", password="scale-bench-admin", is_staff=True)
    client = Client()
    client.force_login(admin)
    (repository, tag) = sorted(pushed)[len(pushed) // 2]
    reads = {
        "registry page": f"/registries/{registry.name}/",
        "image matrix (live panel)": f"/registries/{registry.name}/fragments/matrix/",
        "replications (map) page": f"/registries/{registry.name}/replications/",
        "API replication-status": f"/api/v1/registries/{registry.name}/replication-status/?repository={repository}"
                                  f"&reference={tag}",
        "API registries list": "/api/v1/registries/",
        "API replicas list": f"/api/v1/registries/{registry.name}/replicas/",
        "API jobs list": f"/api/v1/registries/{registry.name}/jobs/",
        "API metrics (24h)": f"/api/v1/registries/{registry.name}/metrics/?window=24h",
    }
    print(f"\n{'read':<26} | {'median ms':>9} | {'worst ms':>8} | {'queries':>7} | status")
    for label, url in reads.items():
        times = []
        for _ in range(args.renders):
            with CaptureQueriesContext(connection) as queries:
                response, seconds = timed(lambda: client.get(url))
            times.append(seconds)
        print(f"{label:<26} | {statistics.median(times) * 1000:9.0f} | {max(times) * 1000:8.0f} | "
              f"{len(queries):7} | {response.status_code}")
    rss_mib = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    print(f"\nmemory: this process (the Django test client serving those reads, and the engine before it) holds "
          f"{rss_mib:.0f} MiB resident")
    database = Path(settings.DATABASES["default"]["NAME"])
    size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    print(f"\ndatabase {size / 1e6:.1f} MB; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
