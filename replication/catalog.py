"""The catalog every installation starts with: Azure's public regions and the three SKUs."""
import json
from decimal import Decimal
from pathlib import Path

REGIONS_FILE = Path(__file__).resolve().parent / "data" / "azure_regions.json"

# Azure Container Registry's published limits; prices are USD per day.
SKUS = [
    dict(name="Basic", rank=1, included_storage_gib=10, max_webhooks=2, read_ops_per_minute=1000,
         write_ops_per_minute=100, price_per_day_usd=Decimal("0.167"), geo_replication=False),
    dict(name="Standard", rank=2, included_storage_gib=100, max_webhooks=10, read_ops_per_minute=3000,
         write_ops_per_minute=500, price_per_day_usd=Decimal("0.667"), geo_replication=False),
    dict(name="Premium", rank=3, included_storage_gib=500, max_webhooks=500, read_ops_per_minute=10000,
         write_ops_per_minute=2000, price_per_day_usd=Decimal("1.667"), geo_replication=True),
]


def catalog_seed(apps=None) -> tuple[int, int]:
    """Create or update regions and SKUs; endpoints and enabled flags already set are kept."""
    if apps is None:
        from django.apps import apps
    Region = apps.get_model("replication", "Region")
    Sku = apps.get_model("replication", "Sku")
    for sku in SKUS:
        Sku.objects.update_or_create(name=sku["name"], defaults=sku)
    rows = json.loads(REGIONS_FILE.read_text())
    for row in rows:
        Region.objects.update_or_create(
            name=row["name"],
            defaults=dict(display_name=row["display_name"], geography=row.get("geography") or "",
                          latitude=row["latitude"], longitude=row["longitude"]),
        )
    by_name = {r.name: r for r in Region.objects.all()}
    for row in rows:
        paired = by_name.get(row.get("paired_region") or "")
        Region.objects.filter(name=row["name"]).update(paired_region=paired)
    return len(rows), len(SKUS)
