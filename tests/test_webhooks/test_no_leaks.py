"""Webhook changes cannot leak credentials, headers are sendable HTTP field values, and the delivery log keeps
only a short, sanitized excerpt of each answer. Real deliveries to a real local receiver."""
import pytest

from replication.choices import WebhookDeliveryState
from replication.models import Webhook, WebhookDelivery
from replication.services import webhooks

from .conftest import SECRET, expected_signature

URL = "/api/v1/registries/contoso/webhooks/"
NEW_SECRET = "a-new-secret-for-the-new-uri"


@pytest.fixture
def hook(api_client, contoso, receiver):
    response = api_client.post(URL, {"name": "hookone", "region": "westus", "service_uri": receiver.url + "/old",
                                     "actions": ["push"], "secret": SECRET,
                                     "custom_headers": {"Authorization": "Bearer old-receiver-credential",
                                                        "X-Team": "blue"}}, format="json")
    assert response.status_code == 201, response.content
    return Webhook.objects.get()


def ping(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(URL + "hookone/ping/")
    assert response.status_code == 202, response.content
    webhooks.webhook_delivery_attempt(delivery_id=response.json()["id"])
    return WebhookDelivery.objects.get(pk=response.json()["id"])


def test_a_new_service_uri_drops_the_custom_headers_and_signs_with_the_new_secret(
        api_client, hook, receiver, django_capture_on_commit_callbacks):
    response = api_client.patch(URL + "hookone/", {"service_uri": receiver.url + "/new", "secret": NEW_SECRET},
                                format="json")
    assert response.status_code == 200, response.content
    assert response.json()["custom_header_names"] == []
    assert ping(api_client, django_capture_on_commit_callbacks).state == WebhookDeliveryState.SUCCEEDED
    [request] = receiver.received("/new")
    assert "Authorization" not in request.headers and "X-Team" not in request.headers
    assert "old-receiver-credential" not in str(request.headers)
    assert request.headers["X-Signature-SHA256"] == expected_signature(NEW_SECRET, request.body)


def test_headers_given_again_with_the_new_service_uri_are_kept(api_client, hook, receiver,
                                                               django_capture_on_commit_callbacks):
    response = api_client.patch(URL + "hookone/", {"service_uri": receiver.url + "/new", "secret": NEW_SECRET,
                                                   "custom_headers": {"Authorization": "Bearer for-the-new-one"}},
                                format="json")
    assert response.status_code == 200, response.content
    ping(api_client, django_capture_on_commit_callbacks)
    [request] = receiver.received("/new")
    assert request.headers["Authorization"] == "Bearer for-the-new-one" and "X-Team" not in request.headers


def test_a_new_service_uri_without_the_secret_is_400_and_changes_nothing(api_client, hook, receiver):
    response = api_client.patch(URL + "hookone/", {"service_uri": receiver.url + "/new",
                                                   "custom_headers": {"X-Team": "red"}}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "secret"
    hook.refresh_from_db()
    assert hook.service_uri == receiver.url + "/old" and hook.secret == SECRET
    assert hook.custom_headers == {"Authorization": "Bearer old-receiver-credential", "X-Team": "blue"}


def test_other_changes_and_the_same_service_uri_keep_the_headers(api_client, hook, receiver):
    response = api_client.patch(URL + "hookone/", {"service_uri": receiver.url + "/old", "enabled": False},
                                format="json")
    assert response.status_code == 200, response.content
    hook.refresh_from_db()
    assert hook.secret == SECRET and sorted(hook.custom_headers) == ["Authorization", "X-Team"]


@pytest.mark.parametrize("headers", [{"X-Team": "bl\u00fce"}, {"X-Team": "emoji \U0001F600"},
                                     {"X-Team": "nul\x00byte"}, {"X-T\u00e9am": "blue"}])
def test_a_header_that_is_not_an_http_field_value_is_400_and_never_reaches_the_worker(
        api_client, hook, headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api_client.patch(URL + "hookone/", {"custom_headers": headers}, format="json")
        created = api_client.post(URL, {"name": "hooktwo", "region": "westus", "service_uri": hook.service_uri,
                                        "actions": ["push"], "secret": SECRET, "custom_headers": headers},
                                  format="json")
    assert response.status_code == 400 and created.status_code == 400
    assert "custom_headers" in str(response.json()) and "custom_headers" in str(created.json())
    assert queued == [] and not WebhookDelivery.objects.exists()
    hook.refresh_from_db()
    assert hook.custom_headers["X-Team"] == "blue" and Webhook.objects.count() == 1


def test_header_values_are_trimmed(api_client, hook):
    api_client.patch(URL + "hookone/", {"custom_headers": {"X-Team": "  blue\t"}}, format="json")
    hook.refresh_from_db()
    assert hook.custom_headers == {"X-Team": "blue"}


def test_a_stored_unsendable_header_fails_the_delivery_instead_of_crashing(api_client, hook, receiver,
                                                                           django_capture_on_commit_callbacks):
    # A row written before header values were checked.
    Webhook.objects.filter(pk=hook.pk).update(custom_headers={"X-Team": "bl\u00fce"})
    delivery = ping(api_client, django_capture_on_commit_callbacks)
    assert delivery.state == WebhookDeliveryState.FAILED and "cannot be sent" in delivery.error
    assert receiver.received() == []


def test_the_delivery_log_keeps_a_short_excerpt_without_control_characters(api_client, hook, receiver,
                                                                           django_capture_on_commit_callbacks):
    answer = "line one\r\nline\ttwo \x1b[31mred\x07 \u202eevil\x00" + "x" * 5000
    receiver.answer("/old", (200, {}, answer.encode()))
    delivery = ping(api_client, django_capture_on_commit_callbacks)
    assert delivery.state == WebhookDeliveryState.SUCCEEDED and delivery.response_status == 200
    assert delivery.response_body.startswith("line one  line two [31mred evil")
    assert len(delivery.response_body) <= 200
    assert not any(ord(c) < 32 or c in "\x7f\u202e" for c in delivery.response_body)
    body = api_client.get(URL + "hookone/deliveries/").json()[0]["response_body"]
    assert body == delivery.response_body
