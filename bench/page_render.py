"""How long the portal's pages take to render, with every region's registry up and with one of them dead.

`python -m bench.page_render [--renders 20] [--workdir DIR] [--keep]`

Starts one CNCF Distribution registry per local region (as `make run` does), a temporary SQLite
database migrated from scratch, the Premium registry `contoso` (home West US, replicas in East US,
Canada Central and West Europe), and renders each page with Django's test client in this process:
the registry list (its create form lists available home regions), the registry overview and the
map. Then North Europe's registry (no replica there, so the map shows its availability) is
stopped (connection refused), then frozen with SIGSTOP (it accepts connections and never
answers, as a hung host does). Prints the median and worst render of each page per scenario.

Where the code records region health, the probe runs once after each change, as beat would
within REGION_HEALTH_INTERVAL seconds, so that the pages show the dead region as unavailable.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.environment import embedded_defaults_env

REGIONS = ["westus", "eastus", "canadacentral", "westeurope", "northeurope", "southeastasia"]
HOME, REPLICAS, DEAD = "westus", ["eastus", "canadacentral", "westeurope"], "northeurope"
PAGES = {"registry list": "/registries/", "overview": "/registries/contoso/",
         "map": "/registries/contoso/replications/"}


def probe_as_beat_would() -> None:
    try:
        from replication.services.health import region_health_probe
    except ImportError:
        return  # a checkout from before stored health: every render pings the regions itself
    region_health_probe()


def render_times(client, url: str, renders: int) -> list[float]:
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_render", description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    directory = args.workdir or Path(tempfile.mkdtemp(prefix="page-render-"))
    directory.mkdir(parents=True, exist_ok=True)
    os.environ.update(embedded_defaults_env(directory))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from replication.dataplane import DistributionProcess, find_free_port
    from replication.services import registry_create, replica_create
    from replication.services.regions import region_set_endpoint

    call_command("migrate", verbosity=0)
    registries: dict[str, DistributionProcess] = {}
    rows = []
    try:
        for name in REGIONS:
            registries[name] = DistributionProcess(name, port=find_free_port(), storage_dir=directory / name,
                                                   http_secret=f"bench-{name}", log_path=directory / f"{name}.log")
            registries[name].start()
            region_set_endpoint(name=name, endpoint=registries[name].url)
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
        registry = registry_create(name="contoso", sku="Premium", home_region=HOME, owner=user)
        for name in REPLICAS:
            replica_create(registry=registry, region=name)  # its sync task waits in the broker folder: no worker
        client = Client()
        client.force_login(user)
        dead = registries[DEAD]

        def stop():
            dead.stop()

        def freeze():
            dead.start()
            os.kill(dead._process.pid, signal.SIGSTOP)  # accepts connections (kernel backlog), never answers

        for scenario, change in [("all up", None), (f"{DEAD} stopped", stop), (f"{DEAD} hung", freeze)]:
            if change:
                change()
            probe_as_beat_would()
            for page, url in PAGES.items():
                client.get(url)  # warm up templates and caches
                times = render_times(client, url, args.renders)
                rows.append((scenario, page, statistics.median(times) * 1000, max(times) * 1000))
    finally:
        for process in registries.values():
            if process.is_running():
                os.kill(process._process.pid, signal.SIGCONT)
            process.stop()
        if not args.keep and not args.workdir:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"{'scenario':<22} | {'page':<13} | median ms | worst ms")
    print(f"{'-' * 22}-|-{'-' * 13}-|-----------|---------")
    for scenario, page, median, worst in rows:
        print(f"{scenario:<22} | {page:<13} | {median:9.1f} | {worst:8.1f}")
    print(f"{args.renders} renders per page; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
