"""What makes the copy engine fast, proven on real registries: no HEAD for what cannot be there,
transfers that read ahead of the upload (and still abort on a corrupt blob)."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from replication.oci import DigestMismatchError, RegistryClient, copy_registry
from replication.oci import copy as copy_module
from replication.oci.copy import READ_AHEAD_MIN_SIZE, _read_ahead
from replication.oci.corpus import build_corpus, push_corpus
from tests.test_oci.test_copy import (  # noqa: F401
    blob_path,
    read_tag_digests,
    seeded,
    small_corpus,
    small_corpus_storage,
)


class CountingClient(RegistryClient):
    """The real client, counting the existence checks it makes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.heads = Counter()

    def head_blob(self, repository, digest):
        self.heads["blob"] += 1
        return super().head_blob(repository, digest)

    def head_manifest(self, repository, reference):
        self.heads["manifest"] += 1
        return super().head_manifest(repository, reference)


def test_a_fresh_target_is_planned_without_a_head_per_blob_or_manifest(seeded):
    target = CountingClient(seeded.target.base_url)

    result = copy_registry(seeded.source, target, repository_prefix="contoso/")

    assert target.heads == Counter()
    assert read_tag_digests(seeded.target_registry.url, seeded.expected) == seeded.expected
    assert result.blobs_uploaded == len(seeded.corpus.unique_blobs())


def test_a_repository_the_target_already_has_is_still_checked_blob_by_blob(seeded):
    # A copy that died before any tag: the blob is in the target's app01, with no tag yet.
    layer_digest, layer = next(iter(seeded.corpus.blobs_by_repository()["app01"].items()))
    seeded.target.upload_blob("contoso/app01", layer_digest, layer.chunks(), layer.size)
    target = CountingClient(seeded.target.base_url)

    result = copy_registry(seeded.source, target, repository_prefix="contoso/")

    assert target.heads["blob"] == len(seeded.corpus.blobs_by_repository()["app01"])
    assert result.blobs_skipped == 1 and result.blobs_uploaded == len(seeded.corpus.unique_blobs()) - 1
    assert read_tag_digests(seeded.target_registry.url, seeded.expected) == seeded.expected


def test_read_ahead_hands_the_readers_error_to_the_consumer():
    def chunks():
        yield b"first"
        raise ValueError("corrupt")

    ahead = _read_ahead(chunks())
    assert next(ahead) == b"first"
    with pytest.raises(ValueError, match="corrupt"):
        next(ahead)


def test_read_ahead_stays_bounded_and_lets_the_reader_go_when_the_consumer_stops():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield b"x" * 1024

    ahead = _read_ahead(endless(), depth=4)
    assert [next(ahead) for _ in range(3)] == [b"x" * 1024] * 3
    ahead.close()  # what httpx does when the upload fails
    assert len(produced) <= 3 + 4 + 1
    assert not [t for t in threading.enumerate() if t.name == "oci-read-ahead"]


@pytest.mark.parametrize("layer_size", [READ_AHEAD_MIN_SIZE - 4096, 3 * READ_AHEAD_MIN_SIZE],
                         ids=["small: read in place", "large: read ahead"])
def test_a_corrupt_blob_is_refused_whether_or_not_it_is_read_ahead(registry_pair, layer_size, monkeypatch):
    source_registry, target_registry = registry_pair
    corpus = build_corpus(61, repositories=1, tags_per_repo=1, shared_base_layers=0, unique_layer_size=layer_size,
                          multi_platform_repositories=0)
    with RegistryClient(source_registry.url) as client:
        push_corpus(client, corpus, "contoso/")
    layer = corpus.images[0].blobs[-1]
    stored = blob_path(source_registry, layer.digest)
    data = bytearray(stored.read_bytes())
    data[-2000] ^= 0xFF  # same size, different content
    stored.write_bytes(bytes(data))
    readers = []
    original = copy_module._read_ahead
    monkeypatch.setattr(copy_module, "_read_ahead", lambda chunks: readers.append(1) or original(chunks))

    with RegistryClient(source_registry.url) as source, RegistryClient(target_registry.url) as target:
        with pytest.raises(DigestMismatchError, match=layer.digest):
            copy_registry(source, target, repository_prefix="contoso/")
        assert not target.blob_exists("contoso/app00", layer.digest)
        assert target.head_manifest("contoso/app00", "1.0") is None
    assert len(readers) == (1 if layer.size >= READ_AHEAD_MIN_SIZE else 0)  # the config is small too
