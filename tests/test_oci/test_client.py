"""RegistryClient against a real Distribution registry."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from replication.choices import CopyFailureReason
from replication.dataplane import DistributionProcess, find_free_port
from replication.metrics import copy_failure_reason
from replication.oci import DigestMismatchError, RegistryClient, RegistryError, digest_of
from replication.oci.constants import OCI_CONFIG, OCI_MANIFEST


def push_tiny_image(client: RegistryClient, repository: str, *tags: str, label: str = "") -> str:
    """A config-only image (no layers): enough for catalog, tags and manifest tests."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "label": label}).encode()
    config_digest = client.push_blob(repository, config)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [],
        }
    ).encode()
    for tag in tags or (digest_of(body),):
        client.put_manifest(repository, tag, body, OCI_MANIFEST)
    return digest_of(body)


class RequestLog:
    """Counts the requests an httpx.Client sends, by path."""

    def __init__(self):
        self.urls: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> None:
        self.urls.append(request.url)

    def paths(self, path: str) -> list[httpx.URL]:
        return [url for url in self.urls if url.path == path]


@pytest.fixture
def registry(registry_factory):
    return registry_factory()


@pytest.fixture
def logged_client(registry):
    log = RequestLog()
    http = httpx.Client(event_hooks={"request": [log]})
    yield RegistryClient(registry.url, http=http), log
    http.close()


def test_ping_is_true_for_a_registry_and_false_for_a_closed_port(registry):
    assert RegistryClient(registry.url).ping()
    assert not RegistryClient(f"http://127.0.0.1:{find_free_port()}", timeout=1).ping()


def test_catalog_follows_link_headers_beyond_one_page(logged_client):
    client, log = logged_client
    names = [f"contoso/app{i}" for i in range(7)] + ["other/app"]
    for name in names:
        push_tiny_image(client, name, "1.0")
    log.urls.clear()

    assert sorted(client.catalog(page_size=3)) == sorted(names)
    pages = log.paths("/v2/_catalog")
    assert len(pages) == 3
    assert all(url.params["n"] == "3" for url in pages)
    assert list(client.catalog("contoso/", page_size=3)) == sorted(names[:7])


def test_tags_are_complete_although_distribution_ignores_n(logged_client):
    # Distribution 2.8 answers tags/list in one response whatever `n` says (paging with
    # Link is proven against the fake registry in test_auth.py).
    client, log = logged_client
    tags = [f"1.{i}" for i in range(7)]
    push_tiny_image(client, "contoso/app", *tags)

    assert sorted(client.tags("contoso/app", page_size=2)) == sorted(tags)


def test_page_size_is_capped_at_distributions_limit(logged_client):
    client, log = logged_client
    push_tiny_image(client, "contoso/app", "1.0")
    # Distribution refuses n=5000 with PAGINATION_NUMBER_INVALID; the client asks for 1000.
    assert list(client.catalog(page_size=5000)) == ["contoso/app"]
    assert log.paths("/v2/_catalog")[-1].params["n"] == "1000"


def test_tags_of_an_unknown_repository_are_empty(registry):
    assert RegistryClient(registry.url).tags("nobody/here") == []


def test_registry_error_carries_status_and_oci_error_code(registry):
    client = RegistryClient(registry.url)
    with pytest.raises(RegistryError) as caught:
        client.get_manifest("nobody/here", "1.0")
    assert caught.value.status_code == 404
    assert caught.value.codes == ["NAME_UNKNOWN"] or caught.value.codes == ["MANIFEST_UNKNOWN"]
    assert "nobody/here:1.0" in str(caught.value) and "404" in str(caught.value)
    assert not caught.value.storage_full


@pytest.fixture
def full_registry(tmp_path):
    """A registry whose storage is a 1 MiB tmpfs (root only: it mounts one)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    storage = tmp_path / "small"
    storage.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(storage)], check=True)
    registry = DistributionProcess("full", port=find_free_port(), storage_dir=storage / "data",
                                   http_secret="full", log_path=tmp_path / "full.log")
    try:
        with registry:
            yield registry
    finally:
        subprocess.run(["umount", "-l", str(storage)], check=True)


def test_a_registry_out_of_space_is_named_so_not_an_unknown_error(full_registry):
    client = RegistryClient(full_registry.url)
    with pytest.raises(RegistryError) as caught:  # a streamed upload, then a small one into the full storage
        client.push_blob("contoso/app", os.urandom(2 * 1024 * 1024))
    assert caught.value.storage_full and caught.value.status_code == 500
    assert "no space left on device" in str(caught.value)
    assert copy_failure_reason(caught.value) == CopyFailureReason.NO_SPACE
    with pytest.raises(RegistryError) as small:
        client.push_blob("contoso/app", b"a config")
    assert small.value.storage_full, small.value.errors


def test_manifest_round_trip_by_tag_and_digest_then_delete(registry):
    client = RegistryClient(registry.url)
    digest = push_tiny_image(client, "contoso/app", "1.0", "latest")

    found = client.head_manifest("contoso/app", "1.0")
    assert (found.digest, found.media_type) == (digest, OCI_MANIFEST)
    body, media_type, fetched_digest = client.get_manifest("contoso/app", digest)
    assert fetched_digest == digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert found.size == len(body) and media_type == OCI_MANIFEST

    assert client.delete_manifest("contoso/app", digest)
    assert client.head_manifest("contoso/app", "1.0") is None
    assert client.head_manifest("contoso/app", "latest") is None
    assert not client.delete_manifest("contoso/app", digest)  # already gone: not an error


def test_blob_upload_streams_chunks_with_and_without_a_length(registry):
    client = RegistryClient(registry.url)
    data = bytes(range(256)) * 12_289  # ~3 MiB, not a multiple of the chunk size
    digest = digest_of(data)
    chunks = [data[i : i + 1_000_000] for i in range(0, len(data), 1_000_000)]

    client.upload_blob("contoso/sized", digest, iter(chunks), len(data))
    client.upload_blob("contoso/chunked", digest, iter(chunks))  # Transfer-Encoding: chunked
    for repository in ("contoso/sized", "contoso/chunked"):
        with client.open_blob(repository, digest) as response:
            assert b"".join(response.iter_raw(65536)) == data
    assert client.head_blob("contoso/sized", digest).size == len(data)


def test_upload_with_the_wrong_digest_is_refused_by_the_registry(registry):
    client = RegistryClient(registry.url)
    with pytest.raises(RegistryError) as caught:
        client.upload_blob("contoso/app", digest_of(b"something else"), [b"these bytes"], 11)
    assert caught.value.codes == ["DIGEST_INVALID"]
    assert not client.blob_exists("contoso/app", digest_of(b"these bytes"))


def test_mount_links_an_existing_blob_and_reports_a_refused_one(registry):
    client = RegistryClient(registry.url)
    digest = client.push_blob("contoso/one", b"shared layer")

    assert client.mount_blob("contoso/two", digest, "contoso/one")
    assert client.blob_exists("contoso/two", digest)
    assert not client.mount_blob("contoso/three", digest_of(b"never pushed"), "contoso/one")
    assert not client.blob_exists("contoso/three", digest_of(b"never pushed"))


def test_get_manifest_by_digest_detects_corrupt_content(registry):
    client = RegistryClient(registry.url)
    digest = push_tiny_image(client, "contoso/app", "1.0")
    hex_digest = digest.split(":")[1]
    stored = Path(registry.storage_dir, "docker/registry/v2/blobs/sha256", hex_digest[:2], hex_digest, "data")
    stored.write_bytes(stored.read_bytes().replace(b"layers", b"Layers"))

    with pytest.raises(DigestMismatchError, match="hashing to"):
        client.get_manifest("contoso/app", digest)


def test_shared_bearer_tokens_stay_bounded_by_dropping_expired_ones(monkeypatch):
    """A worker keeps one BearerTokens per registry for its whole life: many repositories must not grow it forever."""
    import time

    from replication.oci.client import BearerTokens

    monkeypatch.setattr(BearerTokens, "MAX_SCOPES", 3)
    tokens, now = BearerTokens(), time.monotonic()
    tokens.put("repository:a:pull", "expired", now - 1)
    tokens.put("repository:b:pull", "live", now + 60)
    tokens.put("repository:c:pull", "expired", now - 1)
    tokens.put("repository:d:pull", "new", now + 60)  # full: the expired ones go first
    assert tokens.get("repository:a:pull") == (None, 0.0) and tokens.get("repository:c:pull") == (None, 0.0)
    assert tokens.get("repository:b:pull")[0] == "live" and tokens.get("repository:d:pull")[0] == "new"
    tokens.put("repository:e:pull", "live", now + 60)
    tokens.put("repository:f:pull", "newest", now + 60)  # full of live ones: it starts over
    assert [tokens.get(f"repository:{name}:pull")[0] for name in "bdef"] == [None, None, None, "newest"]
