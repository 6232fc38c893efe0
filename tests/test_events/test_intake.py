"""POST /api/v1/events/: region-token auth, both content types, idempotency, what is ignored, bad bodies."""
import json

import pytest
from rest_framework.test import APIClient

from replication.models import RegistryEvent
from replication.oci.constants import EVENTS_MEDIA_TYPE, OCI_INDEX
from replication.services.regions import region_events_token

from .conftest import engine_event, event

DIGEST = "sha256:" + "a" * 64
URL = "/api/v1/events/"


def post(events, *, region="eastus", token=None, content_type=EVENTS_MEDIA_TYPE, raw=None):
    token = region_events_token(region) if token is None else token
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


@pytest.mark.parametrize("token, region", [
    ("", "eastus"),
    ("wrong", "eastus"),
    (region_events_token("westus"), "eastus"),  # another region's secret
])
def test_a_wrong_or_missing_region_token_is_refused(geo, token, region):
    response = APIClient().post(URL, data=json.dumps({"events": []}), content_type=EVENTS_MEDIA_TYPE,
                                HTTP_AUTHORIZATION=f"Bearer {token}" if token else "", HTTP_X_REGION=region)
    assert response.status_code == 401
    assert not RegistryEvent.objects.exists()


def test_a_region_token_from_a_fallback_key_is_accepted_during_a_rotation_and_refused_after(geo, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "before-rotation-" * 4, []
    configured = region_events_token("eastus")  # what the region's registry was configured with
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "after-rotation-" * 4, ["before-rotation-" * 4]
    assert post([], token=configured).status_code == 202
    settings.SECRET_KEY_FALLBACKS = []
    assert post([], token=configured).status_code == 401


def test_session_and_token_users_are_not_enough(geo, api_client):
    response = api_client.post(URL, data=json.dumps({"events": []}), content_type=EVENTS_MEDIA_TYPE)
    assert response.status_code == 401


def test_an_unknown_region_is_a_bad_request(geo):
    response = post([], region="atlantis")  # its token is right, the region does not exist
    assert response.status_code == 400 and "atlantis" in response.json()["detail"]


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
    post([engine_event(repository=f"{geo.name}/app", digest=DIGEST, tag="1.0")])
    assert RegistryEvent.objects.get().from_replication
