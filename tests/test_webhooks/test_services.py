"""Webhook rules, event matching and delivery attempts through the service, against a real local receiver."""
import json

import pytest

from replication import services
from replication.choices import ReplicaStatus, WebhookDeliveryState
from replication.exceptions import Conflict, InvalidInput, NotFound
from replication.jobs.runner import deliveries_recover
from replication.models import Region, Replica, Sku, Webhook, WebhookDelivery
from replication.services import webhooks
from replication.services.webhooks import webhook_create, webhook_notify

from .conftest import SECRET, expected_signature, webhook_args

PUSH = {"repository": "contoso/public/web", "tag": "1.2", "digest": "sha256:" + "ab" * 32,
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1234}


def test_create_normalises_actions_and_scope(contoso):
    webhook = webhook_create(registry=contoso, **webhook_args(actions=["replicated", "push", "push"], scope="web"))
    assert webhook.actions == ["push", "replicated"]
    assert webhook.scope == "web:*"
    assert webhook.enabled and webhook.custom_headers == {}


@pytest.mark.parametrize("field, value, message", [
    ("name", "abc", "5 to 50"),
    ("name", "has-dash", "5 to 50"),
    ("name", "a" * 51, "5 to 50"),
    ("service_uri", "ftp://example.com/x", "http"),
    ("service_uri", "not a url", "http"),
    ("service_uri", "", "http"),
    ("actions", [], "at least one"),
    ("actions", ["pull"], "Unknown action"),
    ("actions", ["ping"], "Unknown action"),
    ("actions", "push", "list"),
    ("scope", "Web:1.0", "not a valid repository"),
    ("scope", "web:bad tag", "not a valid tag"),
    ("scope", "web:", "not a valid tag"),
    ("custom_headers", {"Content-Type": "text/plain"}, "cannot be customised"),
    ("custom_headers", {"X-Signature-SHA256": "forged"}, "cannot be customised"),
    ("custom_headers", {"bad name": "x"}, "not a valid HTTP header name"),
    ("custom_headers", {"X-Token": "a\r\nInjected: 1"}, "printable ASCII"),
    ("custom_headers", {"X-Token": "caf\u00e9"}, "printable ASCII"),
    ("custom_headers", {"X-Token": "Bearer \u202eabc"}, "printable ASCII"),
    ("custom_headers", {"X-Token": "a\x7fb"}, "printable ASCII"),
    ("custom_headers", {" ": "x"}, "not a valid HTTP header name"),
    ("custom_headers", {"X-Token": 1}, "string value"),
    ("custom_headers", ["X-Token"], "object"),
    ("secret", "short", "16 to 200"),
    ("secret", None, "16 to 200"),
    ("secret", "s\u00e9cret-with-accent-0123", "printable ASCII"),
    ("secret", " leading-space-secret-0123", "printable ASCII"),
    ("secret", "tab\tinside-the-secret-0123", "printable ASCII"),
    ("enabled", "yes", "true or false"),
    ("region", "atlantis", "does not exist"),
])
def test_bad_input_is_refused_with_the_field(contoso, field, value, message):
    with pytest.raises(InvalidInput, match=message) as error:
        webhook_create(registry=contoso, **webhook_args(**{field: value}))
    assert error.value.field == field
    assert not Webhook.objects.exists()


def test_region_must_hold_a_replica(contoso):
    with pytest.raises(Conflict, match="no replica in 'canadacentral'") as error:
        webhook_create(registry=contoso, **webhook_args(region="canadacentral"))
    assert error.value.field == "region"
    Replica.objects.filter(region__name="eastus").update(status=ReplicaStatus.DELETING)
    with pytest.raises(Conflict, match="no replica in 'eastus'"):
        webhook_create(registry=contoso, **webhook_args(region="eastus"))
    assert not Webhook.objects.exists()


def test_names_are_unique_per_registry_case_insensitively(contoso, deployed_regions):
    webhook_create(registry=contoso, **webhook_args())
    with pytest.raises(Conflict, match="already has a webhook named 'HOOKONE'"):
        webhook_create(registry=contoso, **webhook_args(name="HOOKONE"))
    other = services.registry_create(name="fabrikam", sku="Premium", home_region="westus")
    webhook_create(registry=other, **webhook_args())  # the same name in another registry is fine
    assert Webhook.objects.count() == 2


@pytest.mark.parametrize("sku, limit", [("Basic", 2), ("Standard", 10), ("Premium", 500)])
def test_webhook_count_is_limited_by_the_sku(deployed_regions, sku, limit):
    registry = services.registry_create(name="limited", sku=sku, home_region="westus")
    Webhook.objects.bulk_create([
        Webhook(registry=registry, name=f"hook{i:04d}", region=registry.home_region, service_uri="https://x.example",
                actions=["push"], secret=SECRET)
        for i in range(limit - 1)
    ])
    webhook_create(registry=registry, **webhook_args(name="lastallowed"))
    with pytest.raises(Conflict, match=f"on the {sku} SKU, which allows {limit} webhooks") as error:
        webhook_create(registry=registry, **webhook_args(name="onetoomany"))
    assert error.value.field == "name"
    assert Webhook.objects.filter(registry=registry).count() == limit


def test_a_downgrade_check_names_the_sku_and_count(contoso):
    for name in ["hookone", "hooktwo", "hookthree"]:
        webhook_create(registry=contoso, **webhook_args(name=name))
    with pytest.raises(Conflict, match="The Basic SKU allows 2 webhooks; registry 'contoso' has 3"):
        webhooks.webhook_check_sku_limit(registry=contoso, sku=Sku.objects.get(name="Basic"))
    webhooks.webhook_check_sku_limit(registry=contoso, sku=Sku.objects.get(name="Standard"))


def test_update_validates_every_field_and_keeps_the_row_on_refusal(contoso):
    webhook = webhook_create(registry=contoso, **webhook_args())
    webhooks.webhook_update(webhook=webhook, region="eastus", scope="api:v2", enabled=False,
                            custom_headers={"Authorization": "Bearer t"}, secret="another-secret-0123456789")
    webhook.refresh_from_db()
    assert (webhook.region.name, webhook.scope, webhook.enabled) == ("eastus", "api:v2", False)
    assert webhook.secret == "another-secret-0123456789" and webhook.custom_headers == {"Authorization": "Bearer t"}
    with pytest.raises(InvalidInput):
        webhooks.webhook_update(webhook=webhook, actions=[], enabled=True)
    with pytest.raises(Conflict):
        webhooks.webhook_update(webhook=webhook, region="westeurope")
    webhook.refresh_from_db()
    assert webhook.actions == ["push"] and webhook.enabled is False and webhook.region.name == "eastus"


def test_unknown_webhook_is_not_found(contoso):
    with pytest.raises(NotFound, match="no webhook named 'nothere'"):
        webhooks.webhook_get(registry=contoso, name="nothere")
    webhook_create(registry=contoso, **webhook_args())
    assert webhooks.webhook_get(registry=contoso, name="HookOne").name == "hookone"


@pytest.mark.parametrize("scope, repository, tag, matches", [
    ("", "web", "1.0", True),
    ("", "web", None, True),
    ("web:*", "web", "1.0", True),
    ("web:*", "web", None, True),
    ("web:*", "web2", "1.0", False),
    ("web:1.0", "web", "1.0", True),
    ("web:1.0", "web", "1.1", False),
    ("web:1.0", "web", None, False),
    ("public/web:*", "public/web", "x", True),
    ("public:*", "public/web", "x", False),
])
def test_scope_matching(scope, repository, tag, matches):
    assert webhooks.webhook_scope_matches(scope, repository=repository, tag=tag) is matches


def test_notify_queues_one_delivery_per_matching_webhook_on_commit(contoso, django_capture_on_commit_callbacks):
    make = lambda name, **kw: webhook_create(registry=contoso, **webhook_args(name=name, **kw))  # noqa: E731
    matching = [make("allrepos", actions=["push", "delete"]), make("webscope", scope="public/web:*"),
                make("webtag", scope="public/web:1.2")]
    make("othertag", scope="public/web:1.3")
    make("otherrepo", scope="web")  # the full name without the registry prefix is public/web
    make("deleteonly", actions=["delete"])
    make("disabled", enabled=False)
    make("eastregion", region="eastus")
    with django_capture_on_commit_callbacks() as callbacks:
        deliveries = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push", target=PUSH,
                                    request={"host": "westus.example", "method": "PUT"})
    assert sorted(d.webhook.name for d in deliveries) == sorted(w.name for w in matching)
    assert len(callbacks) == 3, "one task per delivery, sent only on commit"
    assert len({d.event_id for d in deliveries}) == 1
    body = deliveries[0].request_body
    assert body["action"] == "push" and body["region"] == "westus" and body["id"] == str(deliveries[0].event_id)
    assert body["target"] == {"repository": "public/web", "tag": "1.2", "digest": PUSH["digest"],
                              "mediaType": PUSH["mediaType"], "size": 1234}
    assert body["request"] == {"host": "westus.example", "method": "PUT"}
    assert body["timestamp"].endswith("Z")
    assert all(d.state == WebhookDeliveryState.PENDING and d.attempts == 0 for d in deliveries)


def test_notify_ignores_other_registries_and_regions(contoso):
    webhook_create(registry=contoso, **webhook_args())
    assert webhook_notify(registry_id=contoso.pk, region_name="westus", action="push",
                          target={**PUSH, "repository": "fabrikam/web"}) == []
    assert webhook_notify(registry_id=contoso.pk, region_name="eastus", action="push", target=PUSH) == []
    assert webhook_notify(registry_id=999999, region_name="westus", action="push", target=PUSH) == []
    with pytest.raises(InvalidInput):
        webhook_notify(registry_id=contoso.pk, region_name="westus", action="pull", target=PUSH)
    assert not WebhookDelivery.objects.exists()


def test_digest_push_matches_repository_scopes_only(contoso):
    webhook_create(registry=contoso, **webhook_args(name="repowide", scope="public/web"))
    webhook_create(registry=contoso, **webhook_args(name="onetag", scope="public/web:1.2"))
    deliveries = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push",
                                target={**PUSH, "tag": None})
    assert [d.webhook.name for d in deliveries] == ["repowide"]
    assert deliveries[0].request_body["target"]["tag"] is None


# --- delivery attempts, against a real HTTP receiver --------------------------------------------------------

def ping(contoso, receiver, path="/hook", **overrides):
    webhook = webhook_create(registry=contoso, **webhook_args(service_uri=receiver.url + path, **overrides))
    return webhooks.webhook_ping(webhook=webhook)


def test_a_delivery_is_signed_with_the_secret_and_carries_custom_headers(contoso, receiver):
    delivery = ping(contoso, receiver, custom_headers={"Authorization": "Bearer tok-123", "X-Team": "blue"})
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    [request] = receiver.received("/hook")
    assert request.headers["X-Signature-SHA256"] == expected_signature(SECRET, request.body)
    assert request.headers["Authorization"] == "Bearer tok-123" and request.headers["X-Team"] == "blue"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body == {"id": str(delivery.event_id), "timestamp": body["timestamp"], "action": "ping", "target": {},
                    "region": "westus"}

    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.SUCCEEDED and delivery.attempts == 1
    assert delivery.response_status == 200 and delivery.response_body == '{"ok": true}'
    assert delivery.delivered_at and delivery.duration_ms is not None and not delivery.error
    assert [entry["status"] for entry in delivery.attempt_log] == [200]
    # The log keeps the signature (the receiver sees it anyway) but never the secret or custom header values.
    assert delivery.request_headers["X-Signature-SHA256"] == request.headers["X-Signature-SHA256"]
    assert delivery.request_headers["Authorization"] == "<redacted>"
    stored = json.dumps([delivery.request_headers, delivery.request_body, delivery.attempt_log])
    assert SECRET not in stored and "tok-123" not in stored


def test_a_5xx_is_retried_with_exponential_backoff_then_fails(contoso, receiver, settings):
    settings.WEBHOOK_MAX_RETRIES, settings.WEBHOOK_RETRY_BACKOFF = 2, 3
    settings.RETRY_JITTER = False  # exact waits; the jitter has its own test (tests/test_jobs)
    receiver.answer("/hook", 500, 503, 502)
    delivery = ping(contoso, receiver)
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == 3
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.PENDING and delivery.next_attempt_at
    assert "retrying in 3 s" in delivery.error
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == 6
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.FAILED and delivery.attempts == 3
    assert [e["status"] for e in delivery.attempt_log] == [500, 503, 502]
    assert "Gave up after 3 attempts" in delivery.error
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None, "a finished delivery is not resent"
    assert len(receiver.received()) == 3


def test_a_4xx_fails_at_once(contoso, receiver):
    receiver.answer("/hook", 404)
    delivery = ping(contoso, receiver)
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.FAILED and delivery.response_status == 404
    assert delivery.error == "The receiver answered 404."


def test_an_unreachable_receiver_is_retried(contoso, receiver, settings):
    settings.WEBHOOK_RETRY_BACKOFF, settings.RETRY_JITTER = 1, False
    port = receiver.server.server_address[1]
    receiver.__exit__()  # nothing listens on that port any more
    webhook = webhook_create(registry=contoso, **webhook_args(service_uri=f"http://127.0.0.1:{port}/hook"))
    delivery = webhooks.webhook_ping(webhook=webhook)
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) == 1
    delivery.refresh_from_db()
    assert delivery.response_status is None and "Cannot reach 127.0.0.1" in delivery.error


def test_a_redirect_to_another_host_is_not_followed(contoso, receiver):
    with type(receiver)() as elsewhere:
        receiver.answer("/hook", (307, {"Location": elsewhere.url.replace("127.0.0.1", "localhost") + "/steal"}))
        delivery = ping(contoso, receiver)
        assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
        assert elsewhere.received() == []
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.FAILED and delivery.response_status == 307
    assert "not followed" in delivery.error


def test_a_same_origin_307_is_followed_with_the_same_signed_body(contoso, receiver):
    receiver.answer("/hook", (307, {"Location": "/moved"}))
    delivery = ping(contoso, receiver)
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    first, second = receiver.received()
    assert (first.path, second.path) == ("/hook", "/moved") and first.body == second.body
    assert second.headers["X-Signature-SHA256"] == expected_signature(SECRET, second.body)
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.SUCCEEDED


def test_a_deleted_webhook_leaves_nothing_to_send(contoso, receiver):
    delivery = ping(contoso, receiver)
    webhooks.webhook_delete(webhook=delivery.webhook)
    assert webhooks.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert receiver.received() == []


def test_region_of_webhook_is_a_real_region(contoso):
    webhook = webhook_create(registry=contoso, **webhook_args(region="EastUS"))
    assert webhook.region == Region.objects.get(name="eastus")


def test_pending_deliveries_nothing_works_on_are_sent_again(contoso, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    webhook = webhook_create(registry=contoso, **webhook_args(service_uri="https://hooks.example.com/hook"))
    with django_capture_on_commit_callbacks(execute=False):
        [lost] = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push",
                                target={"repository": "contoso/app", "tag": "1", "digest": "sha256:" + "a" * 64})
        [fresh] = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push",
                                 target={"repository": "contoso/app", "tag": "2", "digest": "sha256:" + "b" * 64})
    long_ago = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=long_ago)
    done = WebhookDelivery.objects.create(webhook=webhook, event_id=lost.event_id, action="push", request_body={},
                                          state=WebhookDeliveryState.SUCCEEDED)
    WebhookDelivery.objects.filter(pk=done.pk).update(created_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert deliveries_recover() == [lost.pk]
    assert len(callbacks) == 1, "only the stale pending delivery is sent again, not the fresh or finished ones"
