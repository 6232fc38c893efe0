"""Who pushed, as a region that requires the portal's tokens names it in its events: the replication engine only for
its own signed credentials, never for a client that merely sends its User-Agent (real Distribution)."""
import json

import pytest

from replication.demo import demo_registry_seed
from replication.models import Region
from replication.services.events import event_from_replication, events_parse
from replication.services.region_clients import region_client
from replication.services.regions import region_set_endpoint
from tests.conftest import notification_sink, wait_for
from tests.test_oci.test_client import push_tiny_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def notified_region(registry_factory, fleet_auth):
    """West Europe on a registry of its own that requires tokens and posts its events here: (region, events)."""
    received = []
    with notification_sink(lambda headers, body: received.extend(events_parse(json.loads(body)))) as url:
        registry = registry_factory("westeurope", auth=fleet_auth, notifications_url=url)
        region_set_endpoint(name="westeurope", endpoint=registry.url)
        yield Region.objects.get(name="westeurope"), received


def manifest_pushes(events, repository_prefix):
    return [e for e in events if e.action == "push" and e.repository.startswith(repository_prefix)
            and e.media_type.endswith(("manifest.v1+json", "manifest.v2+json", "index.v1+json"))]


def test_the_engine_is_named_for_its_own_credentials(notified_region):
    region, events = notified_region
    with region_client(region, prefix="copies/", actions=("pull", "push")) as client:
        push_tiny_image(client, "copies/app", "1.0")
    pushed = wait_for(lambda: manifest_pushes(events, "copies/"), timeout=10, interval=0.05, message="the event")
    assert [(e.actor, event_from_replication(e)) for e in pushed] == [("georegistry-replication", True)]


def test_the_demo_seed_pushes_as_its_owner_so_its_pushes_fan_out(notified_region, admin_user, monkeypatch):
    """It used to push with the engine's credentials and only another User-Agent; the regions named the engine."""
    monkeypatch.setattr("replication.demo.DEMO_HOME", "westeurope")
    monkeypatch.setattr("replication.demo.DEMO_REPLICAS", [])
    _, events = notified_region
    assert "its images pushed" in demo_registry_seed(owner_username=admin_user.username)
    pushed = wait_for(lambda: manifest_pushes(events, "contoso/"), timeout=10, interval=0.05, message="the events")
    assert {(e.actor, event_from_replication(e)) for e in pushed} == {("alice", False)}
