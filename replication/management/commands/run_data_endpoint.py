import os
import sys
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from replication.endpoint.server import data_endpoint_command
from replication.exceptions import NotFound
from replication.services.regions import region_get, region_set_data_endpoint


class Command(BaseCommand):
    help = ("Run a region's data endpoint under gunicorn: the blob downloads the global endpoint sends there "
            "with signed URLs, served from that region's registry.")

    def add_arguments(self, parser):
        parser.add_argument("region")
        parser.add_argument("--bind", help="host:port; default: the region's recorded data endpoint's")
        parser.add_argument("--record", action="store_true",
                            help="Record http://BIND as the region's data endpoint (the global endpoint redirects there).")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=16)

    def handle(self, *args, region, bind, record, workers, threads, **options):
        try:
            region_row = region_get(name=region)
        except NotFound as exc:
            raise CommandError(exc.message) from None
        bind = bind or urlsplit(region_row.data_endpoint).netloc
        if not bind:
            raise CommandError(f"Region {region_row.name} has no data endpoint recorded: give --bind HOST:PORT.")
        if record:
            region_set_data_endpoint(name=region_row.name, data_endpoint=f"http://{bind}")
        argv, env = data_endpoint_command(region=region_row.name, bind=bind, workers=workers, threads=threads)
        self.stdout.write(f"data endpoint of {region_row.name} on {bind}")
        sys.stdout.flush()
        os.execvpe(argv[0], argv, env)  # replace this process, so signals reach gunicorn's arbiter directly
