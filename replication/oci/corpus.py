"""Deterministic OCI images for tests, benchmarks and the demo registry; no downloads.

The same seed gives the same bytes, so the same digests, on every machine. Layers are
real tar archives (one file of seeded pseudo-random bytes) produced on demand, chunk by
chunk, so a corpus of several GiB never sits in memory.
"""
from __future__ import annotations

import hashlib
import json
import random
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

from .client import RegistryClient, digest_of
from .constants import OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
_POOL = 1 * MiB  # random bytes drawn per layer; longer payloads are rotations of it
_TAR_BLOCK = 512
_CREATED = "2024-01-01T00:00:00Z"  # fixed, or configs (and digests) would change every run


class GeneratedLayer:
    """A tar archive holding one file of `payload_size` seeded bytes, made on demand."""

    media_type = OCI_LAYER_TAR

    def __init__(self, seed: str, payload_size: int, filename: str = "data.bin"):
        self.seed = seed
        self.payload_size = payload_size
        info = tarfile.TarInfo(f"corpus/{filename}")
        info.size, info.mtime, info.mode = payload_size, 0, 0o644
        self._header = info.tobuf(format=tarfile.USTAR_FORMAT)
        padding = -payload_size % _TAR_BLOCK
        self._trailer = b"\0" * (padding + 2 * _TAR_BLOCK)  # pad the file, then the end-of-archive blocks
        self.size = len(self._header) + payload_size + len(self._trailer)

    def chunks(self) -> Iterator[bytes]:
        yield self._header
        rng = random.Random(hashlib.sha256(self.seed.encode()).digest())
        pool = rng.randbytes(min(_POOL, self.payload_size))
        left = self.payload_size
        while left > 0:
            # Rotating one random pool is ~7x faster than drawing fresh bytes, and blocks still differ.
            start = rng.randrange(len(pool))
            block = (pool[start:] + pool[:start])[:left]
            left -= len(block)
            yield block
        yield self._trailer

    @cached_property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for chunk in self.chunks():
            hasher.update(chunk)
        return f"sha256:{hasher.hexdigest()}"

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class StaticBlob:
    """A small blob held in memory (an image config)."""

    def __init__(self, data: bytes, media_type: str):
        self.data = data
        self.media_type = media_type
        self.size = len(data)
        self.digest = digest_of(data)

    def chunks(self) -> Iterator[bytes]:
        yield self.data

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


Blob = GeneratedLayer | StaticBlob


@dataclass
class CorpusImage:
    """An image manifest, or an image index with its children, in one repository."""

    repository: str  # relative to the prefix it is pushed under
    tags: list[str]
    body: bytes
    media_type: str
    blobs: list[Blob] = field(default_factory=list)  # config then layers (image manifests)
    children: list["CorpusImage"] = field(default_factory=list)  # platform images (indexes)

    @cached_property
    def digest(self) -> str:
        return digest_of(self.body)

    def manifests(self) -> Iterator["CorpusImage"]:
        """Children first, then this one: the order a registry accepts them in."""
        for child in self.children:
            yield from child.manifests()
        yield self


@dataclass
class Corpus:
    images: list[CorpusImage]

    @property
    def repositories(self) -> list[str]:
        return sorted({image.repository for image in self.images})

    def manifests(self) -> Iterator[CorpusImage]:
        for image in self.images:
            yield from image.manifests()

    def blobs_by_repository(self) -> dict[str, dict[str, Blob]]:
        result: dict[str, dict[str, Blob]] = {}
        for manifest in self.manifests():
            for blob in manifest.blobs:
                result.setdefault(manifest.repository, {})[blob.digest] = blob
        return result

    def unique_blobs(self) -> dict[str, Blob]:
        return {digest: blob for blobs in self.blobs_by_repository().values() for digest, blob in blobs.items()}

    @property
    def total_blob_bytes(self) -> int:
        """Bytes of unique blobs. Shared layers are shared objects, so no hashing is needed."""
        unique = {id(blob): blob for manifest in self.manifests() for blob in manifest.blobs}
        return sum(blob.size for blob in unique.values())

    def tags(self, repository_prefix: str = "") -> dict[tuple[str, str], str]:
        """(repository, tag) -> manifest digest, with repository_prefix in front of each name."""
        return {
            (repository_prefix + image.repository, tag): image.digest for image in self.images for tag in image.tags
        }


def _json(document: dict) -> bytes:
    return json.dumps(document, indent=2).encode()


def _platform(platform: str) -> dict:
    os_name, architecture = platform.split("/")[:2]
    return {"architecture": architecture, "os": os_name}


def _image(repository: str, tag: str, platform: str, layers: list[GeneratedLayer]) -> CorpusImage:
    config = StaticBlob(
        _json(
            {
                "created": _CREATED,
                **_platform(platform),
                "config": {
                    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "Cmd": ["/bin/sh"],
                    "Labels": {"org.opencontainers.image.title": repository, "org.opencontainers.image.version": tag},
                },
                # Uncompressed tar layers: the diff id is the layer digest.
                "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
                "history": [{"created": _CREATED, "created_by": f"corpus layer {i}"} for i in range(len(layers))],
            }
        ),
        OCI_CONFIG,
    )
    body = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer.descriptor() for layer in layers],
        }
    )
    return CorpusImage(repository, [], body, OCI_MANIFEST, [config, *layers])


def _index(repository: str, children: list[CorpusImage], platforms: list[str]) -> CorpusImage:
    body = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": child.media_type,
                    "digest": child.digest,
                    "size": len(child.body),
                    "platform": _platform(platform),
                }
                for child, platform in zip(children, platforms)
            ],
        }
    )
    return CorpusImage(repository, [], body, OCI_INDEX, children=children)


def _build(
    seed: int,
    repositories: list[tuple[str, list[list[str]], bool]],  # (name, tag groups, multi-platform)
    *,
    shared_base_layers: int,
    base_layer_size: int,
    layers_per_image: int,
    unique_layer_size: int,
    platforms: tuple[str, ...],
) -> Corpus:
    base = {
        platform: [
            GeneratedLayer(f"{seed}/base/{platform}/{k}", base_layer_size, f"base{k}.bin")
            for k in range(shared_base_layers)
        ]
        for platform in platforms
    }
    images = []
    for repository, tag_groups, multi_platform in repositories:
        for tags in tag_groups:
            built = []
            for platform in platforms if multi_platform else platforms[:1]:
                unique = [
                    GeneratedLayer(f"{seed}/{repository}/{tags[0]}/{platform}/{k}", unique_layer_size, f"app{k}.bin")
                    for k in range(layers_per_image)
                ]
                built.append(_image(repository, tags[0], platform, base[platform] + unique))
            image = _index(repository, built, list(platforms)) if multi_platform else built[0]
            image.tags = list(tags)
            images.append(image)
    return Corpus(images)


def build_corpus(
    seed: int = 0,
    *,
    repositories: int = 3,
    tags_per_repo: int = 2,
    shared_base_layers: int = 2,
    base_layer_size: int = 512 * KiB,
    layers_per_image: int = 1,
    unique_layer_size: int = 256 * KiB,
    multi_platform_repositories: int = 1,
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
) -> Corpus:
    """`repositories` repos named app00, app01, ...; each has tags 1.0 .. 1.N with `latest`
    on the last. The first `multi_platform_repositories` hold image indexes (one image per
    platform); the others single-platform images. Base layers are shared by every image of a
    platform (so cross-repository mounts happen); each image adds its own unique layers.
    """
    spec = []
    for i in range(repositories):
        tag_groups = [[f"1.{j}"] for j in range(tags_per_repo)]
        if tag_groups:
            tag_groups[-1].append("latest")
        spec.append((f"app{i:02d}", tag_groups, i < multi_platform_repositories))
    return _build(
        seed,
        spec,
        shared_base_layers=shared_base_layers,
        base_layer_size=base_layer_size,
        layers_per_image=layers_per_image,
        unique_layer_size=unique_layer_size,
        platforms=platforms,
    )


def benchmark_corpus(seed: int = 1) -> Corpus:
    """About 1.2 GiB of unique blobs in 10 repositories (36 platform images, 6 indexes).

    Building it hashes every layer once (a few seconds); the bytes are made again when pushed.
    """
    return build_corpus(
        seed,
        repositories=10,
        tags_per_repo=3,
        shared_base_layers=3,
        base_layer_size=16 * MiB,
        layers_per_image=2,
        unique_layer_size=16 * MiB,
        multi_platform_repositories=2,
    )


def demo_corpus(seed: int = 2024) -> Corpus:
    """The demo registry's few MB: two products, a base image, one multi-platform index."""
    return _build(
        seed,
        [
            ("public/products/web", [["1.0"], ["1.2", "latest"]], True),
            ("public/products/api", [["1.0"], ["1.1", "latest"]], False),
            ("base/alpine-ish", [["3.19", "latest"]], False),
        ],
        shared_base_layers=1,
        base_layer_size=1 * MiB,
        layers_per_image=1,
        unique_layer_size=256 * KiB,
        platforms=("linux/amd64", "linux/arm64"),
    )


def push_corpus(
    client: RegistryClient, corpus: Corpus, repository_prefix: str = "", *, concurrency: int = 4
) -> dict[tuple[str, str], str]:
    """Push blobs (each uploaded once, mounted elsewhere), then manifests, then tags.

    Returns (repository, tag) -> digest as pushed.
    """
    homes: dict[str, list[str]] = {}  # digest -> repositories needing it
    blobs = corpus.unique_blobs()
    for repository, repo_blobs in corpus.blobs_by_repository().items():
        for digest in repo_blobs:
            homes.setdefault(digest, []).append(repository_prefix + repository)

    def push_blob(digest: str) -> None:
        first, *others = homes[digest]
        if not client.blob_exists(first, digest):
            client.upload_blob(first, digest, blobs[digest].chunks(), blobs[digest].size)
        for repository in others:
            if not client.mount_blob(repository, digest, first):
                client.upload_blob(repository, digest, blobs[digest].chunks(), blobs[digest].size)

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        list(pool.map(push_blob, homes))
    for image in corpus.images:
        repository = repository_prefix + image.repository
        for child in image.children:
            for manifest in child.manifests():
                client.put_manifest(repository, manifest.digest, manifest.body, manifest.media_type)
        for tag in image.tags or [image.digest]:
            client.put_manifest(repository, tag, image.body, image.media_type)
    return corpus.tags(repository_prefix)
