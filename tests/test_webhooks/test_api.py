"""The webhooks API: every rule as a clear 400/404/409, write-only secrets, ping and the delivery log."""
import pytest
from rest_framework.test import APIClient

from replication import services
from replication.models import Webhook, WebhookDelivery

from .conftest import SECRET, expected_signature, webhook_args

URL = "/api/v1/registries/contoso/webhooks/"
SERVICE_URI = "https://hooks.example.com/private-path/acr?token=abc"


def create(api_client, **overrides):
    body = webhook_args(**{"service_uri": SERVICE_URI, **overrides})
    return api_client.post(URL, body, format="json")


@pytest.fixture
def hook(api_client, contoso):
    response = create(api_client, custom_headers={"Authorization": "Bearer header-credential"}, scope="web")
    assert response.status_code == 201, response.content
    return response


def test_create_answers_201_without_write_only_fields(hook):
    body = hook.json()
    assert hook["Location"] == body["url"]
    assert body["name"] == "hookone" and body["registry"] == "contoso" and body["region"] == "westus"
    assert body["actions"] == ["push"] and body["scope"] == "web:*" and body["enabled"] is True
    assert body["service_uri_host"] == "https://hooks.example.com"
    assert body["custom_header_names"] == ["Authorization"]
    assert body["ping_url"].endswith("/webhooks/hookone/ping/")
    assert body["deliveries_url"].endswith("/webhooks/hookone/deliveries/")
    for hidden in ["secret", "service_uri", "custom_headers"]:
        assert hidden not in body
    for value in [SECRET, "private-path", "token=abc", "header-credential"]:
        assert value not in hook.content.decode()


def test_write_only_fields_stay_hidden_in_list_get_and_patch(api_client, hook):
    responses = [
        api_client.get(URL),
        api_client.get(URL + "hookone/"),
        api_client.patch(URL + "HOOKONE/", {"secret": "rotated-secret-0123456789", "enabled": False}, format="json"),
    ]
    for response in responses:
        assert response.status_code == 200, response.content
        for value in [SECRET, "rotated-secret", "private-path", "header-credential"]:
            assert value not in response.content.decode()
    assert responses[0].json()[0]["name"] == "hookone"
    assert responses[2].json()["enabled"] is False
    assert Webhook.objects.get().secret == "rotated-secret-0123456789"


def test_patch_changes_given_fields_only(api_client, hook):
    response = api_client.patch(URL + "hookone/", {"region": "eastus", "actions": ["delete", "push"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["region"] == "eastus" and body["actions"] == ["push", "delete"] and body["scope"] == "web:*"
    webhook = Webhook.objects.get()
    assert webhook.service_uri == SERVICE_URI and webhook.secret == SECRET


@pytest.mark.parametrize("body, field", [
    ({"name": "hooktwo"}, "name"),
    ({"actions": []}, "actions"),
    ({"service_uri": "gopher://x"}, "service_uri"),
    ({"scope": "UPPER"}, "scope"),
    ({"region": "atlantis"}, "region"),
])
def test_bad_patches_are_400_and_change_nothing(api_client, hook, body, field):
    response = api_client.patch(URL + "hookone/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json() or response.json().get("field") == field
    webhook = Webhook.objects.get()
    assert webhook.name == "hookone" and webhook.actions == ["push"] and webhook.region.name == "westus"


def test_empty_patch_is_400(api_client, hook):
    assert api_client.patch(URL + "hookone/", {}, format="json").status_code == 400


@pytest.mark.parametrize("overrides, field", [
    ({"name": "abc"}, "name"),
    ({"service_uri": "not a url"}, "service_uri"),
    ({"actions": ["pull"]}, "actions"),
    ({"actions": []}, "actions"),
    ({"scope": "web:not valid"}, "scope"),
    ({"custom_headers": {"Host": "evil"}}, "custom_headers"),
    ({"secret": "short"}, "secret"),
    ({"region": "atlantis"}, "region"),
])
def test_bad_bodies_are_400_with_the_field(api_client, contoso, overrides, field):
    response = create(api_client, **overrides)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and response.json()["detail"]
    assert not Webhook.objects.exists()


def test_malformed_bodies_are_400(api_client, contoso):
    assert api_client.post(URL, {"name": "hookone"}, format="json").status_code == 400
    assert api_client.post(URL, "not json", content_type="application/json").status_code == 400
    assert create(api_client, actions="push").status_code == 400
    assert create(api_client, custom_headers="X-A: b").status_code == 400
    assert not Webhook.objects.exists()


def test_conflicts_are_409(api_client, hook):
    duplicate = create(api_client, name="HookOne")
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "name"
    no_replica = create(api_client, name="hookcanada", region="canadacentral")
    assert no_replica.status_code == 409 and "no replica in 'canadacentral'" in no_replica.json()["detail"]
    assert Webhook.objects.count() == 1


def test_sku_limit_is_409_naming_the_sku_and_limit(api_client, deployed_regions):
    services.registry_create(name="contoso", sku="Basic", home_region="westus")
    assert create(api_client, name="hookone").status_code == 201
    assert create(api_client, name="hooktwo").status_code == 201
    response = create(api_client, name="hookthree")
    assert response.status_code == 409
    assert "Basic SKU, which allows 2 webhooks" in response.json()["detail"]
    assert Webhook.objects.count() == 2


def test_unknown_names_are_404(api_client, hook):
    assert api_client.get("/api/v1/registries/nothere/webhooks/").status_code == 404
    assert api_client.post("/api/v1/registries/nothere/webhooks/", webhook_args(), format="json").status_code == 404
    for suffix in ["", "ping/", "deliveries/"]:
        method = api_client.post if suffix == "ping/" else api_client.get
        assert method(URL + "nothere/" + suffix).status_code == 404
    assert api_client.patch(URL + "nothere/", {"enabled": False}, format="json").status_code == 404
    assert api_client.delete(URL + "nothere/").status_code == 404


def test_delete_removes_webhook_and_its_deliveries(api_client, hook):
    assert api_client.post(URL + "hookone/ping/").status_code == 202
    assert api_client.delete(URL + "hookone/").status_code == 204
    assert api_client.get(URL + "hookone/").status_code == 404
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


def test_ping_answers_202_with_the_queued_signed_delivery(api_client, hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post(URL + "hookone/ping/")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1, "the delivery task is sent on commit"
    body = response.json()
    assert body["action"] == "ping" and body["state"] == "pending" and body["attempts"] == 0
    assert body["request_body"]["id"] == body["event_id"] and body["request_body"]["region"] == "westus"
    delivery = WebhookDelivery.objects.get()
    from replication.services.webhooks import webhook_raw_body
    assert body["request_headers"]["X-Signature-SHA256"] == expected_signature(
        SECRET, webhook_raw_body(delivery.request_body))
    assert body["request_headers"]["Authorization"] == "<redacted>"
    assert SECRET not in response.content.decode() and "header-credential" not in response.content.decode()


def test_deliveries_are_listed_newest_first_with_a_limit(api_client, hook):
    ids = [api_client.post(URL + "hookone/ping/").json()["id"] for _ in range(3)]
    listed = api_client.get(URL + "hookone/deliveries/").json()
    assert [d["id"] for d in listed] == ids[::-1]
    assert [d["id"] for d in api_client.get(URL + "hookone/deliveries/?limit=2").json()] == ids[:0:-1]
    assert api_client.get(URL + "hookone/deliveries/?limit=0").status_code == 400
    assert api_client.get(URL + "hookone/deliveries/?limit=many").status_code == 400


def test_anonymous_requests_are_refused(hook):
    client = APIClient()
    for url in [URL, URL + "hookone/", URL + "hookone/deliveries/"]:
        assert client.get(url).status_code in (401, 403)
    assert client.post(URL + "hookone/ping/").status_code in (401, 403)


def test_registry_page_shows_webhooks_with_deliveries_and_ping(api_client, hook, client, admin_user):
    api_client.post(URL + "hookone/ping/")
    client.force_login(admin_user)
    response = client.get("/registries/contoso/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="webhooks"' in page and 'data-webhook="hookone"' in page
    assert 'action="/registries/contoso/webhooks/hookone/ping/"' in page and "https://hooks.example.com" in page
    assert 'data-state="pending"' in page
    assert SECRET not in page and "private-path" not in page and "header-credential" not in page


def test_ping_from_the_page_form_works_with_the_session_and_csrf(hook, admin_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get("/registries/contoso/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = browser.post(URL + "hookone/ping/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 202
    assert browser.post(URL + "hookone/ping/").status_code == 403, "no CSRF token, no ping"
