"""Point 5 of issue 13: one log format (JSON when asked for) and a request id that follows an API request or a
registry event into every job and webhook delivery it causes, and into the worker's log lines."""
import json
import logging
import uuid

import pytest
from django.test import Client

from replication.choices import ReplicaStatus
from replication.log_context import ContextFilter, JsonFormatter, TextFormatter, log_context, logging_config
from replication.models import ReplicationJob, Webhook, WebhookDelivery
from replication.services.webhooks import webhook_notify
from replication.oci.constants import EVENTS_MEDIA_TYPE
from replication.services.region_secrets import region_events_secret
from tests.conftest import wait_for
from tests.test_events.conftest import event


@pytest.fixture
def json_lines():
    """Every record logged during the test, formatted as LOG_FORMAT=json formats it."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(self.format(record)))

    handler = Collect()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    yield lines
    logging.getLogger().removeHandler(handler)


def test_a_valid_incoming_request_id_is_kept_and_returned(db):
    answer = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42:x_y")
    assert answer["X-Request-ID"] == "lb-7f3a.42:x_y"


@pytest.mark.parametrize("incoming", ["", "has space", "new\nline", "x" * 65, "-starts-with-dash", "é"])
def test_an_invalid_request_id_is_replaced_by_a_new_one(db, incoming):
    answer = Client().get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert answer["X-Request-ID"] != incoming and len(answer["X-Request-ID"]) == 32
    assert Client().get("/healthz")["X-Request-ID"] != answer["X-Request-ID"]  # one per request


def test_every_record_of_a_request_carries_its_id(db, json_lines):
    """Including Django's own 404 warning, which it logs after the middlewares have returned."""
    answer = Client().get("/no/such/page/", HTTP_X_REQUEST_ID="follow-me-1")
    assert answer.status_code == 404
    warning = next(line for line in json_lines if line["logger"] == "django.request")
    assert warning["request_id"] == "follow-me-1" and "Not Found" in warning["message"]
    assert set(warning) == {"time", "level", "logger", "message", "request_id"}


def test_json_and_text_lines_carry_the_job_and_region_when_set():
    record = logging.LogRecord("replication.jobs.runner", logging.INFO, __file__, 1, "copied %s", ("x",), None)
    with log_context(request_id="r-1", job_id=12, region="eastus"):
        ContextFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "copied x" and entry["level"] == "INFO" and entry["logger"] == "replication.jobs.runner"
    assert (entry["request_id"], entry["job_id"], entry["region"]) == ("r-1", 12, "eastus")
    assert entry["time"].endswith("+00:00")
    assert TextFormatter().format(record).endswith("copied x [request_id=r-1 job_id=12 region=eastus]")
    with pytest.raises(ValueError):
        logging_config(format="xml")


def test_deliveries_created_inside_a_request_context_record_its_id(registry_with_replicas, admin_user):
    """What the fan-out does while the worker runs a registry event's task (its headers carry the id)."""
    registry = registry_with_replicas(name=f"rid{uuid.uuid4().hex[:8]}", replicas=("eastus",), owner=admin_user)
    Webhook.objects.create(registry=registry, name="hook", region=registry.home_region,
                           service_uri="http://127.0.0.1:9/", actions=["push"], secret="s" * 32)
    with log_context(request_id="event-batch-9"):
        webhook_notify(registry_id=registry.pk, region_name=registry.home_region.name, action="push",
                       target={"repository": f"{registry.name}/app", "tag": "1", "digest": "sha256:" + "0" * 64})
    assert WebhookDelivery.objects.get(webhook__registry=registry).request_id == "event-batch-9"


@pytest.fixture
def worker_logs_json(monkeypatch):
    """The worker started after this logs one JSON object per line."""
    monkeypatch.setenv("LOG_FORMAT", "json")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_one_api_request_is_followed_into_its_job_and_the_workers_log(worker_logs_json, api_client, admin_user,
                                                                     registry_with_replicas, celery_worker_process):
    registry_with_replicas(name="contoso", replicas=(), owner=admin_user)
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    answer = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json",
                             HTTP_X_REQUEST_ID=request_id)
    assert answer.status_code == 202, answer.content
    assert answer["X-Request-ID"] == request_id
    job = ReplicationJob.objects.get(registry__name="contoso", region__name="eastus")
    assert job.request_id == request_id

    wait_for(lambda: api_client.get("/api/v1/registries/contoso/replicas/eastus/").json()["status"]
             == ReplicaStatus.READY, timeout=120, message="the replica in eastus")

    def job_lines():
        lines = []
        for raw in celery_worker_process.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return [line for line in lines if line.get("job_id") == job.pk] or None

    lines = wait_for(job_lines, timeout=30, message="the worker's log lines of the job")
    assert {line["request_id"] for line in lines} == {request_id}
    assert {line["region"] for line in lines} == {"eastus"}
    assert any(line["message"].startswith(f"Job {job.pk} ended succeeded") for line in lines), lines
    # Celery's own lines of that task (received, succeeded) carry it too, from the message's headers.
    task_lines = [json.loads(raw) for raw in celery_worker_process.log_path.read_text().splitlines()
                  if raw.startswith("{") and job.celery_task_id and job.celery_task_id in raw]
    assert task_lines and all(line["request_id"] == request_id for line in task_lines
                              if line["logger"] == "celery.app.trace")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_registry_events_request_id_reaches_the_jobs_its_fan_out_creates(registry_with_replicas, admin_user,
                                                                           celery_worker_process):
    """The events intake queues the fan-out task inside the request; the worker runs it under the same id (the
    task message's headers), so the copy jobs it records carry it."""
    registry = registry_with_replicas(name="contoso", replicas=("eastus",), owner=admin_user)
    body = json.dumps({"events": [event(repository="contoso/app", digest="sha256:" + "b" * 64, tag="1.0")]})
    answer = Client().post("/api/v1/events/", data=body, content_type=EVENTS_MEDIA_TYPE,
                           HTTP_AUTHORIZATION=f"Bearer {region_events_secret(region=registry.home_region)}",
                           HTTP_X_REGION="westus", HTTP_X_REQUEST_ID="push-event-77")
    assert answer.status_code == 202, answer.content
    copy = wait_for(lambda: ReplicationJob.objects.filter(registry=registry, region__name="eastus",
                                                          kind="event_copy").first(),
                    timeout=60, message="the fan-out's copy job")
    assert copy.request_id == "push-event-77"
