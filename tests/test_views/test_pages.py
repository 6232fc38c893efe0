"""The portal's pages: who may see them, what they show, and how every form answers."""
import re
from decimal import Decimal

import pytest
from django.test import Client

from replication import services
from replication.choices import REGION_STATE_COLOURS, REPLICA_STATUS_COLOURS, RegionState, ReplicaStatus
from replication.dataplane import find_free_port
from replication.models import Region, Registry, Replica

PAGES = ["/registries/", "/registries/contoso/", "/registries/contoso/replications/"]
ACTIONS = [
    ("/registries/", {"name": "fabrikam", "sku": "Premium", "home_region": "westus"}),
    ("/registries/contoso/sku/", {"sku": "Standard"}),
    ("/registries/contoso/replications/create/", {"region": "eastus"}),
    ("/registries/contoso/replications/westus/delete/", {}),
    ("/registries/contoso/replications/westus/routing/", {"enabled": "false"}),
]
HEXAGON = re.compile(r'"className": "region-hex region-([a-z0-9-]+) state-([a-z]+)[^"]*"[^}]*?"fillColor": "(#[0-9a-fA-F]{6})"')


def text(response) -> str:
    """The page's HTML with filesizeformat's and timesince's non-breaking spaces made plain."""
    return response.content.decode().replace("\xa0", " ")


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def hexagons(response) -> dict[str, tuple[str, str]]:
    """{region: (state, fill colour)} for every hexagon the map page draws."""
    return {region: (state, colour) for region, state, colour in HEXAGON.findall(response.content.decode())}


def snapshot() -> list:
    return [list(Registry.objects.values_list("name", "sku__name")),
            list(Replica.objects.values_list("region__name", "status", "region_endpoint_enabled"))]


# Sign-in and CSRF


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, contoso, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url, data", ACTIONS)
def test_anonymous_posts_change_nothing(client, contoso, url, data):
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert snapshot() == before


def test_sign_in_page_signs_in_and_returns_to_the_page_asked_for(contoso, admin_user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/?next=/registries/contoso/")
    assert page.status_code == 200 and b"Sign in" in page.content
    token = page.cookies["csrftoken"].value
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse",
                                                "next": "/registries/contoso/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/registries/contoso/"
    assert client.get("/registries/contoso/").status_code == 200


def test_wrong_password_is_refused_on_the_sign_in_page(client, admin_user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.parametrize("url, data", ACTIONS)
def test_posts_without_csrf_token_are_refused(csrf_client, contoso, url, data):
    before = snapshot()
    assert csrf_client.post(url, data).status_code == 403
    assert snapshot() == before


def test_every_form_carries_a_csrf_token(signed_in, contoso_with_replicas):
    for url in PAGES:
        html = signed_in.get(url).content.decode().replace("<\\/", "</")  # map popups escape "</"
        post_forms = re.findall(r'<form[^>]*method="post".*?</form>', html, flags=re.S)
        assert post_forms, url
        for form in post_forms:
            assert 'name="csrfmiddlewaretoken"' in form, (url, form[:200])


def test_map_popup_forms_post_with_the_sessions_csrf_token(csrf_client, contoso):
    page = csrf_client.get("/registries/contoso/replications/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = csrf_client.post("/registries/contoso/replications/create/",
                                {"region": "eastus", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Replica.objects.filter(registry=contoso, region__name="eastus").exists()


# Pages


def test_every_page_renders_for_a_signed_in_user(signed_in, contoso_with_replicas):
    for url in PAGES:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert b"contoso" in response.content and b"Sign out" in response.content


def test_unknown_registry_pages_are_404(signed_in, contoso):
    assert signed_in.get("/registries/nothere/").status_code == 404
    assert signed_in.get("/registries/nothere/replications/").status_code == 404


def test_registry_names_are_case_insensitive_in_addresses(signed_in, contoso):
    assert signed_in.get("/registries/CONTOSO/").status_code == 200


def test_registry_list_shows_sku_home_replicas_and_monthly_cost(signed_in, contoso_with_replicas):
    html = signed_in.get("/registries/").content.decode()
    row = re.search(r'<tr data-registry="contoso">(.*?)</tr>', html, flags=re.S).group(1)
    assert "Premium" in row and "West US" in row
    assert re.search(r'<td class="num">3</td>', row)
    assert "$150.03" in row  # 3 regions × $1.667 × 30


def test_registry_list_is_sorted_by_name(signed_in, contoso):
    for name in ["zebra01", "acme01"]:
        services.registry_create(name=name, sku="Basic", home_region="eastus")
    html = signed_in.get("/registries/").content.decode()
    assert re.findall(r'<tr data-registry="([a-z0-9]+)">', html) == ["acme01", "contoso", "zebra01"]


def test_registry_list_offers_only_regions_whose_data_plane_answers(signed_in, deployed_regions):
    html = signed_in.get("/registries/").content.decode()
    home_select = re.search(r'<select name="home_region".*?</select>', html, flags=re.S).group(0)
    offered = set(re.findall(r'<option value="([a-z0-9]+)"', home_select))
    assert offered == {"westus", "eastus", "canadacentral", "westeurope"}


def test_create_registry_form_creates_it_and_opens_its_page(signed_in, deployed_regions):
    response = signed_in.post("/registries/", {"name": "Fabrikam01", "sku": "Standard", "home_region": "eastus"},
                              follow=True)
    assert response.redirect_chain == [("/registries/fabrikam01/", 302)]
    assert "Registry 'fabrikam01' created, home East US." in page_messages(response)
    registry = Registry.objects.get(name="fabrikam01")
    assert registry.sku.name == "Standard" and registry.home_region.name == "eastus"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "abc", "sku": "Premium", "home_region": "westus"},
        {"name": "fabrikam", "sku": "Gold", "home_region": "westus"},
        {"name": "fabrikam", "sku": "Premium", "home_region": "atlantis"},
        {"name": "fabrikam", "sku": "Premium", "home_region": "japaneast"},
        {"name": "CONTOSO", "sku": "Premium", "home_region": "eastus"},
    ],
)
def test_create_registry_form_shows_the_apis_message(signed_in, api_client, contoso, body):
    api = api_client.post("/api/v1/registries/", body, format="json").json()
    response = signed_in.post("/registries/", body)
    assert response.status_code == 400
    assert response.context["form"].errors[api["field"]] == [api["detail"]]
    assert api["detail"].replace("'", "&#x27;") in response.content.decode()
    assert Registry.objects.count() == 1


def test_create_registry_form_requires_every_field(signed_in, deployed_regions):
    response = signed_in.post("/registries/", {"name": "", "sku": "Premium"})
    assert response.status_code == 400
    assert response.context["form"].errors == {"name": ["This field is required."],
                                               "home_region": ["This field is required."]}


def test_overview_shows_replicas_skus_and_cost_before_and_after_a_change(signed_in, contoso_with_replicas):
    response = signed_in.get("/registries/contoso/")
    html = response.content.decode()
    # 3 regions on Premium now; on each SKU the same 3 regions at that SKU's price.
    assert "$150.03" in html
    options = {o.sku.name: o for o in response.context["sku_options"]}
    assert options["Premium"].is_current and options["Premium"].monthly_total == Decimal("150.03")
    assert options["Standard"].monthly_total == Decimal("60.03") and options["Standard"].difference == Decimal("-90.00")
    assert options["Basic"].monthly_total == Decimal("15.03")
    standard = re.search(r'<tr data-sku="Standard">(.*?)</tr>', html, flags=re.S).group(1)
    for fact in ["100 GiB", "10</td>", "3,000 / 500", "$0.667/day", "$20.01/month", "$60.03",
                 'name="sku" value="Standard"', "Downgrade to Standard"]:
        assert fact in standard, fact
    assert "−$90.00" in html


def test_seeded_example_home_plus_three_replicas_costs_four_times_premium(signed_in, contoso_with_replicas):
    services.replica_create(registry=contoso_with_replicas, region="westeurope")
    response = signed_in.get("/registries/contoso/")
    premium_month = Decimal("1.667") * 30
    assert Decimal(response.context["monthly_cost"]) == (4 * premium_month).quantize(Decimal("0.01"))
    assert "$200.04" in response.content.decode()


def test_replicas_table_shows_badges_progress_and_errors(signed_in, contoso_with_replicas):
    html = text(signed_in.get("/registries/contoso/"))
    rows = dict(re.findall(r'<tr data-region="([a-z0-9]+)" data-status="[a-z]+"[^>]*>(.*?)</tr>', html, flags=re.S))
    assert set(rows) == {"westus", "eastus", "canadacentral"}
    assert f"--badge-colour: {REPLICA_STATUS_COLOURS[ReplicaStatus.READY]}" in rows["westus"]
    assert f"--badge-colour: {REPLICA_STATUS_COLOURS[ReplicaStatus.SYNCING]}" in rows["eastus"]
    assert f"--badge-colour: {REPLICA_STATUS_COLOURS[ReplicaStatus.FAILED]}" in rows["canadacentral"]
    assert 'role="progressbar"' in rows["eastus"] and 'aria-valuenow="40"' in rows["eastus"]
    assert '<div class="progress-bar" style="width: 40%"></div>' in rows["eastus"]
    assert "20.0 MB of 50.0 MB · 3 of 12 manifests" in rows["eastus"]
    assert "progressbar" not in rows["westus"] and "progressbar" not in rows["canadacentral"]
    assert "Cannot reach a regional registry (westus → canadacentral): connection refused" in rows["canadacentral"]
    assert "just now</time>" in rows["westus"]  # created time


def test_overview_shows_the_image_matrix_and_webhooks_panels(signed_in, contoso):
    page = signed_in.get("/registries/contoso/").content.decode()
    assert 'id="image-replication"' in page and 'id="webhooks"' in page


# SKU changes


def test_downgrade_with_replicas_is_refused_listing_them(signed_in, api_client, contoso_with_replicas):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Standard"}, follow=True)
    assert response.redirect_chain == [("/registries/contoso/", 302)]
    message = ("Cannot change SKU to Standard: geo-replication needs Premium. "
               "Delete the replicas in canadacentral, eastus first.")
    assert page_messages(response) == [message]
    assert 'role="alert">' + message in response.content.decode()
    assert api_client.patch("/api/v1/registries/contoso/", {"sku": "Standard"}, format="json").json()["detail"] == message
    assert Registry.objects.get(name="contoso").sku.name == "Premium"


def test_sku_change_reports_the_cost_before_and_after(signed_in, contoso):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Basic", "confirm": "yes"}, follow=True)
    assert page_messages(response) == ["SKU changed from Premium to Basic: $50.01 → $5.01 a month for 1 region(s)."]
    assert Registry.objects.get(name="contoso").sku.name == "Basic"
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Premium", "confirm": "yes"}, follow=True)
    assert page_messages(response) == ["SKU changed from Basic to Premium: $5.01 → $50.01 a month for 1 region(s)."]


def test_unknown_sku_gets_the_services_message(signed_in, contoso):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Gold"}, follow=True)
    assert page_messages(response) == ["SKU 'Gold' does not exist; choose one of: Basic, Standard, Premium."]
    response = signed_in.post("/registries/contoso/sku/", {}, follow=True)
    assert page_messages(response) == ["SKU: This field is required."]


def test_posting_to_a_deleted_registry_answers_404_with_the_reason_and_a_way_back(signed_in, contoso):
    # 404 rather than a redirect: a registry the user has no role on must answer exactly the same.
    response = signed_in.post("/registries/gone12/sku/", {"sku": "Basic"})
    assert response.status_code == 404
    assert "Registry &#x27;gone12&#x27; does not exist." in text(response)
    assert 'href="/registries/"' in text(response)


# The map


def test_map_draws_each_region_in_its_states_colour(signed_in, contoso_with_replicas):
    response = signed_in.get("/registries/contoso/replications/")
    drawn = hexagons(response)
    assert len(drawn) == Region.objects.count()
    replica, available, unavailable = (REGION_STATE_COLOURS[s] for s in RegionState)
    assert drawn["westus"] == ("replica", replica)
    assert drawn["eastus"] == ("replica", replica)
    assert drawn["canadacentral"] == ("replica", replica)
    assert drawn["westeurope"] == ("available", available)
    assert drawn["japaneast"] == ("unavailable", unavailable)
    assert {state for state, _ in drawn.values()} == {"replica", "available", "unavailable"}


def test_map_page_loads_nothing_from_outside_the_machine(signed_in, contoso):
    html = signed_in.get("/registries/contoso/replications/").content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/vendor/jquery/jquery.min.js" in html


def popup(html: str, region: str) -> str:
    """One region's popup HTML as the browser will see it (folium holds it in a JS template literal)."""
    start = re.search(rf'<div class="region-popup region-popup-[a-z]+" data-region="{region}"', html).start()
    return html[start:html.index("`", start)].replace("<\\/", "</")


def test_popups_offer_the_actions_each_region_allows(signed_in, contoso_with_replicas):
    html = text(signed_in.get("/registries/contoso/replications/"))
    green = popup(html, "westeurope")
    assert "Adds <strong>$50.01</strong> a month" in green and "$200.04 a month" in green
    assert 'action="/registries/contoso/replications/create/"' in green and "Create replica" in green
    assert 'name="region" value="westeurope"' in green and "csrfmiddlewaretoken" in green

    syncing = popup(html, "eastus")
    assert "status-syncing" in syncing and "20.0 MB of 50.0 MB · 3 of 12 manifests" in syncing
    assert "Last sync: never" in syncing
    assert "/registries/contoso/replications/eastus/delete/" in syncing
    assert "/registries/contoso/replications/eastus/routing/" in syncing and "Routing on" in syncing

    home = popup(html, "westus")
    assert "/replications/westus/routing/" in home and "/replications/westus/delete/" not in home

    gray = popup(html, "japaneast")
    assert "No data plane in this region." in gray and "<form" not in gray


def test_map_page_has_refresh_legend_and_replicas_table(signed_in, contoso_with_replicas):
    html = signed_in.get("/registries/contoso/replications/").content.decode()
    assert re.search(r'<a class="button" id="refresh" href="/registries/contoso/replications/"', html)
    assert "region-map-legend" in html
    for state in RegionState:
        assert f"background:{state.colour}" in html  # legend swatches from choices.py
    assert '<table class="table replicas-table" id="replicas">' in html
    assert html.count('data-region="eastus" data-status="syncing"') == 1


def test_create_replica_from_the_map(signed_in, contoso):
    response = signed_in.post("/registries/contoso/replications/create/",
                              {"region": "eastus", "next": "/registries/contoso/replications/"}, follow=True)
    assert response.redirect_chain == [("/registries/contoso/replications/", 302)]
    assert page_messages(response) == ["Replica in East US created; its initial sync is queued."]
    assert hexagons(response)["eastus"][0] == "replica"
    assert Replica.objects.get(registry=contoso, region__name="eastus").status == ReplicaStatus.CREATING
    assert 'data-region="eastus" data-status="creating"' in response.content.decode()


def test_region_that_became_unavailable_after_the_page_loaded_gets_a_clear_message(signed_in, contoso):
    page = signed_in.get("/registries/contoso/replications/")
    assert hexagons(page)["westeurope"][0] == "available"
    # Its data plane stops answering before the admin clicks Create.
    Region.objects.filter(name="westeurope").update(endpoint=f"http://127.0.0.1:{find_free_port()}")
    response = signed_in.post("/registries/contoso/replications/create/", {"region": "westeurope"}, follow=True)
    assert response.status_code == 200
    assert page_messages(response) == ["Region 'westeurope' is not available: no data plane answers there."]
    assert hexagons(response)["westeurope"][0] == "unavailable"
    assert not Replica.objects.filter(region__name="westeurope").exists()


@pytest.mark.parametrize(
    "region, message",
    [
        ("westus", "'westus' is the registry's home region; it already has the home replica."),
        ("atlantis", "Region 'atlantis' does not exist."),
        ("", "Region: This field is required."),
    ],
)
def test_refused_replica_creation_shows_the_services_message(signed_in, contoso, region, message):
    response = signed_in.post("/registries/contoso/replications/create/", {"region": region}, follow=True)
    assert response.status_code == 200 and page_messages(response) == [message]
    assert Replica.objects.count() == 1


def test_replicas_need_premium_and_the_page_says_so(signed_in, api_client, contoso):
    services.registry_change_sku(registry=contoso, sku="Standard")
    page = signed_in.get("/registries/contoso/replications/").content.decode()
    assert "Replicas need the Premium SKU; contoso is on Standard." in page
    green = popup(page, "eastus")
    assert "Replicas need the Premium SKU; this registry is on Standard." in green
    assert "/registries/contoso/#sku" in green and "Create replica" not in green
    # A form sent from a page loaded before the downgrade is still refused, in the API's words.
    response = signed_in.post("/registries/contoso/replications/create/", {"region": "eastus"}, follow=True)
    api = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json")
    assert api.status_code == 409
    assert page_messages(response) == [api.json()["detail"]] == [
        "Geo-replication needs the Premium SKU; registry 'contoso' is on Standard."]


def test_delete_replica_from_the_map(signed_in, contoso_with_replicas):
    response = signed_in.post("/registries/contoso/replications/eastus/delete/", follow=True)
    assert page_messages(response) == ["Replica in East US is being deleted."]
    assert Replica.objects.get(region__name="eastus").status == ReplicaStatus.DELETING
    response = signed_in.post("/registries/contoso/replications/eastus/delete/", follow=True)
    assert page_messages(response) == ["The replica in 'eastus' is already being deleted."]


def test_home_replica_cannot_be_deleted(signed_in, contoso):
    response = signed_in.post("/registries/contoso/replications/westus/delete/", follow=True)
    assert page_messages(response) == [
        "The home replica in 'westus' cannot be deleted; delete the registry instead."]
    assert Replica.objects.get(region__name="westus").status == ReplicaStatus.READY


def test_deleting_a_replica_that_does_not_exist_gives_a_message(signed_in, contoso):
    response = signed_in.post("/registries/contoso/replications/eastus/delete/", follow=True)
    assert page_messages(response) == ["Registry 'contoso' has no replica in 'eastus'."]


def test_routing_switch_turns_a_region_off_and_on(signed_in, contoso_with_replicas):
    url = "/registries/contoso/replications/eastus/routing/"
    response = signed_in.post(url, {"enabled": "false"}, follow=True)
    assert page_messages(response) == ["Routing to East US is off."]
    assert not Replica.objects.get(region__name="eastus").region_endpoint_enabled
    assert 'role="switch" aria-checked="false"' in popup(response.content.decode(), "eastus")
    response = signed_in.post(url, {"enabled": "true"}, follow=True)
    assert page_messages(response) == ["Routing to East US is on."]
    assert Replica.objects.get(region__name="eastus").region_endpoint_enabled
    response = signed_in.post(url, {"enabled": "maybe"}, follow=True)
    assert page_messages(response) == [
        "Routing: Choose 'true' (on) or 'false' (off)."]


def test_actions_return_to_the_page_they_came_from_but_never_off_site(signed_in, contoso_with_replicas):
    url = "/registries/contoso/replications/eastus/routing/"
    response = signed_in.post(url, {"enabled": "false", "next": "/registries/contoso/"})
    assert response["Location"] == "/registries/contoso/"
    response = signed_in.post(url, {"enabled": "true", "next": "https://evil.example/"})
    assert response["Location"] == "/registries/contoso/replications/"


def test_sync_again_queues_a_full_sync_of_a_failed_replica(signed_in, contoso_with_replicas):
    page = signed_in.get("/registries/contoso/replications/").content.decode()
    assert "/registries/contoso/replications/canadacentral/sync/" in page, "failed replicas offer Sync again"
    assert "/registries/contoso/replications/eastus/sync/" not in page, "not while a sync is running"
    response = signed_in.post("/registries/contoso/replications/canadacentral/sync/", follow=True)
    assert page_messages(response) == ["A full sync of Canada Central is queued."]
    assert Replica.objects.get(region__name="canadacentral").status == ReplicaStatus.SYNCING
    response = signed_in.post("/registries/contoso/replications/canadacentral/sync/", follow=True)
    assert page_messages(response) == ["A sync of the replica in 'canadacentral' is already queued or running."]


def test_create_registry_form_keeps_what_was_typed_when_refused(signed_in, contoso):
    response = signed_in.post("/registries/", {"name": "CONTOSO", "sku": "Standard", "home_region": "eastus"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="CONTOSO"' in html
    assert re.search(r'<option value="Standard"[^>]*selected', html)
    assert re.search(r'<option value="eastus"[^>]*selected', html)
