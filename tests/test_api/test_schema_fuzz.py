"""Schemathesis over /api/schema/: no request a client can make gets a 5xx, and every status the API
answers is one its OpenAPI schema declares for that operation.

The portal runs for real (the session's live server, a real database with committed rows, the test
regions' real Distribution registries); the caller is a staff user with an API token. Path parameters
are drawn half from the fuzzer and half from the rows seeded here, so the requests reach the views'
real work and not only their 404s. No Celery worker runs: writes that queue work (replica create and
delete, sync, import, webhook ping) record their job and send its task to the test broker, where it
stays. Names that webhook URIs and import sources resolve to come from a fake resolver (DNS is outside
this machine): a public address, so those writes succeed and their deliveries and imports are queued,
never sent.

Bounded: API_FUZZ_MAX_EXAMPLES examples per operation (default 25) plus Schemathesis' boundary cases;
no deadline (no timed assertions). `-m api_fuzz` runs only these, `-m "not api_fuzz"` skips them.
"""
import json
import os

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from replication import outbound, services
from replication.choices import JobKind, JobState, ReplicaStatus, WebhookDeliveryState
from replication.models import Region, Registry, Replica, ReplicationJob, RoleAssignment, WebhookDelivery
from replication.services import access
from replication.services import webhooks as webhook_service

MAX_EXAMPLES = int(os.environ.get("API_FUZZ_MAX_EXAMPLES", "25"))
REGISTRY = "contoso"
WEBHOOK = "fuzzhook"
REGISTRY_TOKEN = "ci-pull"
# Deployed (westus, eastus, canadacentral) and not deployed (northeurope): both kinds of answer.
REGIONS = ["westus", "eastus", "canadacentral", "northeurope"]
PUBLIC_ADDRESS = "93.184.215.14"


def fuzz_data_ensure(*, owner) -> None:
    """The rows the path parameters point at; recreated when a DELETE among the examples removed the registry."""
    if Registry.objects.filter(name=REGISTRY).exists():
        return
    registry = services.registry_create(name=REGISTRY, sku="Premium", home_region="westus", owner=owner)
    Replica.objects.create(registry=registry, region=Region.objects.get(name="eastus"), status=ReplicaStatus.READY)
    failed = Replica.objects.create(registry=registry, region=Region.objects.get(name="canadacentral"),
                                    status=ReplicaStatus.FAILED, status_message="seeded as failed")
    ReplicationJob.objects.create(replica=failed, registry=registry, region=failed.region,
                                  kind=JobKind.INITIAL_SYNC, state=JobState.FAILED, error="seeded as failed")
    webhook_service.webhook_create(registry=registry, name=WEBHOOK, region="westus",
                                   service_uri="https://hooks.example.com/in", actions=["push"],
                                   secret="a-secret-of-the-fuzz-webhook")
    access.registry_token_create(registry=registry, name=REGISTRY_TOKEN,
                                 scope=[{"repository": "apps/*", "actions": ["pull"]}])
    webhook = webhook_service.webhook_get(registry=registry, name=WEBHOOK)
    for state in (WebhookDeliveryState.FAILED, WebhookDeliveryState.PENDING):  # redeliver: 202 and 409
        delivery = webhook_service.webhook_ping(webhook=webhook)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=state)
    reader, _ = get_user_model().objects.get_or_create(username="bob")
    access.role_assignment_create(registry=registry, username=reader.username, role="pull")


def known_path_values(*, path: str) -> dict[str, list]:
    """What each path parameter of an operation may name among the seeded rows, read when a case is drawn."""
    if path.startswith("/api/v1/regions/"):
        return {"name": REGIONS}
    ids = [*ReplicationJob.objects.values_list("pk", flat=True)[:5],
           *RoleAssignment.objects.values_list("pk", flat=True)[:5]]
    deliveries = list(WebhookDelivery.objects.values_list("pk", flat=True)[:5])
    return {"name": [REGISTRY], "region": REGIONS, "webhook": [WEBHOOK], "token": [REGISTRY_TOKEN], "id": ids,
            "delivery": deliveries}


def api_schema_load() -> schemathesis.schemas.BaseSchema:
    """The schema the portal serves at /api/schema/, read when the module loads, so that each operation is a
    test of its own; the cases go to the live server."""
    answer = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200, answer.content[:500]
    return schemathesis.openapi.from_dict(json.loads(answer.content))


schema = api_schema_load()


# How many seeded rows a path parameter may name: a fixed range of indexes into the rows as they are.
KNOWN_SLOTS = 10


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Half the time the fuzzer's own value (mostly 404s), half a seeded row's (the view's real work).
    if not path_parameters:
        return st.just(path_parameters)
    path = context.operation.path
    known_keys = set(known_path_values(path=path))  # the same keys whatever the rows

    def seeded(key, fallback):
        # The strategy draws an index, and the rows are read when it is mapped: an earlier example may have
        # deleted one (DELETE …/role-assignments/{id}/), and a strategy whose choices change between test cases
        # is an error to Hypothesis (FlakyStrategyDefinition), not a failing example.
        def pick(index):
            rows = known_path_values(path=path).get(key) or [fallback]
            return rows[index % len(rows)]

        return st.integers(0, KNOWN_SLOTS - 1).map(pick)

    return st.fixed_dictionaries({
        key: st.one_of(st.just(value), seeded(key, value)) if key in known_keys else st.just(value)
        for key, value in path_parameters.items()
    })


@pytest.fixture
def fuzz_owner(transactional_db, deployed_regions, monkeypatch):
    """A staff user who owns the seeded registry; DNS answers a public address; sign-in counts start and end empty."""
    monkeypatch.setattr(outbound, "outbound_resolver", lambda host, port: [PUBLIC_ADDRESS])
    cache.clear()
    owner = get_user_model().objects.create_user("alice", password="correct-horse", is_staff=True)
    fuzz_data_ensure(owner=owner)
    yield owner
    # The fuzzer's failed sign-ins from 127.0.0.1 must not throttle later tests.
    cache.clear()


@pytest.fixture
def staff_token(fuzz_owner) -> str:
    return Token.objects.create(user=fuzz_owner).key


@pytest.mark.api_fuzz
@schema.parametrize()
@hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.filter_too_much])
def test_api_answers_no_5xx_and_only_declared_statuses(case, portal_server, staff_token, fuzz_owner):
    fuzz_data_ensure(owner=fuzz_owner)
    case.call_and_validate(base_url=portal_server.url, headers={"Authorization": f"Token {staff_token}"},
                           checks=[not_a_server_error, status_code_conformance])
