"""End to end: webhooks created through the API, delivered by a real Celery worker to a real local receiver."""
import json
import time
from datetime import datetime

import pytest

from replication.choices import WebhookDeliveryState
from replication.models import WebhookDelivery
from replication.services.webhooks import webhook_notify
from tests.conftest import wait_for
from tests.test_webhooks.conftest import expected_signature
from tests.test_webhooks.receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/registries/contoso/webhooks/"
SECRETS = {"pushweb": "push-web-secret-0123456789", "otherrepo": "other-repo-secret-0123456789",
           "flaky": "flaky-secret-0123456789abc"}
PUSH = {"repository": "contoso/web", "tag": "1.0", "digest": "sha256:" + "cd" * 32,
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 525}


@pytest.fixture
def celery_worker_process(local_receivers_allowed, celery_worker_process):
    """The shared worker, started after loopback is allowed: the receivers listen on 127.0.0.1."""
    return celery_worker_process


@pytest.fixture
def receiver(local_receivers_allowed):
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def contoso(registry_with_replicas, admin_user):
    """Premium contoso homed in westus, owned by the API client's user."""
    return registry_with_replicas(name="contoso", replicas=(), owner=admin_user)


def create_webhook(api_client, receiver, name, **fields):
    body = {"name": name, "region": "westus", "service_uri": f"{receiver.url}/{name}", "actions": ["push"],
            "secret": SECRETS[name], **fields}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.content


def finished(delivery_id):
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    return delivery if delivery.state != WebhookDeliveryState.PENDING else None


def assert_signed(request, secret):
    assert request.headers["X-Signature-SHA256"] == expected_signature(secret, request.body)


def test_receiver_gets_exactly_the_expected_signed_deliveries(api_client, contoso, receiver, celery_worker_process):
    create_webhook(api_client, receiver, "pushweb", scope="web:*", custom_headers={"X-Team": "blue",
                                                                                   "Authorization": "Bearer e2e"})
    create_webhook(api_client, receiver, "otherrepo", scope="other:*", actions=["push", "delete"])

    # Ping: one delivery, signed, answered 200.
    ping = api_client.post(URL + "pushweb/ping/")
    assert ping.status_code == 202
    delivery = wait_for(lambda: finished(ping.json()["id"]), timeout=60, message="the ping delivery")
    assert delivery.state == WebhookDeliveryState.SUCCEEDED and delivery.response_status == 200
    [request] = receiver.received("/pushweb")
    assert_signed(request, SECRETS["pushweb"])
    assert json.loads(request.body)["action"] == "ping"

    # A push of contoso/web:1.0 in westus: pushweb's scope matches, otherrepo's does not.
    deliveries = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push", target=PUSH)
    assert [d.webhook.name for d in deliveries] == ["pushweb"]
    delivered = wait_for(lambda: finished(deliveries[0].pk), timeout=60, message="the push delivery")
    assert delivered.state == WebhookDeliveryState.SUCCEEDED and delivered.attempts == 1
    time.sleep(1.5)  # anything extra the worker might send would arrive by now
    push_requests = receiver.received("/pushweb")[1:]
    assert len(push_requests) == 1
    [push] = push_requests
    assert_signed(push, SECRETS["pushweb"])
    assert push.headers["X-Team"] == "blue" and push.headers["Authorization"] == "Bearer e2e"
    body = json.loads(push.body)
    assert body["action"] == "push" and body["region"] == "westus" and body["id"] == str(delivered.event_id)
    assert body["target"] == {"repository": "web", "tag": "1.0", "digest": PUSH["digest"],
                              "mediaType": PUSH["mediaType"], "size": 525}
    assert receiver.received("/otherrepo") == []
    assert len(receiver.received()) == 2

    listed = api_client.get(URL + "pushweb/deliveries/").json()
    assert [(d["action"], d["state"]) for d in listed] == [("push", "succeeded"), ("ping", "succeeded")]


def test_a_failing_receiver_gets_the_delivery_on_the_third_attempt(api_client, contoso, receiver,
                                                                  celery_worker_process):
    create_webhook(api_client, receiver, "flaky")
    receiver.answer("/flaky", 500, 500)
    [delivery] = webhook_notify(registry_id=contoso.pk, region_name="westus", action="push", target=PUSH)
    delivery = wait_for(lambda: finished(delivery.pk), timeout=60, message="the retried delivery")

    assert delivery.state == WebhookDeliveryState.SUCCEEDED and delivery.attempts == 3
    assert [entry["status"] for entry in delivery.attempt_log] == [500, 500, 200]
    assert all(entry["at"] and entry["duration_ms"] is not None for entry in delivery.attempt_log)
    requests = receiver.received("/flaky")
    assert len(requests) == 3
    assert len({r.body for r in requests}) == 1, "every retry sends the same body"
    for request in requests:
        assert_signed(request, SECRETS["flaky"])
    # Backoff of 0.2 s then 0.4 s (WEBHOOK_RETRY_BACKOFF=0.2 in the worker's environment).
    first, second, third = (datetime.fromisoformat(entry["at"]) for entry in delivery.attempt_log)
    assert (second - first).total_seconds() >= 0.2 and (third - second).total_seconds() >= 0.4
    api_delivery = api_client.get(URL + "flaky/deliveries/").json()[0]
    assert api_delivery["attempts"] == 3 and api_delivery["response_status"] == 200
