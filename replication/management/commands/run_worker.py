import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from replication.metrics import multiproc_dir_prepare
from replication.models import Region
from replication.queues import PORTAL_QUEUE, region_queue


def worker_queues(regions=None, *, portal=True, regional=True) -> list[str]:
    """The portal queue and/or one queue per region with a data plane (or per region named)."""
    names = regions or Region.objects.exclude(endpoint="").order_by("name").values_list("name", flat=True)
    return ([PORTAL_QUEUE] if portal else []) + ([region_queue(n) for n in names] if regional else [])


# Event copies are many short jobs that mostly wait on the network: four processes let every replica of a
# push (home + four) copy at once on two cores (python -m bench push-stages).
DEFAULT_CONCURRENCY = 4
# The portal queue's own worker: fan-out runs, probes and deliveries never wait behind a burst's copies.
PORTAL_CONCURRENCY = 2


def worker_argv(*, regions=None, concurrency=DEFAULT_CONCURRENCY, hostname=None, loglevel="INFO", portal=True,
                regional=True) -> list[str]:
    queues = worker_queues(regions, portal=portal, regional=regional)
    argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(queues),
            "-c", str(concurrency), "--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    if hostname:
        argv += ["-n", hostname]
    return argv


def local_workers(*, regions, concurrency=DEFAULT_CONCURRENCY, hostname_suffix="") -> list[tuple[str, list[str]]]:
    """The workers of a one-host run: one for the portal queue, one for every region's queue.

    Celery's prefork pool serves its queues in one line: in a shared pool a burst's copy jobs took every
    process and the fan-out run that makes the next copies waited behind them.
    """
    return [("worker-portal", worker_argv(regions=regions, concurrency=PORTAL_CONCURRENCY, regional=False,
                                          hostname=f"portal{hostname_suffix}@%h")),
            ("worker", worker_argv(regions=regions, concurrency=concurrency, portal=False,
                                   hostname=f"regions{hostname_suffix}@%h"))]


class Command(BaseCommand):
    help = "Run a Celery worker for the portal queue and the queues of the regions named (default: all deployed)."

    def add_arguments(self, parser):
        parser.add_argument("regions", nargs="*")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
        queues = parser.add_mutually_exclusive_group()
        queues.add_argument("--portal-only", action="store_true", help="only the portal queue")
        queues.add_argument("--regions-only", action="store_true", help="only the regions' queues")

    def handle(self, *args, regions, concurrency, portal_only, regions_only, **options):
        argv = worker_argv(regions=regions or None, concurrency=concurrency, portal=not regions_only,
                           regional=not portal_only)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The pool's processes add up their counters here (served on WORKER_METRICS_PORT, or by a portal on
            # this host started with the same folder); a command that started this one may have set it already.
            multiproc_dir_prepare(settings.VAR_DIR / "metrics" / ("worker-" + ("-".join(sorted(regions)) or "all")))
        self.stdout.write(" ".join(argv))
        os.execv(argv[0], argv)
