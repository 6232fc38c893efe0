"""GET /api/v1/registries/{name}/metrics/ and its selector: copies that landed and their lag, per bucket."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from replication import selectors
from replication.choices import ImageReplicationStatus
from replication.exceptions import InvalidInput

from .conftest import image_copied, utc

NOW = utc(2026, 12, 3, 10, 30)


def test_a_day_has_24_hourly_buckets_ending_with_the_current_hour(contoso):
    image_copied(contoso, region="eastus", reference="a", pushed_at=utc(2026, 12, 3, 10, 5), lag_seconds=4)
    image_copied(contoso, region="eastus", reference="b", pushed_at=utc(2026, 12, 3, 10, 6), lag_seconds=8)
    image_copied(contoso, region="eastus", reference="c", pushed_at=utc(2026, 12, 3, 8, 59, 58), lag_seconds=3)
    image_copied(contoso, region="westeurope", reference="a", pushed_at=utc(2026, 12, 3, 10, 5), lag_seconds=20)
    # Not copies that landed in the window: the origin's own row, a pending one, one older than 24 h.
    image_copied(contoso, region="westus", reference="a", pushed_at=utc(2026, 12, 3, 10, 5), lag_seconds=0,
                 source=None)
    image_copied(contoso, region="westeurope", reference="b", pushed_at=utc(2026, 12, 3, 10, 6), lag_seconds=0,
                 status=ImageReplicationStatus.PENDING)
    image_copied(contoso, region="westeurope", reference="old", pushed_at=utc(2026, 12, 2, 10, 0), lag_seconds=5)

    figures = selectors.registry_replication_metrics(registry=contoso, window="24h", now=NOW)

    assert (figures.start, figures.end, figures.bucket_seconds) == (utc(2026, 12, 2, 11), utc(2026, 12, 3, 11), 3600)
    assert len(figures.buckets) == 24 and figures.buckets[-1] == utc(2026, 12, 3, 10)
    series = {s.region: s for s in figures.regions}
    assert list(series) == ["eastus", "westeurope", "westus"]  # by display name: East US, West Europe, West US
    assert series["eastus"].images_copied == [0] * 22 + [1, 2]  # 09:00:01 lands in the 09:00 bucket
    assert series["eastus"].lag_seconds_mean == [None] * 22 + [3.0, 6.0]
    assert series["eastus"].lag_seconds_max == [None] * 22 + [3.0, 8.0]
    assert series["westeurope"].images_copied == [0] * 23 + [1]
    assert series["westeurope"].lag_seconds_mean[-1] == 20.0
    assert series["westus"].images_copied == [0] * 24 and series["westus"].lag_seconds_mean == [None] * 24


def test_a_week_has_28_buckets_of_6_hours_aligned_on_utc(contoso):
    image_copied(contoso, region="eastus", reference="a", pushed_at=utc(2026, 12, 3, 6, 0), lag_seconds=60)
    image_copied(contoso, region="eastus", reference="b", pushed_at=utc(2026, 12, 3, 11, 0), lag_seconds=30)
    image_copied(contoso, region="eastus", reference="c", pushed_at=utc(2026, 11, 26, 12, 0), lag_seconds=10)
    image_copied(contoso, region="eastus", reference="d", pushed_at=utc(2026, 11, 26, 11, 0), lag_seconds=10)

    figures = selectors.registry_replication_metrics(registry=contoso, window="7d", now=NOW)

    assert (figures.start, figures.end, figures.bucket_seconds) == (utc(2026, 11, 26, 12), utc(2026, 12, 3, 12),
                                                                     6 * 3600)
    eastus = next(s for s in figures.regions if s.region == "eastus")
    assert eastus.images_copied == [1] + [0] * 26 + [2]  # 11:00 on Nov 26 is before the window
    assert eastus.lag_seconds_mean == [10.0] + [None] * 26 + [45.0]
    assert eastus.lag_seconds_max[-1] == 60.0


def test_the_figures_take_a_bounded_number_of_queries(contoso):
    for hour in range(20):
        image_copied(contoso, region="eastus", reference=f"t{hour}", pushed_at=NOW - timedelta(hours=hour),
                     lag_seconds=hour)
    with CaptureQueriesContext(connection) as queries:
        selectors.registry_replication_metrics(registry=contoso, window="7d", now=NOW)
    assert len(queries) == 2


def test_an_unknown_window_is_refused(contoso):
    with pytest.raises(InvalidInput, match="window must be one of: 24h, 7d"):
        selectors.registry_replication_metrics(registry=contoso, window="30d")


def test_the_api_answers_the_buckets_of_recorded_copies(api_client, contoso):
    now = timezone.now()
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    image_copied(contoso, region="eastus", reference="a", pushed_at=current_hour - timedelta(hours=2), lag_seconds=12)
    image_copied(contoso, region="eastus", reference="b", pushed_at=current_hour - timedelta(hours=2), lag_seconds=6)

    response = api_client.get("/api/v1/registries/contoso/metrics/?window=24h")

    assert response.status_code == 200, response.content
    body = response.json()
    start, end = parse_datetime(body["start"]), parse_datetime(body["end"])
    assert body["window"] == "24h" and body["bucket_seconds"] == 3600 and end - start == timedelta(hours=24)
    assert start <= now < end and end.minute == 0 and len(body["buckets"]) == 24
    index = int((current_hour - timedelta(hours=2) - start) // timedelta(hours=1))
    eastus = next(s for s in body["regions"] if s["region"] == "eastus")
    assert index == 21 or end - current_hour == timedelta(hours=2)  # 21, unless the hour turned meanwhile
    assert eastus["images_copied"][index] == 2 and sum(eastus["images_copied"]) == 2
    assert eastus["lag_seconds_mean"][index] == 9.0 and eastus["lag_seconds_max"][index] == 12.0
    assert api_client.get("/api/v1/registries/contoso/metrics/").json()["window"] == "24h"
    assert api_client.get("/api/v1/registries/contoso/metrics/?window=7d").json()["bucket_seconds"] == 21600


def test_the_api_refuses_a_bad_window_and_an_unknown_registry(api_client, contoso):
    response = api_client.get("/api/v1/registries/contoso/metrics/?window=1y")
    assert response.status_code == 400
    assert response.json() == {"detail": "window must be one of: 24h, 7d.", "code": "invalid", "field": "window"}
    response = api_client.get("/api/v1/registries/nosuch/metrics/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_both_windows_come_from_one_scan_and_match_each_window_alone(contoso):
    for hour in range(0, 40, 3):
        image_copied(contoso, region="eastus", reference=f"t{hour}", pushed_at=NOW - timedelta(hours=hour),
                     lag_seconds=hour + 1)
    with CaptureQueriesContext(connection) as queries:
        day, week = selectors.registry_replication_metrics_windows(registry=contoso, windows=["24h", "7d"], now=NOW)
    assert len(queries) == 2
    assert day == selectors.registry_replication_metrics(registry=contoso, window="24h", now=NOW)
    assert week == selectors.registry_replication_metrics(registry=contoso, window="7d", now=NOW)
    assert sum(day.regions[0].images_copied) == 8 and sum(week.regions[0].images_copied) == 14
