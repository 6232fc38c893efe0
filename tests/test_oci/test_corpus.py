"""The generated corpus: reproducible, valid tar layers, sizes that scale without memory."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

from replication.oci.constants import OCI_INDEX, OCI_MANIFEST
from replication.oci.corpus import MiB, GeneratedLayer, build_corpus, demo_corpus


def test_the_same_seed_gives_the_same_digests_and_another_seed_does_not():
    first, again, other = build_corpus(3), build_corpus(3), build_corpus(4)
    assert first.tags() == again.tags()
    assert set(first.tags().values()).isdisjoint(other.tags().values())


def test_layers_are_tar_archives_whose_digest_is_their_bytes():
    layer = GeneratedLayer("a seed", 300_000)
    data = b"".join(layer.chunks())

    assert len(data) == layer.size and layer.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        (member,) = archive.getmembers()
        assert member.size == 300_000 and len(archive.extractfile(member).read()) == 300_000


def test_large_layers_are_made_chunk_by_chunk():
    layer = GeneratedLayer("big", 64 * MiB)
    assert max(len(chunk) for chunk in layer.chunks()) <= MiB


def test_images_reference_their_blobs_and_indexes_their_platform_images():
    corpus = build_corpus(1, repositories=2, tags_per_repo=1, multi_platform_repositories=1)
    index = corpus.images[0]
    document = json.loads(index.body)

    assert index.media_type == OCI_INDEX and index.tags == ["1.0", "latest"]
    assert [(m["digest"], m["platform"]["architecture"]) for m in document["manifests"]] == [
        (child.digest, arch) for child, arch in zip(index.children, ["amd64", "arm64"])
    ]
    single = corpus.images[1]
    manifest = json.loads(single.body)
    assert single.media_type == OCI_MANIFEST
    referenced = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    assert referenced == [blob.digest for blob in single.blobs]
    # Base layers are shared by every image of a platform, so copies can mount them.
    assert single.blobs[1].digest == index.children[0].blobs[1].digest


def test_demo_corpus_is_a_few_megabytes_with_one_index():
    demo = demo_corpus()
    assert demo.repositories == ["base/alpine-ish", "public/products/api", "public/products/web"]
    assert ("public/products/web", "latest") in demo.tags() and ("public/products/api", "1.0") in demo.tags()
    assert [image.media_type for image in demo.images].count(OCI_INDEX) == 2  # web 1.0 and 1.2
    assert 1 * MiB < demo.total_blob_bytes < 10 * MiB
