import signal
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.local_secrets import private_dir_ensure
from replication.fleet_hosts import ControlPlane, HostFleet, database_url_now, default_delays, fleet_cleanup
from replication.management.commands.run_local import admin_credentials

PREFIX = "grf"
OCTET = 231


def parse_delays(pairs: list[str]) -> dict[str, float]:
    delays = {}
    for pair in pairs:
        name, _, milliseconds = pair.partition("=")
        try:
            delays[name] = float(milliseconds) / 1000
        except ValueError:
            raise CommandError(f"--delay wants REGION=MILLISECONDS, not {pair!r}") from None
    return delays


class Command(BaseCommand):
    help = ("Run the fleet on separate hosts (as root): each region in a network namespace of its own with its "
            "registry and its worker, behind a link with a delay; portal, beat and the portal queue's worker in "
            "the root namespace. Ctrl-C stops and removes everything.")

    def add_arguments(self, parser):
        parser.add_argument("--hosts", action="store_true", required=True,
                            help="Regions on hosts of their own (the only mode of this command so far).")
        parser.add_argument("--regions", default=",".join(settings.LOCAL_REGIONS[:3]),
                            help="Comma-separated region names (default: the first three local regions).")
        parser.add_argument("--delay", action="append", default=[], metavar="REGION=MS",
                            help="One-way delay of a region's link (default 40 ms in the first region's "
                                 "geography, 120 ms elsewhere).")
        parser.add_argument("--addr", default="127.0.0.1:6600", help="Where the portal listens (root namespace).")
        parser.add_argument("--cleanup", action="store_true",
                            help=f"Only remove what a crashed run left (namespaces and veths named {PREFIX}-*).")

    def handle(self, *args, regions, delay, addr, cleanup, **options):
        if cleanup:
            removed = fleet_cleanup(PREFIX)
            self.stdout.write("\n".join(removed) or "Nothing to remove.")
            return
        names = [n for n in regions.split(",") if n]
        private_dir_ensure(settings.VAR_DIR)
        call_command("migrate", verbosity=0)
        delays = {**default_delays(names), **parse_delays(delay)}
        unknown = set(delays) - set(names)
        if unknown:
            raise CommandError(f"--delay names regions not in --regions: {', '.join(sorted(unknown))}")
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") or \
                settings.CELERY_BROKER_URL.startswith("filesystem"):
            self.stderr.write("Note: SQLite and the filesystem broker are files every namespace shares, so a "
                              "partition cuts only the registries. Use PostgreSQL and Redis/RabbitMQ for faults.")
        call_command("collectstatic", interactive=False, verbosity=0)
        username, password, token = admin_credentials()
        root = private_dir_ensure(settings.VAR_DIR / "fleet")
        env = {"DATABASE_URL": database_url_now(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
               "CELERY_BROKER_FOLDER": str(settings.CELERY_BROKER_FOLDER)}
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        fleet = HostFleet(delays, root=root / "regions", portal_url=f"http://{addr}", database_url=env["DATABASE_URL"],
                          broker_url=env["CELERY_BROKER_URL"], prefix=PREFIX, octet=OCTET, worker_env=env)
        control = ControlPlane(bind=addr, root=root / "control", env=env, extra_hosts=fleet.portal_hosts())
        try:
            control.start()
            for name, region in fleet.start().items():
                self.stdout.write(f"region {name:<15} namespace {region.host.namespace:<20} registry "
                                  f"{region.endpoint}  (one-way delay {delays[name] * 1000:.0f} ms)")
            self.stdout.write(self.style.SUCCESS(
                f"\nPortal: {control.url}/registries/\nAdmin:  {username} / {password}\nAPI token: {token}\n"
                f"Logs:   {root}\nPress Ctrl-C to stop and remove everything "
                f"(after a crash: manage.py run_fleet --hosts --cleanup)."))
            while not stop.wait(0.5):
                for process in control.processes:
                    if not process.running():
                        self.stderr.write(f"{process.name} exited; stopping.")
                        stop.set()
        finally:
            fleet.stop()
            control.stop()
            self.stdout.write("Stopped the fleet and removed its namespaces, links and processes.")
