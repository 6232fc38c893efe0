"""Region health: the probe records what each region's real registry answers; rules re-check one region."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from replication import services
from replication.choices import RegionHealthState
from replication.dataplane import find_free_port
from replication.exceptions import Conflict
from replication.models import Region, RegionHealth
from replication.services.health import region_health_probe
from replication.services.regions import region_availability, region_set_endpoint

UP, DOWN, UNKNOWN = RegionHealthState.UP, RegionHealthState.DOWN, RegionHealthState.UNKNOWN


def health(name: str) -> RegionHealth:
    return RegionHealth.objects.get(region__name=name)


def available(name: str) -> bool:
    region = Region.objects.get(name=name)
    return region_availability([region])[region.pk]


@pytest.fixture
def answering(request):
    """A loopback HTTP server whose /v2/ answers with the given status, like a broken or token-protected registry."""
    status = request.param

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_probe_records_up_for_a_running_registry_and_down_for_a_stopped_one(westeurope_registry):
    region_health_probe()
    assert health("westeurope").state == UP and health("westus").state == UP
    westeurope_registry.stop()
    region_health_probe()
    record = health("westeurope")
    assert record.state == DOWN and record.consecutive_failures == 1
    assert "ConnectError" in record.last_error
    assert health("westus").state == UP


def test_since_moves_only_when_the_state_changes(westeurope_registry):
    region_health_probe()
    first = health("westeurope")
    region_health_probe()
    again = health("westeurope")
    assert again.state == UP and again.since == first.since and again.checked_at > first.checked_at

    westeurope_registry.stop()
    region_health_probe()
    went_down = health("westeurope")
    assert went_down.since > first.since
    region_health_probe()
    still_down = health("westeurope")
    assert still_down.since == went_down.since and still_down.consecutive_failures == 2

    westeurope_registry.start()
    region_health_probe()
    back_up = health("westeurope")
    assert back_up.state == UP and back_up.since > still_down.since
    assert back_up.consecutive_failures == 0 and back_up.last_error == ""


@pytest.mark.parametrize("answering, state", [(503, DOWN), (500, DOWN), (401, UP), (404, UP)],
                         indirect=["answering"])
def test_a_5xx_is_down_and_any_other_answer_is_up(catalog, answering, state):
    region_set_endpoint(name="westeurope", endpoint=answering)
    record = health("westeurope")
    assert record.state == state
    assert available("westeurope") is (state == UP)
    if state == DOWN:
        assert "answered 5" in record.last_error


def test_setting_an_endpoint_records_the_new_endpoints_health_at_once(westeurope_registry):
    assert health("westeurope").state == UP
    region_set_endpoint(name="westeurope", endpoint=f"http://127.0.0.1:{find_free_port()}")
    assert health("westeurope").state == DOWN and not available("westeurope")
    region_set_endpoint(name="westeurope", endpoint=westeurope_registry.url)
    assert health("westeurope").state == UP and available("westeurope")


def test_regions_without_endpoint_or_disabled_are_unknown_without_a_probe(deployed_regions):
    # East US's registry runs: a probe would find it up.
    Region.objects.filter(name="eastus").update(enabled=False)
    states = region_health_probe()
    assert states[deployed_regions["eastus"].pk] == UNKNOWN and health("eastus").state == UNKNOWN
    assert not available("eastus")
    japaneast = Region.objects.get(name="japaneast")
    assert states[japaneast.pk] == UNKNOWN and not RegionHealth.objects.filter(region=japaneast).exists()
    assert not available("japaneast")


def test_replica_create_rechecks_the_region_even_when_its_record_says_up(westeurope_registry, admin_user):
    registry = services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=admin_user)
    westeurope_registry.stop()
    assert available("westeurope")  # the record still says up: nothing has probed since
    with pytest.raises(Conflict, match="'westeurope' is not available"):
        services.replica_create(registry=registry, region="westeurope")
    assert health("westeurope").state == DOWN and not available("westeurope")
    assert not registry.replicas.filter(region__name="westeurope").exists()


def test_registry_create_rechecks_its_home_region(westeurope_registry, admin_user):
    westeurope_registry.stop()
    with pytest.raises(Conflict, match="'westeurope' has no available data plane"):
        services.registry_create(name="fabrikam", sku="Premium", home_region="westeurope", owner=admin_user)
    assert health("westeurope").state == DOWN


def test_beat_sends_the_probe_to_the_portal_queue_and_drops_it_when_the_next_is_due(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["probe-region-health"]
    assert entry["task"] == "replication.tasks.probe_region_health"
    assert entry["schedule"] == settings.REGION_HEALTH_INTERVAL
    assert entry["options"] == {"queue": "portal", "expires": settings.REGION_HEALTH_INTERVAL}


def test_the_probe_task_records_health_in_a_real_worker(westeurope_registry, celery_worker_process):
    from replication.tasks import probe_region_health
    from tests.conftest import wait_for

    westeurope_registry.stop()
    probe_region_health.apply_async(queue="portal")
    wait_for(lambda: health("westeurope").state == DOWN, timeout=60, message="the worker's probe to record down")
    assert health("westus").state == UP
