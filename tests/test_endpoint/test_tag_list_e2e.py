"""Tag lists through the global endpoint never miss a tag pushed elsewhere: real gunicorn, real Distribution
registries requiring the portal's tokens, no worker (nothing replicates).

A region's notification is recorded as the event intake records it (a RegistryEvent row): the test regions
send none.
"""
import os
import uuid

import pytest
from django.utils import timezone

from replication.choices import RegistryEventAction
from replication.models import Region, RegistryEvent
from tests.conftest import fleet_client
from tests.test_endpoint.conftest import PASSWORD, US_ADDRESS, image_push, network_client

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def region_client(registry, region: str):
    return fleet_client(Region.objects.get(name=region).endpoint, prefix=registry.repository_prefix)


def notified(registry, *, region: str, action: str, repository: str, digest: str, tag: str = ""):
    """What the region's notification leaves in the database (a user's push or delete)."""
    RegistryEvent.objects.create(registry=registry, region=Region.objects.get(name=region),
                                 event_id=str(uuid.uuid4()), action=action, repository=repository, tag=tag,
                                 digest=digest, timestamp=timezone.now())


def push_in(registry, region: str, repository: str, tag: str) -> str:
    """A user's push into one region only (no worker runs, so it stays there); returns the digest."""
    digest = image_push(region_client(registry, region), repository, tag, payload=os.urandom(512))
    notified(registry, region=region, action=RegistryEventAction.PUSH, repository=repository, digest=digest, tag=tag)
    return digest


def us_client(endpoint, registry):
    return network_client(endpoint.url, address=US_ADDRESS, username=registry.user.username, password=PASSWORD)


def test_a_tag_pushed_in_europe_is_listed_to_a_us_client_before_it_replicates(endpoint, contoso):
    repository = f"{contoso.name}/app"
    push_in(contoso, "westus", repository, "1.0")
    push_in(contoso, "westeurope", repository, "2.0")
    assert region_client(contoso, "westus").tags(repository) == ["1.0"]  # not replicated
    with us_client(endpoint, contoso) as us:
        listed = us.get(f"/v2/{repository}/tags/list")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"name": repository, "tags": ["1.0", "2.0"]}
    assert listed.headers["X-Served-By-Region"] == "westus"


def test_tag_list_pages_with_n_and_last_walk_the_whole_merged_list(endpoint, contoso):
    repository = f"{contoso.name}/app"
    for tag in ("a", "c", "e"):
        push_in(contoso, "westus", repository, tag)
    for tag in ("b", "d"):
        push_in(contoso, "westeurope", repository, tag)
    walked, pages = [], 0
    with us_client(endpoint, contoso) as us:
        url = f"/v2/{repository}/tags/list?n=2"
        while url:
            page = us.get(url)
            assert page.status_code == 200, page.text
            assert len(page.json()["tags"]) <= 2
            walked += page.json()["tags"]
            pages += 1
            link = page.headers.get("Link", "")
            url = link[1:link.index(">")] if link else ""
        too_many = us.get(f"/v2/{repository}/tags/list?n=1001")
        not_a_number = us.get(f"/v2/{repository}/tags/list?n=some")
        nowhere = us.get(f"/v2/{contoso.name}/nothing/tags/list")
    assert walked == ["a", "b", "c", "d", "e"]
    assert pages == 3
    for refused in (too_many, not_a_number):
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "PAGINATION_NUMBER_INVALID"
    assert nowhere.status_code == 404
    assert nowhere.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_a_tag_whose_digest_was_deleted_in_another_region_is_not_listed(endpoint, contoso):
    repository = f"{contoso.name}/app"
    push_in(contoso, "westus", repository, "1.0")
    payload = os.urandom(512)
    doomed = image_push(region_client(contoso, "westus"), repository, "old", payload=payload)
    notified(contoso, region="westus", action=RegistryEventAction.PUSH, repository=repository, digest=doomed,
             tag="old")
    # Replicated to West Europe (the same image), then deleted there by a user; West US has not seen the delete.
    europe = region_client(contoso, "westeurope")
    assert image_push(europe, repository, "old", payload=payload) == doomed
    assert europe.delete_manifest(repository, doomed)
    notified(contoso, region="westeurope", action=RegistryEventAction.DELETE, repository=repository, digest=doomed)
    assert "old" in region_client(contoso, "westus").tags(repository)
    with us_client(endpoint, contoso) as us:
        listed = us.get(f"/v2/{repository}/tags/list")
    assert listed.status_code == 200, listed.text
    assert listed.json()["tags"] == ["1.0"]
