import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from replication.local_fleet import LocalFleet
from replication.token_service.keys import root_bundle_path


class Command(BaseCommand):
    help = "Start one CNCF Distribution registry per local region, record its endpoint, stop them on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("regions", nargs="*", help="Region names (default: settings.LOCAL_REGIONS).")

    def handle(self, *args, regions, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        with LocalFleet(regions or None) as processes:
            for process in processes:
                self.stdout.write(f"{process.name:<16} {process.url}")
            self.stdout.write(f"Tokens from {settings.PORTAL_BASE_URL}/oauth2/token; trusted certificates: "
                              f"{root_bundle_path()} (written now; restart after `rotate_signing_key --stage`).")
            self.stdout.write("Registries running; Ctrl-C to stop.")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        self.stdout.write("Registries stopped.")
