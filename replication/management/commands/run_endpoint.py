import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from replication.endpoint.server import endpoint_argv


class Command(BaseCommand):
    help = "Run the global endpoint (the login server: OCI /v2/ for every region) under gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--bind", action="append", help="host:port (repeatable); default: GLOBAL_ENDPOINT_URL's")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=16)

    def handle(self, *args, bind, workers, threads, **options):
        argv = endpoint_argv(binds=bind, workers=workers, threads=threads)
        self.stdout.write(f"global endpoint on {', '.join(bind or [settings.GLOBAL_ENDPOINT_URL])}")
        sys.stdout.flush()
        # Replace this process, so signals reach gunicorn's arbiter directly.
        os.execvpe(argv[0], argv, {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.endpoint_settings"})
