"""The live panels (views.RegistryFragmentView): the same templates as the pages, the same access check,
and the map's state JSON that region_map.js applies."""
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from replication.choices import RegionHealthState, RegistryRole, ReplicaDisplayState, ReplicaStatus
from replication.models import Region, RegionHealth, Replica
from replication.services import access

pytestmark = pytest.mark.django_db

PANELS = ["replicas", "replica-actions", "matrix", "activity", "add-replica", "map", "banner"]


def url(panel: str, name="contoso") -> str:
    return reverse(f"replication:fragment-{panel}", kwargs={"name": name})


@pytest.fixture
def pull_only(contoso, django_user_model):
    user = django_user_model.objects.create_user("paula", password="x")
    access.role_assignment_create(registry=contoso, username="paula", role=RegistryRole.PULL)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("panel", PANELS)
def test_every_panel_answers_its_reader_and_stores_nothing(signed_in, contoso_with_replicas, panel):
    response = signed_in.get(url(panel))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("panel", PANELS)
def test_a_user_without_a_role_gets_404_as_for_an_unknown_registry(contoso, django_user_model, panel):
    stranger = Client()
    stranger.force_login(django_user_model.objects.create_user("steve", password="x"))
    assert stranger.get(url(panel)).status_code == 404
    assert stranger.get(url(panel, name="nosuchregistry")).status_code == 404


@pytest.mark.parametrize("panel", PANELS)
def test_anonymous_visitors_are_sent_to_sign_in(client, contoso, panel):
    response = client.get(url(panel))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_fragments_take_no_writes(signed_in, contoso):
    assert signed_in.post(url("replicas")).status_code == 405


def test_replicas_panel_is_the_pages_table_with_the_current_status(signed_in, contoso_with_replicas):
    html = signed_in.get(url("replicas")).content.decode()
    assert 'id="replicas"' in html and 'data-region="eastus" data-status="syncing"' in html
    assert "20.0\xa0MB of 50.0\xa0MB" in html
    assert "<html" not in html  # a fragment, not a page
    Replica.objects.filter(registry=contoso_with_replicas, region__name="eastus").update(status=ReplicaStatus.READY)
    assert 'data-region="eastus" data-status="ready"' in signed_in.get(url("replicas")).content.decode()


def test_replica_actions_panel_offers_actions_only_to_managers(signed_in, pull_only, contoso_with_replicas):
    managed = signed_in.get(url("replica-actions")).content.decode()
    assert "Sync again" in managed and 'value="/registries/contoso/replications/"' in managed
    read_only = pull_only.get(url("replica-actions"))
    assert read_only.status_code == 200
    assert "Sync again" not in read_only.content.decode() and "Delete" not in read_only.content.decode()


def test_add_replica_panel_lists_available_regions_with_their_plan(signed_in, pull_only, contoso):
    html = signed_in.get(url("add-replica")).content.decode()
    for region in ("East US", "Canada Central", "West Europe"):
        assert region in html
    assert "km from home" in html and "To copy" in html and "a month" in html
    assert 'action="/registries/contoso/replications/create/"' in html
    assert 'action="/registries/contoso/replications/create/"' not in pull_only.get(url("add-replica")).content.decode()


def test_map_state_json_has_every_region_and_the_open_popup(signed_in, contoso_with_replicas):
    now = timezone.now()
    RegionHealth.objects.update_or_create(region=Region.objects.get(name="eastus"), defaults={
        "state": RegionHealthState.DOWN, "since": now, "checked_at": now, "last_error": "connection refused"})
    data = signed_in.get(url("map")).json()
    regions = {entry["name"]: entry for entry in data["regions"]}
    assert len(regions) == Region.objects.count()
    assert data["open"] is None
    east = regions["eastus"]
    assert east["marker"]["state"] == ReplicaDisplayState.UNREACHABLE
    assert "marker-unreachable" in east["className"]
    assert east["tooltip"] == "East US · Replica · Unreachable (region down)"
    assert regions["canadacentral"]["marker"]["state"] == ReplicaDisplayState.FAILED
    assert regions["westus"]["marker"] is None  # ready with routing on: nothing to draw
    assert regions["westeurope"]["state"] == "available"

    opened = signed_in.get(url("map"), {"open": "eastus"}).json()["open"]
    assert opened["name"] == "eastus"
    assert "Unreachable" in opened["html"] and "connection refused" in opened["html"]
    assert signed_in.get(url("map"), {"open": "<script>"}).json()["open"] is None


def test_the_open_popups_digest_ignores_the_fresh_csrf_mask_but_not_a_change(signed_in, contoso_with_replicas):
    first = signed_in.get(url("map"), {"open": "eastus"}).json()["open"]
    second = signed_in.get(url("map"), {"open": "eastus"}).json()["open"]
    assert first["digest"] == second["digest"]
    Replica.objects.filter(registry=contoso_with_replicas, region__name="eastus").update(status=ReplicaStatus.READY)
    assert signed_in.get(url("map"), {"open": "eastus"}).json()["open"]["digest"] != first["digest"]


def test_banner_panel_is_empty_while_the_home_region_answers_and_the_banner_when_it_does_not(signed_in, contoso):
    assert 'id="home-outage"' not in signed_in.get(url("banner")).content.decode()
    now = timezone.now()
    RegionHealth.objects.update_or_create(region=contoso.home_region, defaults={
        "state": RegionHealthState.DOWN, "since": now, "checked_at": now, "last_error": "connection refused"})
    html = signed_in.get(url("banner")).content.decode()
    assert 'id="home-outage"' in html and "The home region West US is unreachable" in html and "<html" not in html


def test_registry_list_panel_shows_health_of_the_registries_the_user_may_see(signed_in, contoso, django_user_model):
    list_url = reverse("replication:fragment-registry-list")
    now = timezone.now()
    RegionHealth.objects.update_or_create(region=contoso.home_region, defaults={
        "state": RegionHealthState.DOWN, "since": now, "checked_at": now, "last_error": "connection refused"})
    response = signed_in.get(list_url)
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store" and "<html" not in html
    assert 'data-registry="contoso"' in html and 'data-unreachable="westus"' in html

    stranger = Client()
    stranger.force_login(django_user_model.objects.create_user("steve", password="x"))
    assert 'data-registry="contoso"' not in stranger.get(list_url).content.decode()
    assert Client().get(list_url).status_code == 302  # signed out: to the sign-in page
