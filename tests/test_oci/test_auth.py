"""Basic auth and the bearer-token challenge, against Distribution and a strict fake."""
from __future__ import annotations

import warnings

import pytest

from replication.oci import RegistryClient, RegistryError, copy_registry, digest_of
from replication.oci.corpus import build_corpus, push_corpus

from .fake_registry import FakeRegistry
from .test_client import push_tiny_image

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # crypt: the stdlib's only bcrypt, gone in 3.13
    import crypt


def test_bearer_challenge_gets_a_token_with_basic_credentials_and_retries():
    with FakeRegistry(username="alice", password="s3cret") as fake:
        client = RegistryClient(fake.url, username="alice", password="s3cret")
        digest = client.push_blob("contoso/app", b"layer bytes")

        assert client.blob_exists("contoso/app", digest)
        first = fake.token_requests[0]
        assert first["service"] == "fake-registry"
        assert first["scopes"] == ["repository:contoso/app:pull,push"]
        assert first["authorization"].startswith("Basic ")
        # The upload went to the relative Location with its _state query kept (the fake checks).
        assert fake.blobs[digest] == b"layer bytes"


def test_tokens_are_cached_per_scope_and_a_token_to_push_serves_a_pull():
    with FakeRegistry() as fake:
        client = RegistryClient(fake.url)
        for i in range(3):
            client.push_blob("contoso/app", f"blob {i}".encode())
        for i in range(3):
            assert client.blob_exists("contoso/app", digest_of(f"blob {i}".encode()))
        assert client.blob_exists("contoso/other", digest_of(b"never pushed")) is False
        scopes = [request["scopes"] for request in fake.token_requests]
        assert scopes == [["repository:contoso/app:pull,push"], ["repository:contoso/other:pull"]]


def test_a_new_scope_gets_its_token_before_its_request_once_the_registry_has_challenged():
    with FakeRegistry(username="alice", password="s3cret") as fake:
        client = RegistryClient(fake.url, username="alice", password="s3cret")
        for i in range(5):
            client.push_blob(f"contoso/app{i}", b"layer")
            assert client.blob_exists(f"contoso/app{i}", digest_of(b"layer"))
        challenged = [path for method, path in fake.requests if method == "POST"]
        assert len(challenged) == 5 + 1  # the first repository's POST met the one challenge, then went again
        assert len(fake.token_requests) == 5  # one per repository: its push token serves its HEAD too
        assert fake.unauthorized == 1

        # A token asked ahead that the realm refuses is asked again by the challenge, which says why.
        intruder = RegistryClient(fake.url, username="alice", password="wrong", tokens=client._tokens)
        with pytest.raises(RegistryError, match="token request") as caught:
            intruder.push_blob("contoso/new", b"layer")
        assert caught.value.status_code == 401


def test_an_upload_host_elsewhere_with_a_realm_of_its_own_gets_no_credentials():
    """A registry whose upload Location names another host: that host's challenge names its own realm, which would
    be sent the username and password; it gets nothing, and the upload fails saying why."""
    with FakeRegistry(username="mallory", password="mallory") as elsewhere, \
            FakeRegistry(username="alice", password="s3cret", uploads_at=elsewhere) as registry:
        client = RegistryClient(registry.url, username="alice", password="s3cret")
        with pytest.raises(RegistryError, match="another host, which does not take this registry's tokens"):
            client.push_blob("contoso/app", b"layer bytes")
        assert elsewhere.authorizations == [] and elsewhere.token_requests == []
        # Its /v2/ challenge, the upload (refused, with no credentials sent), the upload's cancellation.
        assert [method for method, _ in elsewhere.requests] == ["GET", "PUT", "DELETE"]


def test_a_wrong_password_is_reported_by_the_token_request():
    with FakeRegistry(username="alice", password="s3cret") as fake:
        client = RegistryClient(fake.url, username="alice", password="wrong")
        with pytest.raises(RegistryError) as caught:
            client.tags("contoso/app")
        assert caught.value.status_code == 401
        assert "token request" in str(caught.value) and "UNAUTHORIZED" in caught.value.codes


def test_tags_follow_link_headers_beyond_one_page():
    # Distribution 2.8 returns every tag in one response whatever `n` says; the spec pages.
    with FakeRegistry() as fake:
        client = RegistryClient(fake.url)
        tags = [f"1.{i}" for i in range(7)]
        push_tiny_image(client, "contoso/app", *tags)
        client.tags("contoso/app")  # gets the pull token, so the pages below are the only requests
        fake.requests.clear()

        assert client.tags("contoso/app", page_size=3) == sorted(tags)
        pages = [path for method, path in fake.requests if "/tags/list" in path]
        assert len(pages) == 3 and "last=1.2" in pages[1]


def test_basic_auth_against_distribution_htpasswd(registry_factory, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n")
    registry = registry_factory(auth={"htpasswd": {"realm": "test", "path": str(htpasswd)}})

    anonymous = RegistryClient(registry.url)
    assert not anonymous.ping()
    with pytest.raises(RegistryError, match="username and password"):
        anonymous.tags("contoso/app")
    with pytest.raises(RegistryError) as caught:
        RegistryClient(registry.url, username="alice", password="wrong").tags("contoso/app")
    assert caught.value.status_code == 401

    client = RegistryClient(registry.url, username="alice", password="s3cret")
    push_tiny_image(client, "contoso/app", "1.0")
    assert client.tags("contoso/app") == ["1.0"]


def test_copy_between_registries_that_challenge_for_bearer_tokens(registry_factory):
    # Distribution's `silly` auth answers every request without Authorization with a real
    # Bearer challenge (realm, service, scope, including the mount's source repository).
    with FakeRegistry() as source_tokens, FakeRegistry() as target_tokens:
        def silly(token_server):
            return {"silly": {"realm": f"{token_server.url}/token", "service": "distribution"}}

        source_registry = registry_factory("source", auth=silly(source_tokens))
        target_registry = registry_factory("target", auth=silly(target_tokens))
        source = RegistryClient(source_registry.url, username="sync", password="pw")
        target = RegistryClient(target_registry.url, username="sync", password="pw")
        corpus = build_corpus(5, repositories=2, tags_per_repo=1, base_layer_size=4096, unique_layer_size=4096)
        pushed = push_corpus(source, corpus, "contoso/")

        result = copy_registry(source, target, repository_prefix="contoso/")

        assert result.blobs_mounted > 0
        for (repository, tag), digest in pushed.items():
            assert target.head_manifest(repository, tag).digest == digest
        scopes = [" ".join(request["scopes"]) for request in target_tokens.token_requests]
        assert all(request["service"] == "distribution" for request in target_tokens.token_requests)
        assert all(request["authorization"].startswith("Basic ") for request in target_tokens.token_requests)
        # The mount into app01 asks for push there and pull on app00, where the blob was uploaded: once the
        # registry has challenged, in the client's own words before the request (the spec's `pull,push`).
        assert "repository:contoso/app01:pull,push repository:contoso/app00:pull" in scopes
        assert len(scopes) == len(set(scopes))  # one token per scope, then the cache
