"""The scrub engine: read back what a registry stores and check every byte against its digest.

A registry's content is addressed by digest, so a stored blob or manifest whose bytes no longer
hash to its digest (flipped on disk) is corrupted: every pull of it fails. The scrub walks the
manifests of every tag under a prefix (index children too), then streams each unique blob once
and hashes it; nothing is buffered beyond one read. Repair (`blob_replace`, `manifest_replace`)
sends the bytes of a copy that verifies, streamed and checked as they go.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .client import DigestMismatchError, RegistryClient, RegistryError
from .constants import FOREIGN_LAYER_MEDIA_TYPES, IMAGE_MEDIA_TYPES, INDEX_MEDIA_TYPES
from .copy import CopyProgress, _read_ahead, _verified_chunks

BLOB = "blob"
MANIFEST = "manifest"
CORRUPT = "corrupt"
MISSING = "missing"


@dataclass
class Finding:
    """One blob or manifest that a pull from this registry would not get right."""

    digest: str
    kind: str  # BLOB or MANIFEST
    problem: str  # CORRUPT or MISSING
    repositories: list[str]  # where the registry's images need it
    size: int = 0  # of a blob, as its manifest says
    detail: str = ""


@dataclass
class ScrubResult:
    progress: CopyProgress
    manifests_checked: int = 0
    blobs_checked: int = 0
    bytes_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "repo:tag (why)": manifests the scrub cannot read


def scrub_registry(client: RegistryClient, *, repository_prefix: str = "", concurrency: int = 4,
                   on_progress: Callable[[CopyProgress], None] | None = None) -> ScrubResult:
    """Check every manifest of every tag under repository_prefix and every blob they list, each digest once."""
    result = ScrubResult(progress=CopyProgress())
    lock = threading.Lock()
    manifests: dict[str, list[str]] = {}  # digest -> repositories whose tags reach it
    blobs: dict[str, tuple[int, list[str]]] = {}  # digest -> (size, repositories)

    def report() -> None:
        if on_progress is not None:
            on_progress(CopyProgress(**vars(result.progress)))

    def walk(repository: str, reference: str, expected: str | None) -> None:
        """Read one manifest (verified against its digest) and what it lists."""
        try:
            descriptor = client.head_manifest(repository, reference) if expected is None else None
        except RegistryError as error:
            result.skipped.append(f"{repository}:{reference} ({error})")
            return
        if expected is None and descriptor is None:
            return  # the tag went away since it was listed
        digest = expected or descriptor.digest
        with lock:
            seen = digest in manifests
            manifests.setdefault(digest, [])
            if repository not in manifests[digest]:
                manifests[digest].append(repository)
            if not seen:
                result.progress.manifests_total += 1
        if seen:
            return
        try:
            manifest = client.get_manifest(repository, digest)
        except DigestMismatchError as error:
            _add_finding(result, lock, Finding(digest, MANIFEST, CORRUPT, manifests[digest], detail=str(error)))
            return
        except RegistryError as error:
            if error.status_code != 404:
                raise
            _add_finding(result, lock, Finding(digest, MANIFEST, MISSING, manifests[digest], detail=str(error)))
            return
        finally:
            with lock:
                result.progress.manifests_done += 1
                result.manifests_checked += 1
        document = json.loads(manifest.body)
        media_type = manifest.media_type or document.get("mediaType", "")
        if media_type in INDEX_MEDIA_TYPES:
            for child in document.get("manifests", []):
                walk(repository, child["digest"], child["digest"])
        elif media_type in IMAGE_MEDIA_TYPES:
            for blob in [document["config"], *document.get("layers", [])]:
                if blob.get("mediaType") in FOREIGN_LAYER_MEDIA_TYPES:
                    continue
                with lock:
                    size, repositories = blobs.setdefault(blob["digest"], (int(blob["size"]), []))
                    if repository not in repositories:
                        repositories.append(repository)
        else:
            result.skipped.append(f"{repository}@{digest} (unsupported manifest media type {media_type or '(none)'})")

    def check_blob(digest: str) -> None:
        size, repositories = blobs[digest]
        problem, detail = blob_check(client, repositories[0], digest, size,
                                     on_bytes=lambda n: _count(result, lock, report, bytes_done=n))
        with lock:
            result.blobs_checked += 1
            result.progress.blobs_done += 1
            if problem is None:
                result.bytes_checked += size
        if problem is not None:
            _add_finding(result, lock, Finding(digest, BLOB, problem, repositories, size=size, detail=detail))
        report()

    repositories = list(client.catalog(repository_prefix))
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        tag_lists = list(pool.map(client.tags, repositories))
        list(pool.map(lambda item: walk(*item, None),
                      [(repository, tag) for repository, tags in zip(repositories, tag_lists) for tag in tags]))
        result.progress.blobs_total = len(blobs)
        result.progress.bytes_total = sum(size for size, _ in blobs.values())
        report()  # totals, before a blob is read
        # The largest first, so the run does not end waiting on one big blob.
        list(pool.map(check_blob, sorted(blobs, key=lambda digest: -blobs[digest][0])))
    report()
    return result


def _finding(read: Callable[[], None]) -> tuple[str | None, str]:
    """Run a read that verifies its digest: (None, "") if it does, else (CORRUPT|MISSING, why)."""
    try:
        read()
    except DigestMismatchError as error:
        return CORRUPT, str(error)
    except RegistryError as error:
        if error.status_code == 404:
            return MISSING, str(error)
        raise
    return None, ""


def blob_check(client: RegistryClient, repository: str, digest: str, size: int,
               on_bytes: Callable[[int], None] = lambda n: None) -> tuple[str | None, str]:
    """(None, "") when the registry serves the blob's bytes hashing to its digest; else (CORRUPT|MISSING, why)."""
    def read():
        with client.open_blob(repository, digest) as response:
            for _ in _verified_chunks(response, digest, size, f"{client.base_url}/{repository}", on_bytes):
                pass
    return _finding(read)


def manifest_check(client: RegistryClient, repository: str, digest: str) -> tuple[str | None, str]:
    """(None, "") when the registry serves the manifest's bytes hashing to its digest; else (CORRUPT|MISSING, why)."""
    return _finding(lambda: client.get_manifest(repository, digest))


def blob_replace(source: RegistryClient, source_repository: str, target: RegistryClient, repositories: list[str],
                 digest: str, size: int) -> None:
    """Stream the source's copy (checked as it streams) into the target's first repository; mount it into the
    others. The target must not store the digest any more: Distribution drops an upload of bytes it has."""
    with source.open_blob(source_repository, digest) as response:
        chunks = _verified_chunks(response, digest, size, f"{source.base_url}/{source_repository}", lambda n: None)
        target.upload_blob(repositories[0], digest, _read_ahead(chunks), size)
    for repository in repositories[1:]:
        if not target.mount_blob(repository, digest, repositories[0]):
            with source.open_blob(source_repository, digest) as response:
                chunks = _verified_chunks(response, digest, size, source.base_url, lambda n: None)
                target.upload_blob(repository, digest, _read_ahead(chunks), size)


def manifest_replace(source: RegistryClient, source_repository: str, target: RegistryClient,
                     repositories: list[str], digest: str) -> None:
    """PUT the source's manifest bytes (verified by the client) by digest into each target repository."""
    manifest = source.get_manifest(source_repository, digest)
    for repository in repositories:
        target.put_manifest(repository, digest, manifest.body, manifest.media_type)


def _add_finding(result: ScrubResult, lock: threading.Lock, finding: Finding) -> None:
    with lock:
        result.findings.append(finding)


def _count(result: ScrubResult, lock: threading.Lock, report: Callable[[], None], *, bytes_done: int) -> None:
    with lock:
        result.progress.bytes_done += bytes_done
    report()
