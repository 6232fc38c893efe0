"""POST /api/v1/events/: region-token auth, both content types, idempotency, what is ignored, bad bodies."""
import json

import pytest
from rest_framework.test import APIClient

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.crypto import salted_hmac

from replication.dataplane import find_free_port
from replication.models import ImageReplication, Region, RegistryEvent, ReplicationJob
from replication.oci.constants import EVENTS_MEDIA_TYPE, OCI_INDEX
from replication.services.region_secrets import (
    region_events_secret,
    region_events_secret_retire,
    region_events_secret_rotate,
)

from replication.services.events import events_drain
from tests.faults.brokers import app_broker

from .conftest import engine_event, event

DIGEST = "sha256:" + "a" * 64
URL = "/api/v1/events/"


def post(events, *, region="eastus", token=None, content_type=EVENTS_MEDIA_TYPE, raw=None):
    token = secret_of(region) if token is None else token
    body = raw if raw is not None else json.dumps({"events": events})
    return APIClient().post(URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}",
                            HTTP_X_REGION=region)


def test_push_is_recorded_and_its_processing_queued(geo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post([event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0")])
    assert response.status_code == 202, response.content
    assert response.json() == {"recorded": 1, "duplicates": 0, "ignored": 0}
    assert len(callbacks) == 1  # process_registry_events, on the portal queue
    recorded = RegistryEvent.objects.get()
    assert (recorded.region.name, recorded.registry, recorded.tag, recorded.digest) == ("eastus", geo, "1.0", DIGEST)
    assert not recorded.from_replication and recorded.processed_at is None


def test_the_same_event_twice_is_recorded_once(geo, django_capture_on_commit_callbacks):
    body = [event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0", event_id="same-id")]
    assert post(body).json()["recorded"] == 1
    with django_capture_on_commit_callbacks() as callbacks:
        again = post(body)
    assert again.status_code == 202 and again.json() == {"recorded": 0, "duplicates": 1, "ignored": 0}
    assert not callbacks, "a duplicate queues nothing"
    assert RegistryEvent.objects.count() == 1


def test_plain_json_is_accepted_too(geo):
    response = post([event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0")], content_type="application/json")
    assert response.status_code == 202 and RegistryEvent.objects.count() == 1


def secret_of(region: str) -> str:
    return region_events_secret(region=Region.objects.get(name=region))


# The scheme before secrets were random: an HMAC of the region name under SECRET_KEY, whose default is public.
DEFAULT_KEY = "dev-only-insecure-key-change-me-in-production"
DERIVED_FROM_DEFAULT_KEY = salted_hmac("replication.region_events_token", "eastus", secret=DEFAULT_KEY,
                                       algorithm="sha256").hexdigest()


@pytest.mark.parametrize("token, region", [
    ("", "eastus"),
    ("wrong", "eastus"),
    ("westus", "eastus"),  # another region's secret (resolved below)
    (DERIVED_FROM_DEFAULT_KEY, "eastus"),
])
def test_a_wrong_or_missing_region_token_is_refused(geo, token, region):
    token = secret_of(token) if token == "westus" else token
    response = APIClient().post(URL, data=json.dumps({"events": []}), content_type=EVENTS_MEDIA_TYPE,
                                HTTP_AUTHORIZATION=f"Bearer {token}" if token else "", HTTP_X_REGION=region)
    assert response.status_code == 401
    assert not RegistryEvent.objects.exists()


def test_region_secrets_are_random_and_stored_sealed(geo):
    from replication.models import RegionEventsSecret

    east, west = secret_of("eastus"), secret_of("westus")
    assert east != west and len(east) >= 40 and secret_of("eastus") == east
    stored = RegionEventsSecret.objects.get(region__name="eastus")
    assert east not in stored.current


def test_a_rotated_secret_keeps_the_previous_one_until_it_is_retired(geo):
    eastus = Region.objects.get(name="eastus")
    configured = secret_of("eastus")  # what the region's registry was started with
    new = region_events_secret_rotate(region=eastus)
    assert new != configured and secret_of("eastus") == new
    assert post([], token=configured).status_code == 202, "the registry keeps delivering until it restarts"
    assert post([], token=new).status_code == 202
    region_events_secret_retire(region=eastus)
    assert post([], token=configured).status_code == 401
    assert post([], token=new).status_code == 202


def test_a_forged_delete_changes_nothing(geo):
    forged = [event(action="delete", repository=f"{geo.name}/app", digest=DIGEST)]
    for token in ("", "wrong", DERIVED_FROM_DEFAULT_KEY, secret_of("westus")):
        assert post(forged, token=token).status_code == 401
    assert not RegistryEvent.objects.exists()


def test_session_and_token_users_are_not_enough(geo, api_client):
    response = api_client.post(URL, data=json.dumps({"events": []}), content_type=EVENTS_MEDIA_TYPE)
    assert response.status_code == 401


def test_an_unknown_region_is_refused_as_it_has_no_secret(geo):
    response = post([], region="atlantis", token=secret_of("eastus"))
    assert response.status_code == 401 and not RegistryEvent.objects.exists()


@pytest.mark.parametrize("raw", [
    "not json",
    json.dumps([]),
    json.dumps({"events": {}}),
    json.dumps({"events": ["x"]}),
    json.dumps({"events": [{"id": "1", "action": "push"}]}),
    json.dumps({"events": [{"id": "1", "action": "push", "target": {"repository": "a/b"}, "timestamp": "yesterday"}]}),
])
def test_bad_bodies_are_refused(geo, raw):
    response = post(None, raw=raw)
    assert response.status_code == 400, response.content
    assert not RegistryEvent.objects.exists()


def test_pulls_blobs_tag_deletes_and_foreign_repositories_are_ignored(geo):
    repo = f"{geo.name}/app"
    pull = event(repository=repo, digest=DIGEST, tag="1.0")
    pull["action"] = "pull"
    ignored = [
        pull,
        event(repository=repo, digest=DIGEST, media_type="application/octet-stream"),  # a blob
        event(repository=repo, digest=DIGEST, media_type="application/vnd.oci.image.layer.v1.tar"),
        event(action="delete", repository=repo, tag="1.0"),  # a tag delete follows every manifest delete
        event(repository="nobody/app", digest=DIGEST, tag="1.0"),  # no such registry
        event(repository="toplevel", digest=DIGEST, tag="1.0"),  # outside any registry's prefix
    ]
    kept = [event(repository=repo, digest=DIGEST, media_type=OCI_INDEX),  # an index pushed by digest
            event(action="delete", repository=repo, digest=DIGEST)]
    response = post(ignored + kept)
    assert response.json() == {"recorded": 2, "duplicates": 0, "ignored": len(ignored)}
    assert sorted(RegistryEvent.objects.values_list("action", flat=True)) == ["delete", "push"]


def test_pushes_by_our_copy_engine_are_marked_as_replication(geo):
    ImageReplication.objects.create(registry=geo, region=Region.objects.get(name="eastus"), pushed_at=timezone.now(),
                                    repository=f"{geo.name}/app", reference="1.0", digest=DIGEST)  # pending there
    assert post([engine_event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0")]).json()["recorded"] == 1
    assert RegistryEvent.objects.get().from_replication


@pytest.mark.parametrize("actor, user_agent, from_replication", [
    ("georegistry-replication", "georegistry-replication/0.1", True),  # the engine's signed credentials
    ("georegistry-replication", "skopeo/1.9.3", True),  # whatever it says it is
    ("alice", "georegistry-replication/0.1", False),  # a user pushing with our own OCI client
    ("contoso/ci", "georegistry-replication/9", False),  # a registry token claiming our User-Agent
    ("", "georegistry-replication/0.1", True),  # a region open to anyone names no actor: its User-Agent tells
    ("", "skopeo/1.9.3", False),
])
def test_who_pushed_is_the_actor_a_region_names_not_the_user_agent(geo, actor, user_agent, from_replication,
                                                                  django_capture_on_commit_callbacks):
    pushed = event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0", actor=actor, user_agent=user_agent)
    ImageReplication.objects.create(registry=geo, region=Region.objects.get(name="eastus"), pushed_at=timezone.now(),
                                    repository=f"{geo.name}/app", reference="1.0", digest=DIGEST)  # pending there
    with django_capture_on_commit_callbacks(execute=False) as fan_outs:
        assert post([pushed]).json()["recorded"] == 1
    assert RegistryEvent.objects.get().from_replication is from_replication
    assert len(fan_outs) == (0 if from_replication else 1)  # only a user's push is fanned out


def test_our_copies_events_that_confirm_nothing_are_acknowledged_without_a_write(geo):
    ImageReplication.objects.create(registry=geo, region=Region.objects.get(name="eastus"), pushed_at=timezone.now(),
                                    repository=f"{geo.name}/app", reference="1.0", digest=DIGEST,
                                    status="complete", completed_at=timezone.now())  # the copy marked it already
    body = [engine_event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0"),
            engine_event(repository=f"{geo.name}/app", digest=DIGEST, tag="2.0"),  # no record of it there
            engine_event(action="delete", repository=f"{geo.name}/app", digest=DIGEST)]
    token = secret_of("eastus")
    with CaptureQueriesContext(connection) as queries:
        response = post(body, token=token)
    assert response.status_code == 202 and response.json() == {"recorded": 0, "duplicates": 0, "ignored": 3}
    assert not RegistryEvent.objects.exists()
    # Most of a burst's notifications are these: the region's secret (with the region), then one read per push.
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 3 and all(sql.lstrip().upper().startswith("SELECT") for sql in statements), statements


def test_an_event_arriving_while_the_broker_is_down_is_accepted_and_drained_later(geo, caplog,
                                                                                   django_capture_on_commit_callbacks):
    """The broker down (nothing listens on its port): the event is recorded and answered 202, not 500 (which
    only made Distribution send it again); the lost-work sweep's events_drain fans it out once it can."""
    down = f"redis://127.0.0.1:{find_free_port()}/0"
    with app_broker(down), django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post([event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0")])
    assert response.status_code == 202 and callbacks  # the fan-out send among them (dispatch.task_send_on_commit)
    assert "Broker unreachable: task replication.tasks.process_registry_events" in caplog.text
    recorded = RegistryEvent.objects.get()
    assert recorded.processed_at is None
    with django_capture_on_commit_callbacks(execute=False):
        events_drain()
    recorded.refresh_from_db()
    assert recorded.processed_at is not None
    assert ReplicationJob.objects.filter(registry=geo, kind="event_copy").count() == 2  # eastus, canadacentral
