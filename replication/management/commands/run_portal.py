import os
import sys

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management.base import BaseCommand, CommandError

from replication.endpoint.server import portal_argv
from replication.metrics import multiproc_dir_prepare


class Command(BaseCommand):
    help = "Run the portal (pages, API, token service, events intake) under gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, bind, workers, threads, **options):
        if isinstance(staticfiles_storage, ManifestFilesMixin) and not staticfiles_storage.exists(
                staticfiles_storage.manifest_name):
            # Every page names its static files by their hashes, which only collectstatic writes down.
            raise CommandError(f"No {staticfiles_storage.manifest_name} in {settings.STATIC_ROOT}: "
                               "run `manage.py collectstatic` first (run_local does).")
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # gunicorn's workers add up their counters here for /metrics (run_local sets one folder for all).
            multiproc_dir_prepare(settings.VAR_DIR / "metrics" / "portal")
        argv = portal_argv(bind=bind, workers=workers, threads=threads)
        self.stdout.write(f"portal on http://{bind}")
        sys.stdout.flush()
        # Replace this process, so signals reach gunicorn's arbiter directly.
        os.execvpe(argv[0], argv, {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"})
