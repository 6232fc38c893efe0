import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from replication.metrics import multiproc_dir_prepare
from replication.models import Region
from replication.queues import PORTAL_QUEUE, region_queue


def worker_queues(regions=None) -> list[str]:
    """The portal queue plus one queue per region with a data plane (or the regions named)."""
    names = regions or Region.objects.exclude(endpoint="").order_by("name").values_list("name", flat=True)
    return [PORTAL_QUEUE, *(region_queue(n) for n in names)]


# Event copies are many short jobs that mostly wait on the network: four processes let every replica of a
# push (home + four) copy at once on two cores (python -m bench push-stages).
DEFAULT_CONCURRENCY = 4


def worker_argv(*, regions=None, concurrency=DEFAULT_CONCURRENCY, hostname=None, loglevel="INFO") -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(worker_queues(regions)),
            "-c", str(concurrency), "--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    if hostname:
        argv += ["-n", hostname]
    return argv


class Command(BaseCommand):
    help = "Run a Celery worker for the portal queue and the queues of the regions named (default: all deployed)."

    def add_arguments(self, parser):
        parser.add_argument("regions", nargs="*")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)

    def handle(self, *args, regions, concurrency, **options):
        argv = worker_argv(regions=regions or None, concurrency=concurrency)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The pool's processes add up their counters here (served on WORKER_METRICS_PORT, or by a portal on
            # this host started with the same folder); a command that started this one may have set it already.
            multiproc_dir_prepare(settings.VAR_DIR / "metrics" / ("worker-" + ("-".join(sorted(regions)) or "all")))
        self.stdout.write(" ".join(argv))
        os.execv(argv[0], argv)
