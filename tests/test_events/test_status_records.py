"""image_status_record_many: a fan-out's status rows in a few queries, with every rule of the one-by-one write."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from replication.models import ImageReplication, ImageReplicationStatus, Region
from replication.services import image_status
from replication.services.image_status import StatusRecord

from .conftest import BASE_TIME

pytestmark = pytest.mark.django_db


def record(region: str, reference: str, digest: str, at, status=ImageReplicationStatus.PENDING) -> StatusRecord:
    return StatusRecord(region=Region.objects.get(name=region), repository="geo/app", reference=reference,
                        digest=digest, pushed_at=at, status=status)


def rows(registry) -> dict[tuple[str, str], tuple[str, str]]:
    return {(row.region.name, row.reference): (row.digest, row.status)
            for row in ImageReplication.objects.filter(registry=registry).select_related("region")}


def test_new_rows_take_three_queries_however_many(geo):
    later = BASE_TIME + timedelta(seconds=1)
    records = [record(region, f"v{i}", f"sha256:{i:064x}", later)
               for i in range(10) for region in ("westus", "eastus", "canadacentral")]
    with CaptureQueriesContext(connection) as queries:
        image_status.image_status_record_many(registry=geo, records=records)
    assert len(queries) == 3  # read what exists, insert the rest, read back what was inserted
    assert len(rows(geo)) == 30


def test_the_rules_of_the_one_by_one_write_hold(geo):
    """A later push keeps its row, an earlier one is overwritten, a complete repeat keeps its row, and the same
    row twice in one call ends as the last one says."""
    t0, t1, t2 = BASE_TIME, BASE_TIME + timedelta(seconds=1), BASE_TIME + timedelta(seconds=2)
    image_status.image_status_record_many(registry=geo, records=[
        record("eastus", "newer", "sha256:" + "b" * 64, t2),
        record("eastus", "older", "sha256:" + "a" * 64, t0),
        record("eastus", "repeat", "sha256:" + "c" * 64, t0, status=ImageReplicationStatus.COMPLETE),
    ])
    image_status.image_status_record_many(registry=geo, records=[
        record("eastus", "newer", "sha256:" + "1" * 64, t1),  # older than what the row tracks: ignored
        record("eastus", "older", "sha256:" + "2" * 64, t1),  # newer: overwrites
        record("eastus", "repeat", "sha256:" + "c" * 64, t1),  # the same digest, complete there: unchanged
        record("westus", "twice", "sha256:" + "3" * 64, t0),
        record("westus", "twice", "sha256:" + "4" * 64, t1),  # the same row again in one call: the later wins
    ])
    assert rows(geo) == {
        ("eastus", "newer"): ("sha256:" + "b" * 64, "pending"),
        ("eastus", "older"): ("sha256:" + "2" * 64, "pending"),
        ("eastus", "repeat"): ("sha256:" + "c" * 64, "complete"),
        ("westus", "twice"): ("sha256:" + "4" * 64, "pending"),
    }


def test_a_row_another_writer_inserted_meanwhile_is_decided_by_the_rules(geo, monkeypatch):
    """Between the read and the insert another fan-out may insert the same rows: the insert skips them, and they
    are then written one by one, so a later push still wins whichever writer was first."""
    t0, t1, t2 = BASE_TIME, BASE_TIME + timedelta(seconds=1), BASE_TIME + timedelta(seconds=2)
    bulk_create = ImageReplication.objects.bulk_create

    def another_writer_first(objects, **kwargs):
        for reference, digest, at in [("theirs-later", "sha256:" + "e" * 64, t2),
                                      ("theirs-earlier", "sha256:" + "f" * 64, t0)]:
            ImageReplication.objects.create(registry=geo, region=Region.objects.get(name="eastus"),
                                            repository="geo/app", reference=reference, digest=digest, pushed_at=at,
                                            status=ImageReplicationStatus.PENDING)
        return bulk_create(objects, **kwargs)

    monkeypatch.setattr(ImageReplication.objects, "bulk_create", another_writer_first)
    image_status.image_status_record_many(registry=geo, records=[
        record("eastus", "theirs-later", "sha256:" + "5" * 64, t1),
        record("eastus", "theirs-earlier", "sha256:" + "6" * 64, t1),
        record("eastus", "only-ours", "sha256:" + "7" * 64, t1),
    ])
    assert rows(geo) == {
        ("eastus", "theirs-later"): ("sha256:" + "e" * 64, "pending"),
        ("eastus", "theirs-earlier"): ("sha256:" + "6" * 64, "pending"),
        ("eastus", "only-ours"): ("sha256:" + "7" * 64, "pending"),
    }
