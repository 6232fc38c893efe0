"""Registry rows written directly (no registries started): the figures come from recorded rows only."""
from datetime import datetime, timedelta, timezone

import pytest

from replication.choices import ImageReplicationStatus, ReplicaStatus, SkuTier
from replication.models import ImageReplication, Region, Registry, Replica, Sku


@pytest.fixture
def contoso(catalog):
    registry = Registry.objects.create(name="contoso", sku=Sku.objects.get(name=SkuTier.PREMIUM),
                                       home_region=Region.objects.get(name="westus"))
    for name in ("westus", "eastus", "westeurope"):
        Replica.objects.create(registry=registry, region=Region.objects.get(name=name), status=ReplicaStatus.READY)
    return registry


def image_copied(registry, *, region, reference, pushed_at, lag_seconds, source="westus",
                 status=ImageReplicationStatus.COMPLETE):
    """The row a copy leaves when the image became complete in `region` lag_seconds after its push."""
    return ImageReplication.objects.create(
        registry=registry, region=Region.objects.get(name=region), repository="contoso/web", reference=reference,
        digest="sha256:" + "a" * 64, status=status, pushed_at=pushed_at,
        completed_at=pushed_at + timedelta(seconds=lag_seconds) if status == ImageReplicationStatus.COMPLETE else None,
        source_region=Region.objects.get(name=source) if source else None)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
