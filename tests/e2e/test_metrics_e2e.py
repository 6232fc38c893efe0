"""/metrics after a real replication: the worker's counters (another process) reach the portal's scrape
through the run's multiprocess folder, next to the stored state read from the database."""
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_REGIONS, wait_for
from tests.e2e.test_geo_replication import contoso, digest_of, geo_fleet, scratch, user_push  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN = "metrics-token-for-the-e2e-test"


def scrape(portal_server) -> dict:
    response = httpx.get(portal_server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_a_replicated_push_shows_in_the_scrape(settings, portal_server, api_client, contoso, geo_fleet,  # noqa: F811
                                               scratch):
    settings.METRICS_TOKEN = TOKEN
    refused = httpx.get(portal_server.url + "/metrics", timeout=30)
    assert refused.status_code == 401
    targets = [name for name in TEST_REGIONS if name != "eastus"]
    before = scrape(portal_server)

    user_push(scratch, geo_fleet["eastus"], "src/app01:1.0", "contoso/products/api:7.0")
    assert digest_of(geo_fleet["eastus"], "contoso/products/api", "7.0")

    def copies_counted():
        found = scrape(portal_server)
        done = all(value(found, "georegistry_copies_total", region=r, kind="event_copy")
                   - value(before, "georegistry_copies_total", region=r, kind="event_copy") >= 1 for r in targets)
        return found if done else None

    after = wait_for(copies_counted, timeout=120, message="the worker's event copies in the scrape")

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    for region in targets:
        # Counted by the worker process: one event copy, its bytes and manifests, one lag observation.
        assert delta("georegistry_copies_total", region=region, kind="event_copy") == 1
        assert delta("georegistry_copied_bytes_total", region=region) > 0
        assert delta("georegistry_copied_manifests_total", region=region) >= 1
        assert delta("georegistry_replication_lag_seconds_count", region=region) == 1
        assert delta("georegistry_replication_lag_seconds_bucket", region=region, le="+Inf") == 1
        assert 0 <= delta("georegistry_replication_lag_seconds_sum", region=region) < 120
        assert delta("georegistry_fan_out_jobs_total", region=region, action="push") == 1
    assert delta("georegistry_replication_lag_seconds_count", region="eastus") == 0  # the origin has no lag
    assert delta("georegistry_events_fanned_out_total", region="eastus", action="push") == 1  # the worker
    assert delta("georegistry_events_received_total", region="eastus", action="push", source="user") >= 1  # portal
    # The initial syncs of the fixture's replicas (not the home region's) were counted too, and stored state is
    # in the same scrape.
    assert all(value(after, "georegistry_copies_total", region=r, kind="initial") >= 1 for r in TEST_REGIONS[1:])
    assert all(value(after, "georegistry_region_health", region=r) == 1 for r in TEST_REGIONS)
    assert value(after, "georegistry_replicas", region="westeurope", status="ready") >= 1
