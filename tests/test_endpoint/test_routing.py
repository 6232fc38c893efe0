"""The routing rules of the global endpoint (services/routing.py) and what the API shows of them."""
import datetime as dt

import pytest
from django.utils import timezone

from replication import services
from replication.choices import RegistryEventAction, ReplicaStatus, RoutingDecision, RoutingExclusion
from replication.client_address import client_address
from replication.exceptions import InvalidInput
from replication.models import Region, RegionHealth, RegistryEvent, Replica
from replication.services import routing

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso(deployed_regions, admin_user):
    """Home West US; replicas East US and West Europe, ready; every region up for an hour."""
    registry = services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=admin_user)
    for name in ("eastus", "westeurope"):
        Replica.objects.create(registry=registry, region=Region.objects.get(name=name), status=ReplicaStatus.READY)
    RegionHealth.objects.filter(state="up").update(since=timezone.now() - dt.timedelta(hours=1))
    return registry


def routes_from(registry, client_region):
    return [(r.region.name, r.takes_traffic, r.reason) for r in
            routing.registry_routes(registry=registry, client_region=client_region)]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = "192.0.2.0/24"
    assert client_address(remote_addr="198.51.100.7", forwarded_for="203.0.113.9") == "198.51.100.7"
    assert client_address(remote_addr="192.0.2.10", forwarded_for="203.0.113.9, 192.0.2.99") == "203.0.113.9"


def test_the_most_specific_client_network_names_the_region_else_the_default(settings):
    settings.CLIENT_NETWORKS = "10.0.0.0/8=westus,10.1.0.0/16=westeurope"
    settings.CLIENT_DEFAULT_REGION = "eastus"
    assert routing.client_region_name(address="10.1.2.3") == "westeurope"
    assert routing.client_region_name(address="10.2.2.3") == "westus"
    assert routing.client_region_name(address="203.0.113.9") == "eastus"


def test_replicas_are_ordered_by_great_circle_distance_from_the_client(contoso):
    assert [name for name, *_ in routes_from(contoso, "westeurope")] == ["westeurope", "eastus", "westus"]
    assert [name for name, *_ in routes_from(contoso, "westus")] == ["westus", "eastus", "westeurope"]


def test_each_reason_keeps_a_replica_out_of_the_routing(contoso):
    Replica.objects.filter(registry=contoso, region__name="eastus").update(region_endpoint_enabled=False)
    RegionHealth.objects.filter(region__name="westeurope").update(state="down")
    assert routes_from(contoso, "westus") == [("westus", True, ""), ("eastus", False, RoutingExclusion.ROUTING_OFF),
                                              ("westeurope", False, RoutingExclusion.UNHEALTHY)]
    RegionHealth.objects.filter(region__name="westeurope").update(state="up", since=timezone.now())
    Replica.objects.filter(registry=contoso, region__name="westus").update(status=ReplicaStatus.SYNCING)
    Replica.objects.filter(registry=contoso, region__name="eastus").update(region_endpoint_enabled=True,
                                                                           status=ReplicaStatus.DEGRADED)
    assert routes_from(contoso, "westus") == [("westus", False, RoutingExclusion.NOT_READY),
                                              ("eastus", True, RoutingExclusion.CATCHING_UP),
                                              ("westeurope", False, RoutingExclusion.COOLING_DOWN)]


def test_a_region_only_cooling_down_is_used_when_no_other_takes_traffic(contoso):
    RegionHealth.objects.filter(region__name__in=["westus", "eastus"]).update(state="down")
    RegionHealth.objects.filter(region__name="westeurope").update(since=timezone.now())
    routes = routing.registry_routes(registry=contoso, client_region="westus")
    assert [r.region.name for r in routing.routing_candidates(routes)] == ["westeurope"]


def event(registry, *, region, action, digest, tag="", minutes_ago):
    return RegistryEvent.objects.create(
        registry=registry, region=Region.objects.get(name=region), event_id=f"{region}-{digest}-{action}-{tag}",
        action=action, repository="contoso/app", tag=tag, digest=digest,
        timestamp=timezone.now() - dt.timedelta(minutes=minutes_ago))


def test_a_tag_stands_for_its_latest_push_known_from_events_or_from_the_endpoint(contoso):
    old, new, newest = (f"sha256:{c * 64}" for c in "abc")
    event(contoso, region="westus", action=RegistryEventAction.PUSH, digest=old, tag="1.0", minutes_ago=10)
    event(contoso, region="eastus", action=RegistryEventAction.PUSH, digest=new, tag="1.0", minutes_ago=5)
    head = routing.tag_latest_push(registry=contoso, repository="contoso/app", tag="1.0")
    assert (head.digest, head.region_id) == (new, Region.objects.get(name="eastus").pk)
    # A push through the endpoint is known before its region's event arrives.
    routing.routed_push_record(registry=contoso, region=Region.objects.get(name="westeurope"),
                               repository="contoso/app", tag="1.0", digest=newest)
    assert routing.tag_latest_push(registry=contoso, repository="contoso/app", tag="1.0").digest == newest


def test_a_tag_whose_latest_digest_was_deleted_resolves_to_nothing(contoso):
    digest = f"sha256:{'d' * 64}"
    event(contoso, region="westus", action=RegistryEventAction.PUSH, digest=digest, tag="1.0", minutes_ago=10)
    event(contoso, region="westus", action=RegistryEventAction.DELETE, digest=digest, minutes_ago=1)
    assert routing.tag_latest_push(registry=contoso, repository="contoso/app", tag="1.0") is None


def test_a_tag_list_adds_tags_known_pushed_elsewhere_and_drops_tags_whose_digest_was_deleted(contoso):
    pushed, removed, replaced = (f"sha256:{c * 64}" for c in "efa")
    event(contoso, region="eastus", action=RegistryEventAction.PUSH, digest=pushed, tag="2.0", minutes_ago=1)
    event(contoso, region="westus", action=RegistryEventAction.PUSH, digest=removed, tag="old", minutes_ago=10)
    event(contoso, region="westus", action=RegistryEventAction.DELETE, digest=removed, minutes_ago=5)
    # Deleted, then pushed again under another digest: listed.
    event(contoso, region="westus", action=RegistryEventAction.PUSH, digest=removed, tag="again", minutes_ago=10)
    event(contoso, region="westus", action=RegistryEventAction.PUSH, digest=replaced, tag="again", minutes_ago=2)
    routing.routed_push_record(registry=contoso, region=Region.objects.get(name="westeurope"),
                               repository="contoso/app", tag="3.0", digest=pushed)
    tags = routing.repository_tag_list(registry=contoso, repository="contoso/app", replica_tags=["1.0", "old"])
    assert tags == ["1.0", "2.0", "3.0", "again"]


def test_tag_list_pages_walk_the_sorted_list_after_last_and_refuse_a_bad_n():
    tags = ["a", "b", "c", "d", "e"]
    first = routing.tag_list_page(tags=tags, number="2")
    assert (first.tags, first.next_last) == (["a", "b"], "b")
    second = routing.tag_list_page(tags=tags, number="2", last=first.next_last)
    assert (second.tags, second.next_last) == (["c", "d"], "d")
    third = routing.tag_list_page(tags=tags, number="2", last=second.next_last)
    assert (third.tags, third.next_last) == (["e"], "")
    assert routing.tag_list_page(tags=tags, number=None, last="c").tags == ["d", "e"]
    assert routing.tag_list_page(tags=tags, number="").tags == tags  # an empty n is no n
    for bad in ("1001", "many", "-1"):
        with pytest.raises(InvalidInput):
            routing.tag_list_page(tags=tags, number=bad)


def test_each_routing_decision_is_counted_per_region(contoso, settings):
    settings.ROUTING_COUNTER_FLUSH_SECONDS = 3600  # held in memory until flushed
    westus = Region.objects.get(name="westus")
    for _ in range(3):
        routing.routing_count(region=westus, decision=RoutingDecision.SERVED)
    routing.routing_count(region=westus, decision=RoutingDecision.FAILED_OVER)
    routing.routing_counts_flush()
    assert routing.routing_counters()["westus"] == {"served": 3, "redirected": 0, "failed_over": 1,
                                                    "stale_avoided": 0}


def test_endpoints_api_shows_login_server_regional_endpoints_and_why_a_replica_takes_no_traffic(
        api_client, contoso, settings):
    settings.GLOBAL_ENDPOINT_URL = "http://127.0.0.1:5100"
    RegionHealth.objects.filter(region__name="westeurope").update(state="down")
    body = api_client.get("/api/v1/registries/contoso/endpoints/").json()
    assert body["login_server"] == "127.0.0.1:5100"
    assert [e["region"] for e in body["regional_endpoints"]] == ["eastus", "westeurope", "westus"]
    westeurope = next(r for r in body["routing"] if r["region"] == "westeurope")
    assert (westeurope["takes_traffic"], westeurope["reason"]) == (False, "unhealthy")
    assert westeurope["counters"]["served"] == 0
