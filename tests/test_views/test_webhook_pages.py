"""The webhooks pages: list, create, edit, enable/disable, ping, delete with confirmation, the delivery log and
"Redeliver"; each refusal shows the API's words and keeps what was typed (never the secret)."""
import re

import pytest
from django.test import Client

from replication.choices import ActivityAction, WebhookDeliveryState
from replication.models import ActivityRecord, Webhook, WebhookDelivery
from replication.services.webhooks import webhook_create, webhook_ping

SECRET = "s3cret-for-signing-0123456789"
LIST = "/registries/contoso/webhooks/"
HOOK = LIST + "hookone/"


def text(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def contoso(registry_with_replicas, admin_user):
    """Premium contoso, home westus, a ready replica in eastus, owned by the signed-in admin."""
    return registry_with_replicas(name="contoso", replicas=("eastus",), owner=admin_user)


@pytest.fixture
def hook(contoso):
    return webhook_create(registry=contoso, name="hookone", region="westus",
                          service_uri="https://hooks.example.com/private-path?token=abc", actions=["push"],
                          secret=SECRET, custom_headers={"Authorization": "Bearer header-credential"})


def create_body(**overrides):
    body = {"name": "hooktwo", "region": "eastus", "service_uri": "https://receiver.example.com/in",
            "secret": "another-secret-0123456789", "actions": ["push", "delete"], "scope": "web:*",
            "custom_headers": "X-Team: blue\nAuthorization: Bearer abc", "enabled": "on"}
    body.update(overrides)
    return body


def test_list_page_offers_regions_with_a_replica_and_lists_webhooks(signed_in, hook):
    response = signed_in.get(LIST)
    assert response.status_code == 200
    html = text(response)
    assert 'data-webhook="hookone"' in html and "https://hooks.example.com" in html
    region_select = re.search(r'<select name="region".*?</select>', html, flags=re.S).group(0)
    assert set(re.findall(r'<option value="([a-z]+)"', region_select)) == {"westus", "eastus"}
    for hidden in [SECRET, "private-path", "token=abc", "header-credential"]:
        assert hidden not in html


def test_create_form_creates_the_webhook_and_opens_its_page(signed_in, contoso):
    response = signed_in.post(LIST, create_body(), follow=True)
    assert response.redirect_chain == [(HOOK.replace("hookone", "hooktwo"), 302)]
    webhook = Webhook.objects.get(name="hooktwo")
    assert webhook.region.name == "eastus" and webhook.actions == ["push", "delete"] and webhook.scope == "web:*"
    assert webhook.custom_headers == {"X-Team": "blue", "Authorization": "Bearer abc"} and webhook.enabled
    assert webhook.secret == "another-secret-0123456789"
    assert page_messages(response) == ["Webhook 'hooktwo' created: push, delete events in East US go to "
                                       "https://receiver.example.com."]


@pytest.mark.parametrize("overrides, field", [
    ({"name": "abc"}, "name"),
    ({"service_uri": "ftp://example.com/x"}, "service_uri"),
    ({"actions": []}, "actions"),
    ({"actions": ["pull"]}, "actions"),
    ({"scope": "Web:1.0"}, "scope"),
    ({"secret": "short"}, "secret"),
    ({"region": "northeurope"}, "region"),
    ({"region": "atlantis"}, "region"),
    ({"custom_headers": "Host: elsewhere"}, "custom_headers"),
])
def test_create_form_shows_the_apis_message_and_keeps_what_was_typed(signed_in, api_client, contoso, overrides, field):
    body = create_body(**overrides)
    api_body = {**body, "custom_headers": {"Host": "elsewhere"} if field == "custom_headers" else {},
                "enabled": True}
    api = api_client.post("/api/v1/registries/contoso/webhooks/", api_body, format="json").json()
    assert api["field"] == field
    response = signed_in.post(LIST, body)
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [api["detail"]]
    html = text(response)
    assert api["detail"] in html
    # What was typed stays, except the secret (write-only: typed again).
    assert 'value="hooktwo"' in html or field == "name"
    assert f'value="{body["service_uri"]}"' in html and 'value="web:*"' in html or field == "scope"
    assert "X-Team: blue" in html or field == "custom_headers"
    assert body["secret"] not in html
    assert not Webhook.objects.exists()


def test_unreadable_custom_headers_are_a_form_error(signed_in, contoso):
    response = signed_in.post(LIST, create_body(custom_headers="no colon here"))
    assert response.status_code == 400
    assert response.context["form"].errors["custom_headers"] == [
        "Custom headers: write one header a line as 'Name: value' ('no colon here' is not)."]
    assert "no colon here" in text(response) and not Webhook.objects.exists()


def test_detail_page_shows_settings_and_the_delivery_log_without_secrets(signed_in, hook):
    delivery = webhook_ping(webhook=hook)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDeliveryState.FAILED, response_status=503, response_body="busy, try later", attempts=2,
        error="The receiver answered 503. Gave up after 2 attempts.",
        attempt_log=[{"attempt": 1, "at": "2026-12-03T07:00:00+00:00", "status": 503, "duration_ms": 12, "error": "x"},
                     {"attempt": 2, "at": "2026-12-03T07:00:02+00:00", "status": 503, "duration_ms": 9, "error": "y"}])
    html = text(signed_in.get(HOOK))
    entry = re.search(rf'<li class="delivery" data-delivery="{delivery.pk}" data-state="failed">(.*?)</li>\s*(<li class="delivery"|</ol>\s*{{% else|</ol>)',
                      html + "</ol>", flags=re.S).group(1)
    for shown in ["HTTP 503", "busy, try later", "Gave up after 2 attempts", '"action": "ping"', "X-Signature-SHA256",
                  "sha256=", "2026-12-03 07:00:02", "Redeliver", "Authorization", "&lt;redacted&gt;"]:
        assert shown in entry.replace("<redacted>", "&lt;redacted&gt;"), shown
    for hidden in [SECRET, "private-path", "token=abc", "header-credential"]:
        assert hidden not in html


def test_edit_form_changes_fields_and_blank_write_only_fields_keep_their_value(signed_in, hook):
    response = signed_in.post(HOOK, {"region": "eastus", "actions": ["push", "replicated"], "scope": "web",
                                     "service_uri": "", "secret": "", "custom_headers": "", "enabled": "on"},
                              follow=True)
    assert page_messages(response) == ["Webhook 'hookone' saved."]
    hook.refresh_from_db()
    assert hook.region.name == "eastus" and hook.actions == ["push", "replicated"] and hook.scope == "web:*"
    assert hook.secret == SECRET and hook.service_uri.endswith("token=abc")
    assert hook.custom_headers == {"Authorization": "Bearer header-credential"}


def test_edit_form_refuses_a_new_uri_without_the_secret_with_the_apis_words(signed_in, api_client, hook):
    api = api_client.patch("/api/v1/registries/contoso/webhooks/hookone/",
                           {"service_uri": "https://other.example.com/x"}, format="json").json()
    body = {"region": "westus", "actions": ["push"], "scope": "", "service_uri": "https://other.example.com/x",
            "secret": "", "custom_headers": "", "enabled": "on"}
    response = signed_in.post(HOOK, body)
    assert response.status_code == 400
    assert response.context["form"].errors["secret"] == [api["detail"]]
    assert 'value="https://other.example.com/x"' in text(response)
    hook.refresh_from_db()
    assert hook.service_uri.startswith("https://hooks.example.com")


def test_new_uri_with_secret_and_clearing_headers(signed_in, hook):
    signed_in.post(HOOK, {"region": "westus", "actions": ["push"], "scope": "", "enabled": "on",
                          "service_uri": "https://other.example.com/x", "secret": "a-new-secret-0123456789",
                          "custom_headers": ""})
    hook.refresh_from_db()
    assert hook.service_uri == "https://other.example.com/x" and hook.custom_headers == {}
    hook.custom_headers = {"X-A": "b"}
    hook.save()
    signed_in.post(HOOK, {"region": "westus", "actions": ["push"], "scope": "", "enabled": "on",
                          "service_uri": "", "secret": "", "custom_headers": "", "clear_custom_headers": "on"})
    hook.refresh_from_db()
    assert hook.custom_headers == {}


def test_disable_and_enable(signed_in, hook):
    response = signed_in.post(HOOK + "enabled/", {"enabled": "false"}, follow=True)
    assert response.redirect_chain == [(HOOK, 302)]
    assert page_messages(response) == ["Webhook 'hookone' is disabled: no events are sent until it is enabled "
                                       "(a ping still is)."]
    assert not Webhook.objects.get().enabled
    assert ">Enable</button>" in text(response)
    assert signed_in.post(HOOK + "enabled/", {"enabled": "true"}, follow=True).status_code == 200
    assert Webhook.objects.get().enabled
    response = signed_in.post(HOOK + "enabled/", {"enabled": "maybe"}, follow=True)
    assert page_messages(response) == ["Enabled: Choose 'true' (on) or 'false' (off)."]


def test_ping_queues_a_delivery_on_the_webhooks_region_queue(signed_in, hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in.post(HOOK + "ping/", follow=True)
    delivery = WebhookDelivery.objects.get()
    assert delivery.action == "ping" and delivery.state == WebhookDeliveryState.PENDING
    assert len(callbacks) == 1
    assert page_messages(response) == [f"Ping {delivery.pk} to 'hookone' queued; its result shows in the delivery log."]
    assert f'data-delivery="{delivery.pk}" data-state="pending"' in text(response)


def test_delete_asks_first_then_deletes_with_the_log(signed_in, hook):
    webhook_ping(webhook=hook)
    confirm = text(signed_in.get(HOOK + "delete/"))
    assert "Delete webhook hookone?" in confirm and "1 delivery" in confirm and "https://hooks.example.com" in confirm
    assert Webhook.objects.exists()
    response = signed_in.post(HOOK + "delete/", follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert page_messages(response) == ["Webhook 'hookone' deleted with its delivery log."]
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()
    assert ActivityRecord.objects.filter(action=ActivityAction.WEBHOOK_DELETE, target="hookone").exists()


def test_redeliver_sends_the_same_body_again_as_a_new_delivery(signed_in, hook, django_capture_on_commit_callbacks):
    original = webhook_ping(webhook=hook)
    WebhookDelivery.objects.filter(pk=original.pk).update(state=WebhookDeliveryState.FAILED, attempts=5)
    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in.post(HOOK + f"deliveries/{original.pk}/redeliver/", follow=True)
    again = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert page_messages(response) == [f"Delivery {original.pk} is being sent again as delivery {again.pk}."]
    assert again.request_body == original.request_body and again.event_id == original.event_id
    assert again.redelivery_of_id == original.pk and again.state == WebhookDeliveryState.PENDING
    assert len(callbacks) == 1
    assert f"redelivery of #{original.pk}" in text(response)
    record = ActivityRecord.objects.get(action=ActivityAction.WEBHOOK_REDELIVER)
    assert record.detail == {"delivery": again.pk, "redelivery_of": original.pk}


def test_redeliver_of_a_pending_or_unknown_delivery_is_refused_with_a_message(signed_in, hook):
    pending = webhook_ping(webhook=hook)
    response = signed_in.post(HOOK + f"deliveries/{pending.pk}/redeliver/", follow=True)
    assert page_messages(response) == [f"Delivery {pending.pk} is still being attempted; redeliver it once it has "
                                       "succeeded or failed."]
    response = signed_in.post(HOOK + "deliveries/999999/redeliver/", follow=True)
    assert page_messages(response) == ["Webhook 'hookone' has no delivery 999999."]
    assert WebhookDelivery.objects.count() == 1


def test_unknown_webhook_pages_are_404(signed_in, contoso):
    assert signed_in.get(LIST + "nothere/").status_code == 404
    assert "Registry 'contoso' has no webhook named 'nothere'." in text(signed_in.get(LIST + "nothere/"))
    assert signed_in.get(LIST + "nothere/delete/").status_code == 404


def test_a_reader_sees_the_log_without_forms_and_every_change_is_403(hook, django_user_model):
    from replication.services import access

    reader = django_user_model.objects.create_user("paula")
    access.role_assignment_create(registry=hook.registry, username="paula", role="pull")
    client = Client()
    client.force_login(reader)
    for url in [LIST, HOOK]:
        html = text(client.get(url))
        assert "<form" not in html.split("</header>", 1)[1], url
    assert client.get(HOOK + "delete/").status_code == 403
    for url, body in [(LIST, create_body()), (HOOK, {"region": "westus"}), (HOOK + "ping/", {}),
                      (HOOK + "enabled/", {"enabled": "false"}), (HOOK + "delete/", {})]:
        assert client.post(url, body).status_code == 403, url
    assert Webhook.objects.get().enabled and not WebhookDelivery.objects.exists()
