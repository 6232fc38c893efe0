"""Anonymous pull (API and the registry page), and pages that offer only what the user may do."""
import pytest
from django.test import Client

from replication import services
from replication.models import Registry

from .conftest import api_client_for

REGISTRY = "/api/v1/registries/contoso/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def anonymous_pull() -> bool:
    return Registry.objects.get(name="contoso").anonymous_pull


def test_owner_switches_anonymous_pull_on_and_off(contoso, owner):
    client = api_client_for(owner)
    response = client.patch(REGISTRY, {"anonymous_pull": True}, format="json")
    assert response.status_code == 200 and response.json()["anonymous_pull"] is True and anonymous_pull()
    assert client.get(REGISTRY).json()["anonymous_pull"] is True
    assert client.patch(REGISTRY, {"anonymous_pull": False}, format="json").json()["anonymous_pull"] is False
    assert not anonymous_pull()


def test_anonymous_pull_is_refused_on_basic_naming_the_sku(deployed_regions, owner):
    services.registry_create(name="contoso", sku="Basic", home_region="westus", owner=owner)
    response = api_client_for(owner).patch(REGISTRY, {"anonymous_pull": True}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Anonymous pull is not available on the Basic SKU; change the registry to "
                                         "Standard or Premium first.", "code": "conflict", "field": "anonymous_pull"}
    assert not anonymous_pull()


def test_moving_to_basic_is_refused_while_anonymous_pull_is_on(deployed_regions, owner):
    registry = services.registry_create(name="contoso", sku="Standard", home_region="westus", owner=owner)
    services.registry_set_anonymous_pull(registry=registry, enabled=True)
    client = api_client_for(owner)
    response = client.patch(REGISTRY, {"sku": "Basic"}, format="json")
    assert response.status_code == 409 and "anonymous pull is on" in response.json()["detail"]
    assert Registry.objects.get(name="contoso").sku.name == "Standard"
    # Both in one request: anonymous pull goes off first, then the SKU changes.
    response = client.patch(REGISTRY, {"sku": "Basic", "anonymous_pull": False}, format="json")
    assert response.status_code == 200 and response.json()["sku"] == "Basic" and not anonymous_pull()


def test_a_refused_patch_changes_nothing_of_it(deployed_regions, owner):
    services.registry_create(name="contoso", sku="Standard", home_region="westus", owner=owner)
    response = api_client_for(owner).patch(REGISTRY, {"sku": "Basic", "anonymous_pull": True}, format="json")
    assert response.status_code == 409
    registry = Registry.objects.get(name="contoso")
    assert registry.sku.name == "Standard" and not registry.anonymous_pull


def test_an_empty_patch_is_refused(contoso, owner):
    assert api_client_for(owner).patch(REGISTRY, {}, format="json").status_code == 400


def test_owner_switches_anonymous_pull_on_the_registry_page(contoso, owner):
    client = signed_in(owner)
    page = client.get("/registries/contoso/").content.decode()
    assert 'action="/registries/contoso/anonymous-pull/"' in page
    response = client.post("/registries/contoso/anonymous-pull/", {"enabled": "true"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Anonymous pull is on: anyone can pull from contoso without credentials."]
    assert anonymous_pull()
    assert "Anonymous pull on" in response.content.decode()


def test_the_page_shows_basic_refusal_as_a_message(deployed_regions, owner):
    services.registry_create(name="contoso", sku="Basic", home_region="westus", owner=owner)
    response = signed_in(owner).post("/registries/contoso/anonymous-pull/", {"enabled": "true"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Anonymous pull is not available on the Basic SKU; change the registry to Standard or Premium first."]
    assert not anonymous_pull()


# What each role is offered


@pytest.mark.parametrize("user_fixture, can_manage, can_administer", [
    ("owner", True, True), ("contributor", True, False), ("puller", False, False),
])
def test_pages_show_only_the_buttons_the_role_may_use(request, contoso, user_fixture, can_manage, can_administer):
    client = signed_in(request.getfixturevalue(user_fixture))
    detail = client.get("/registries/contoso/").content.decode()
    assert ('name="sku" value="Standard"' in detail) is can_manage
    assert ('action="/registries/contoso/webhooks/hookone/ping/"' in detail) is can_manage
    assert ('action="/registries/contoso/anonymous-pull/"' in detail) is can_administer
    assert 'id="anonymous-pull"' in detail  # the state itself is shown to every reader

    replications = client.get("/registries/contoso/replications/").content.decode()
    for action in ["/replications/eastus/delete/", "/replications/eastus/routing/", "/replications/create/"]:
        assert (action in replications) is can_manage, action
