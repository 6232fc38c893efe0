"""tag_manifest: the guarded tag write of event copies, against a real Distribution registry."""
from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from replication.oci import RegistryClient, RegistryError, digest_of, tag_manifest
from replication.oci.client import Manifest
from replication.oci.constants import MANIFEST_ACCEPT, OCI_CONFIG, OCI_MANIFEST
from tests.test_oci.test_client import RequestLog

REPOSITORY = "contoso/web"


def push_untagged(client: RegistryClient, label: str) -> str:
    """A config-only manifest stored by digest only, with odd whitespace that re-serializing would lose."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "label": label}).encode()
    config_digest = client.push_blob(REPOSITORY, config)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                       "layers": []}, indent=3).encode()
    digest = digest_of(body)
    client.put_manifest(REPOSITORY, digest, body, OCI_MANIFEST)
    return digest


def tag_digest(registry_url: str, tag: str) -> str | None:
    """The digest of the tag's manifest bytes, read with plain httpx (not the engine's client)."""
    response = httpx.get(f"{registry_url}/v2/{REPOSITORY}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
    return "sha256:" + hashlib.sha256(response.content).hexdigest() if response.status_code == 200 else None


@pytest.fixture
def registry(registry_factory):
    return registry_factory()


@pytest.fixture
def logged_client(registry):
    log = RequestLog()
    with httpx.Client(event_hooks={"request": [log]}) as http:
        yield RegistryClient(registry.url, http=http), log


def test_a_new_tag_is_written_with_the_manifest_bytes_of_the_digest(registry, logged_client):
    client, _ = logged_client
    digest = push_untagged(client, "one")
    assert tag_manifest(client, REPOSITORY, "1.0", digest) is True
    assert tag_digest(registry.url, "1.0") == digest


def test_a_tag_at_another_digest_is_moved_to_the_digest(registry, logged_client):
    client, _ = logged_client
    old, new = push_untagged(client, "old"), push_untagged(client, "new")
    tag_manifest(client, REPOSITORY, "latest", old)
    assert tag_manifest(client, REPOSITORY, "latest", new) is True
    assert tag_digest(registry.url, "latest") == new


def test_a_tag_already_at_the_digest_costs_one_head_and_no_write(registry, logged_client):
    client, log = logged_client
    digest = push_untagged(client, "same")
    tag_manifest(client, REPOSITORY, "stable", digest)
    log.urls.clear()
    assert tag_manifest(client, REPOSITORY, "stable", digest) is False
    assert [str(url.path) for url in log.urls] == [f"/v2/{REPOSITORY}/manifests/stable"]
    assert tag_digest(registry.url, "stable") == digest


def test_a_digest_the_repository_lacks_is_an_error_and_writes_no_tag(registry, logged_client):
    client, _ = logged_client
    push_untagged(client, "present")
    missing = "sha256:" + "0" * 64
    with pytest.raises(RegistryError) as error:
        tag_manifest(client, REPOSITORY, "ghost", missing)
    assert error.value.status_code == 404
    assert tag_digest(registry.url, "ghost") is None


def test_with_the_bytes_in_hand_the_tag_is_one_put_byte_for_byte(registry, logged_client):
    client, log = logged_client
    digest = push_untagged(client, "in-hand")
    manifest = client.get_manifest(REPOSITORY, digest)
    log.urls.clear()
    assert tag_manifest(client, REPOSITORY, "2.0", digest, manifest=manifest) is True
    assert [str(url.path) for url in log.urls] == [f"/v2/{REPOSITORY}/manifests/2.0"]
    assert tag_digest(registry.url, "2.0") == digest


def test_bytes_of_another_digest_are_refused_before_any_request(registry, logged_client):
    client, log = logged_client
    digest, other = push_untagged(client, "wanted"), push_untagged(client, "other")
    manifest = client.get_manifest(REPOSITORY, other)
    log.urls.clear()
    with pytest.raises(ValueError, match="not " + digest):
        tag_manifest(client, REPOSITORY, "3.0", digest, manifest=manifest)
    assert log.urls == [] and tag_digest(registry.url, "3.0") is None
