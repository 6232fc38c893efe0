from django.core.management.base import BaseCommand, CommandError

from replication.exceptions import NotFound
from replication.services.region_secrets import region_events_secret_retire, region_events_secret_rotate
from replication.services.regions import region_get


class Command(BaseCommand):
    help = ("Rotate a region's events secret (the bearer its registry sends with notifications). The previous "
            "secret stays accepted until --retire; restart the region's registry with the new one in between "
            "(`run_regions`/`run_local` write it into the local registries' configs at start).")

    def add_arguments(self, parser):
        parser.add_argument("region")
        parser.add_argument("--retire", action="store_true", help="stop accepting the previous secret")
        parser.add_argument("--show", action="store_true",
                            help="print the new secret once, for a registry configured by hand")

    def handle(self, *args, region, retire, show, **options):
        try:
            region_obj = region_get(name=region)
        except NotFound as error:
            raise CommandError(error.message) from None
        if retire:
            retired = region_events_secret_retire(region=region_obj)
            self.stdout.write(f"{region_obj.name}: previous events secret {'retired' if retired else 'was none'}.")
            return
        secret = region_events_secret_rotate(region=region_obj)
        self.stdout.write(f"{region_obj.name}: new events secret recorded; the previous one is accepted until "
                          f"`rotate_events_secret {region_obj.name} --retire`.")
        if show:
            self.stdout.write(f"Authorization: Bearer {secret}")
