"""GET /api/v1/registries/{name}/jobs/ (the job history: filters, pages, fields) and
POST …/webhooks/{webhook}/deliveries/{delivery}/redeliver/."""
from datetime import timedelta

import pytest
from django.utils import timezone

from replication.choices import JobKind, JobState, WebhookDeliveryState
from replication.models import ActivityRecord, Region, ReplicationJob, WebhookDelivery
from replication.services.webhooks import webhook_create, webhook_ping

JOBS = "/api/v1/registries/contoso/jobs/"
HOOK = "/api/v1/registries/contoso/webhooks/hookone/"


@pytest.fixture
def contoso(registry_with_replicas, admin_user):
    return registry_with_replicas(name="contoso", replicas=("eastus",), owner=admin_user)


def job(registry, region, *, kind=JobKind.EVENT_COPY, state=JobState.SUCCEEDED, spec=None, **fields):
    started = timezone.now() - timedelta(seconds=30)
    return ReplicationJob.objects.create(registry=registry, region=Region.objects.get(name=region), kind=kind,
                                         state=state, spec=spec or {}, started_at=started,
                                         finished_at=started + timedelta(seconds=2.5), **fields)


def test_jobs_list_is_newest_first_with_trigger_and_duration(api_client, contoso):
    older = job(contoso, "eastus", kind=JobKind.INITIAL_SYNC, bytes_done=10, bytes_total=10)
    newer = job(contoso, "westus", spec={"source_region": "eastus", "images": [], "origin": "reconcile"},
                state=JobState.FAILED, error="manifest unknown")
    response = api_client.get(JOBS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
    first, second = body["results"]
    assert first["trigger"] == "The reconcile loop" and first["state"] == "failed" and first["region"] == "westus"
    assert first["error"] == "manifest unknown" and first["duration_seconds"] == 2.5
    assert second["trigger"] == "Replica created" and second["kind"] == "initial" and second["bytes_done"] == 10
    assert second["url"].endswith(f"/api/v1/jobs/{older.pk}/")


def test_jobs_list_filters_by_region_state_and_kind(api_client, contoso):
    job(contoso, "eastus")
    failed = job(contoso, "eastus", state=JobState.FAILED)
    job(contoso, "westus", kind=JobKind.IMPORT)
    assert [r["id"] for r in api_client.get(JOBS + "?region=eastus&state=failed").json()["results"]] == [failed.pk]
    assert api_client.get(JOBS + "?kind=import").json()["count"] == 1
    assert api_client.get(JOBS + "?region=westus").json()["count"] == 1


@pytest.mark.parametrize("query, field, detail", [
    ("state=stuck", "state", "State 'stuck' does not exist; choose one of: queued, running, succeeded, failed, canceled."),
    ("region=atlantis", "region", "Region 'atlantis' does not exist."),
    ("kind=copy", "kind", "Kind 'copy' does not exist; choose one of: initial, resync, event_copy, event_delete, "
                          "import, purge, scrub."),
])
def test_jobs_list_refuses_unknown_filters_with_400(api_client, contoso, query, field, detail):
    response = api_client.get(f"{JOBS}?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "code": "invalid", "field": field}


def test_jobs_list_is_paginated(api_client, contoso):
    for _ in range(7):
        job(contoso, "westus")
    page = api_client.get(JOBS + "?page_size=5").json()
    assert page["count"] == 7 and len(page["results"]) == 5 and "page=2" in page["next"]
    assert len(api_client.get(page["next"]).json()["results"]) == 2
    assert api_client.get(JOBS + "?page=9").status_code == 404


def test_jobs_of_other_registries_are_not_listed(api_client, contoso, registry_with_replicas):
    other = registry_with_replicas(name="fabrikam", replicas=())
    job(other, "westus")
    assert api_client.get(JOBS).json()["count"] == 0


@pytest.fixture
def hook(contoso):
    return webhook_create(registry=contoso, name="hookone", region="westus",
                          service_uri="https://hooks.example.com/in", actions=["push"],
                          secret="s3cret-for-signing-0123456789", custom_headers={"Authorization": "Bearer x"})


def test_redeliver_answers_202_with_a_new_delivery_of_the_same_body(api_client, hook,
                                                                    django_capture_on_commit_callbacks):
    original = webhook_ping(webhook=hook)
    WebhookDelivery.objects.filter(pk=original.pk).update(state=WebhookDeliveryState.FAILED)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post(HOOK + f"deliveries/{original.pk}/redeliver/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["id"] != original.pk and body["redelivery_of"] == original.pk and body["state"] == "pending"
    assert body["request_body"] == original.request_body and body["event_id"] == str(original.event_id)
    assert body["request_headers"]["Authorization"] == "<redacted>"
    assert len(callbacks) == 1
    listed = api_client.get(HOOK + "deliveries/").json()
    assert [d["id"] for d in listed] == [body["id"], original.pk]
    assert ActivityRecord.objects.filter(action="webhook.redeliver", target="hookone").count() == 1


def test_redeliver_refuses_pending_and_unknown_deliveries(api_client, hook, contoso):
    pending = webhook_ping(webhook=hook)
    response = api_client.post(HOOK + f"deliveries/{pending.pk}/redeliver/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    response = api_client.post(HOOK + "deliveries/424242/redeliver/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Webhook 'hookone' has no delivery 424242.", "code": "not_found"}
    other = webhook_create(registry=contoso, name="hooktwo", region="westus", service_uri="https://hooks.example.com/b",
                           actions=["push"], secret="s3cret-for-signing-0123456789")
    foreign = webhook_ping(webhook=other)
    assert api_client.post(HOOK + f"deliveries/{foreign.pk}/redeliver/").status_code == 404
    assert WebhookDelivery.objects.count() == 2
