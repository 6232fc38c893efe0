from django.core.management.base import BaseCommand

from replication.catalog import catalog_seed


class Command(BaseCommand):
    help = "Create or update Azure's public regions and the Basic/Standard/Premium SKUs."

    def handle(self, *args, **options):
        regions, skus = catalog_seed()
        self.stdout.write(self.style.SUCCESS(f"Catalog: {regions} regions, {skus} SKUs."))
