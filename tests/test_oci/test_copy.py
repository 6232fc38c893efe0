"""The copy engine between real Distribution registries."""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from replication.dataplane import DistributionProcess, find_free_port
from replication.oci import (
    CopyError,
    DigestMismatchError,
    ImageRef,
    RegistryClient,
    copy_images,
    copy_registry,
    delete_image,
    digest_of,
)
from replication.oci.constants import DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_CONFIG, OCI_MANIFEST
from replication.oci.corpus import KiB, MiB, Corpus, GeneratedLayer, StaticBlob, build_corpus, push_corpus

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Seeded:
    source_registry: DistributionProcess
    target_registry: DistributionProcess
    source: RegistryClient
    target: RegistryClient
    corpus: Corpus
    expected: dict[tuple[str, str], str]  # (repository, tag) -> digest, from the generator


@pytest.fixture(scope="session")
def small_corpus() -> Corpus:
    """3 repositories, 6 tagged images (7 tags), app00 multi-platform, base layers shared."""
    return build_corpus(11, repositories=3, tags_per_repo=2, base_layer_size=256 * KiB, unique_layer_size=128 * KiB)


@pytest.fixture(scope="session")
def small_corpus_storage(small_corpus, tmp_path_factory) -> Path:
    """A Distribution storage directory holding small_corpus under contoso/, pushed once."""
    root = tmp_path_factory.mktemp("corpus")
    registry = DistributionProcess("corpus", port=find_free_port(), storage_dir=root / "data", http_secret="corpus")
    with registry:
        push_corpus(RegistryClient(registry.url), small_corpus, "contoso/")
    return root / "data"


@pytest.fixture
def seeded(registry_factory, small_corpus, small_corpus_storage) -> Seeded:
    """A source registry holding the small corpus (a fresh copy per test), an empty target."""
    source_registry = registry_factory("source", content=small_corpus_storage)
    target_registry = registry_factory("target")
    return Seeded(
        source_registry,
        target_registry,
        RegistryClient(source_registry.url),
        RegistryClient(target_registry.url),
        small_corpus,
        small_corpus.tags("contoso/"),
    )


def read_tag_digests(registry_url: str, tags) -> dict[tuple[str, str], str]:
    """Digest of each tag's manifest bytes, read with a plain httpx client (not the engine's)."""
    digests = {}
    with httpx.Client(base_url=registry_url, headers={"Accept": MANIFEST_ACCEPT}) as http:
        for repository, tag in tags:
            response = http.get(f"/v2/{repository}/manifests/{tag}")
            if response.status_code == 200:
                digests[(repository, tag)] = "sha256:" + hashlib.sha256(response.content).hexdigest()
    return digests


def blob_path(registry: DistributionProcess, digest: str) -> Path:
    hex_digest = digest.split(":")[1]
    return Path(registry.storage_dir, "docker/registry/v2/blobs/sha256", hex_digest[:2], hex_digest, "data")


def image(corpus: Corpus, repository: str, tag: str):
    return next(image for image in corpus.images if image.repository == repository and tag in image.tags)


def test_copy_registry_copies_every_tag_byte_for_byte(seeded, skopeo):
    result = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    assert read_tag_digests(seeded.target_registry.url, seeded.expected) == seeded.expected
    assert sorted((c.repository, c.tag) for c in result.copied if c.tag) == sorted(seeded.expected)
    with httpx.Client(base_url=seeded.target_registry.url) as http:
        for repository, blobs in seeded.corpus.blobs_by_repository().items():
            for digest, blob in blobs.items():
                response = http.head(f"/v2/contoso/{repository}/blobs/{digest}")
                assert (response.status_code, int(response.headers["Content-Length"])) == (200, blob.size)
    # And as another client sees them: an image manifest and a multi-platform index.
    host = seeded.target_registry.url.removeprefix("http://")
    for repository, tag in [("contoso/app01", "1.0"), ("contoso/app00", "latest")]:
        raw = subprocess.run(
            [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repository}:{tag}"],
            check=True, capture_output=True, timeout=30,
        ).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == seeded.expected[(repository, tag)]


def test_shared_layers_are_uploaded_once_and_mounted_elsewhere(seeded):
    result = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    unique = seeded.corpus.unique_blobs()
    placements = sum(len(blobs) for blobs in seeded.corpus.blobs_by_repository().values())
    assert result.blobs_uploaded == len(unique)
    assert result.blobs_mounted == placements - len(unique) > 0
    assert result.bytes_uploaded == seeded.corpus.total_blob_bytes
    progress = result.progress
    assert progress.blobs_done == progress.blobs_total == placements
    assert progress.bytes_done == progress.bytes_total == result.bytes_uploaded


def test_a_second_run_copies_nothing(seeded):
    copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")
    again = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    assert again.copied == []
    assert (again.progress.manifests_total, again.progress.blobs_total, again.progress.bytes_total) == (0, 0, 0)
    assert again.tags_skipped == len(seeded.expected)


def test_a_changed_tag_is_copied_again(seeded):
    copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")
    moved = image(seeded.corpus, "app01", "1.0")
    seeded.source.put_manifest("contoso/app01", "latest", moved.body, moved.media_type)

    again = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    assert [(c.repository, c.tag, c.digest) for c in again.copied] == [("contoso/app01", "latest", moved.digest)]
    assert again.progress.blobs_total == 0  # its content was there already
    assert seeded.target.head_manifest("contoso/app01", "latest").digest == moved.digest


KILLABLE_COPY = """
import sys, threading, time
from replication.oci import RegistryClient, copy_registry

printing = threading.Lock()

class SlowTarget(RegistryClient):
    def upload_blob(self, *args, **kwargs):
        digest = super().upload_blob(*args, **kwargs)
        with printing:  # one line per upload, never two interleaved
            print("uploaded", flush=True)
        time.sleep(0.3)  # so the parent kills us mid-copy, not after it
        return digest

copy_registry(RegistryClient(sys.argv[1]), SlowTarget(sys.argv[2]), repository_prefix="contoso/", concurrency=2)
print("finished", flush=True)
"""


def test_a_killed_copy_finishes_when_run_again(seeded):
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_COPY, seeded.source.base_url, seeded.target.base_url],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        for _ in range(3):
            assert child.stdout.readline().strip() == "uploaded"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert read_tag_digests(seeded.target_registry.url, seeded.expected) != seeded.expected

    resumed = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    assert 0 < resumed.blobs_uploaded < len(seeded.corpus.unique_blobs())
    assert read_tag_digests(seeded.target_registry.url, seeded.expected) == seeded.expected
    assert copy_registry(seeded.source, seeded.target, repository_prefix="contoso/").copied == []


def test_a_failure_midway_stops_the_copy_and_a_rerun_finishes(seeded):
    class FailingTarget(RegistryClient):
        uploads = 0

        def upload_blob(self, *args, **kwargs):
            FailingTarget.uploads += 1
            if FailingTarget.uploads == 3:
                raise RuntimeError("disk full")
            return super().upload_blob(*args, **kwargs)

    with pytest.raises(RuntimeError, match="disk full"):
        copy_registry(seeded.source, FailingTarget(seeded.target.base_url), repository_prefix="contoso/", concurrency=1)
    assert FailingTarget.uploads == 3  # stopped at the failure

    rerun = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")
    assert rerun.blobs_uploaded == len(seeded.corpus.unique_blobs()) - 2
    assert read_tag_digests(seeded.target_registry.url, seeded.expected) == seeded.expected


def test_progress_reports_totals_first_and_all_done_last(seeded):
    reports = []
    copy_registry(seeded.source, seeded.target, repository_prefix="contoso/", on_progress=reports.append)

    first, last = reports[0], reports[-1]
    assert (first.manifests_done, first.blobs_done, first.bytes_done) == (0, 0, 0)
    assert first.bytes_total == seeded.corpus.total_blob_bytes
    assert first.manifests_total == len(seeded.expected) + 2 * 2  # tag writes + the index children
    assert last.manifests_done == last.manifests_total and last.blobs_done == last.blobs_total
    assert last.bytes_done == last.bytes_total


def test_raising_from_on_progress_cancels_the_copy(seeded):
    def cancel(progress):
        raise CopyError("job canceled")

    with pytest.raises(CopyError, match="job canceled"):
        copy_registry(seeded.source, seeded.target, repository_prefix="contoso/", on_progress=cancel)
    assert list(seeded.target.catalog()) == []


def test_a_corrupt_source_blob_is_refused_and_never_reaches_the_target(seeded):
    layer = image(seeded.corpus, "app01", "1.0").blobs[-1]
    stored = blob_path(seeded.source_registry, layer.digest)
    data = bytearray(stored.read_bytes())
    data[-2000] ^= 0xFF  # same size, different content
    stored.write_bytes(bytes(data))

    with pytest.raises(DigestMismatchError, match=layer.digest):
        copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")
    assert not seeded.target.blob_exists("contoso/app01", layer.digest)
    assert seeded.target.head_manifest("contoso/app01", "1.0") is None


def test_an_index_with_a_missing_child_is_skipped_with_the_reason(seeded):
    index = image(seeded.corpus, "app00", "1.0")
    missing = index.children[1].digest
    seeded.source.delete_manifest("contoso/app00", missing)

    result = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/")

    assert result.skipped_images == [f"contoso/app00:1.0 (its child manifest {missing} is missing in the source)"]
    assert seeded.target.head_manifest("contoso/app00", "1.0") is None
    others = {key: digest for key, digest in seeded.expected.items() if key != ("contoso/app00", "1.0")}
    assert read_tag_digests(seeded.target_registry.url, others) == others


def test_import_maps_repository_names(seeded):
    copy_registry(seeded.source, seeded.target, repository_prefix="contoso/", target_prefix="imported/")

    assert list(seeded.target.catalog()) == [f"imported/{name}" for name in seeded.corpus.repositories]
    renamed = {(f"imported/{repository[8:]}", tag): digest for (repository, tag), digest in seeded.expected.items()}
    assert read_tag_digests(seeded.target_registry.url, renamed) == renamed


def test_copy_images_by_tag_to_new_tags_and_by_digest_untagged(seeded):
    index = image(seeded.corpus, "app00", "latest")
    single = image(seeded.corpus, "app01", "1.0")

    result = copy_images(
        seeded.source,
        seeded.target,
        [
            ImageRef("contoso/app00", "latest", "mirror/web", ("stable", "v1")),
            ImageRef("contoso/app01", single.digest, "mirror/api"),
        ],
    )

    assert sorted(seeded.target.tags("mirror/web")) == ["stable", "v1"]
    assert seeded.target.head_manifest("mirror/web", "stable").digest == index.digest
    assert seeded.target.head_manifest("mirror/api", single.digest).media_type == OCI_MANIFEST
    assert seeded.target.tags("mirror/api") == []
    assert ("mirror/api", None, single.digest) in [(c.repository, c.tag, c.digest) for c in result.copied]


def test_copy_images_of_a_missing_image_says_which(seeded):
    with pytest.raises(CopyError, match="contoso/app01:9.9"):
        copy_images(seeded.source, seeded.target, [ImageRef("contoso/app01", "9.9")])


def test_delete_image_removes_the_manifest_and_tolerates_a_second_delete(seeded):
    digest = seeded.expected[("contoso/app01", "1.0")]
    copy_images(seeded.source, seeded.target, [ImageRef("contoso/app01", "1.0")])

    assert delete_image(seeded.target, "contoso/app01", digest)
    assert seeded.target.head_manifest("contoso/app01", "1.0") is None
    assert not delete_image(seeded.target, "contoso/app01", digest)


def test_docker_schema2_images_written_by_skopeo_are_copied(seeded, skopeo):
    host = seeded.source_registry.url.removeprefix("http://")
    subprocess.run(
        [skopeo, "copy", "--format", "v2s2", "--src-tls-verify=false", "--dest-tls-verify=false",
         f"docker://{host}/contoso/app01:1.0", f"docker://{host}/docker/app:1.0"],
        check=True, capture_output=True, timeout=60,
    )
    source_digest = seeded.source.head_manifest("docker/app", "1.0").digest

    copy_images(seeded.source, seeded.target, [ImageRef("docker/app", "1.0")])

    copied = seeded.target.head_manifest("docker/app", "1.0")
    assert (copied.digest, copied.media_type) == (source_digest, DOCKER_MANIFEST)


def test_after_skopeo_sync_there_is_nothing_left_to_copy(seeded, skopeo, tmp_path):
    source_host = seeded.source_registry.url.removeprefix("http://")
    target_host = seeded.target_registry.url.removeprefix("http://")
    images = {f"contoso/{name}": [] for name in seeded.corpus.repositories}
    (tmp_path / "sync.yml").write_text(yaml.safe_dump({source_host: {"tls-verify": False, "images": images}}))
    subprocess.run(
        [skopeo, "sync", "--all", "--preserve-digests", "--src", "yaml", "--dest", "docker",
         "--dest-tls-verify=false", str(tmp_path / "sync.yml"), f"{target_host}/mirror"],
        check=True, capture_output=True, timeout=60,
    )

    # Without --scoped, skopeo keeps only the last path component: contoso/app00 -> mirror/app00.
    result = copy_registry(seeded.source, seeded.target, repository_prefix="contoso/", target_prefix="mirror/")

    assert result.copied == [] and result.tags_skipped == len(seeded.expected)


LARGE_BLOB_COPY = """
import json, re, sys
from replication.oci import ImageRef, RegistryClient, copy_images

def status_kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", open("/proc/self/status").read())[1])

source, target = RegistryClient(sys.argv[1]), RegistryClient(sys.argv[2])
assert source.ping() and target.ping()  # imports and connections warm before the baseline
# Reset the high-water mark: ru_maxrss would carry the parent's (pytest's) RSS over exec.
open("/proc/self/clear_refs", "w").write("5")
baseline = status_kib("VmRSS")
result = copy_images(source, target, [ImageRef("big/app", "1.0")])
print(json.dumps({"growth_kib": status_kib("VmHWM") - baseline, "bytes": result.bytes_uploaded}))
"""


def test_streaming_a_large_blob_keeps_memory_flat(seeded):
    layer = GeneratedLayer("large-blob-test", 256 * MiB)
    rootfs = {"type": "layers", "diff_ids": [layer.digest]}
    config = StaticBlob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": rootfs}).encode(), OCI_CONFIG)
    seeded.source.upload_blob("big/app", layer.digest, layer.chunks(), layer.size)
    seeded.source.push_blob("big/app", config.data)
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer.descriptor()]}
    ).encode()
    seeded.source.put_manifest("big/app", "1.0", manifest, OCI_MANIFEST)

    child = subprocess.run(
        [sys.executable, "-c", LARGE_BLOB_COPY, seeded.source.base_url, seeded.target.base_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)

    assert report["bytes"] == layer.size + config.size
    assert report["growth_kib"] * KiB < 32 * MiB, f"peak RSS grew {report['growth_kib'] // 1024} MiB copying 256 MiB"
    assert seeded.target.head_blob("big/app", layer.digest).size == layer.size


def test_an_index_and_its_children_in_one_batch_read_each_manifest_once(seeded):
    """An event batch carries a pushed index and its children as images of their own, planned side by side."""
    from tests.test_oci.test_client import RequestLog

    index = image(seeded.corpus, "app00", "1.0")
    source_log, target_log = RequestLog(), RequestLog()
    with httpx.Client(event_hooks={"request": [source_log]}) as source_http, \
            httpx.Client(event_hooks={"request": [target_log]}) as target_http:
        source = RegistryClient(seeded.source_registry.url, http=source_http)
        target = RegistryClient(seeded.target_registry.url, http=target_http)
        refs = [ImageRef("contoso/app00", child.digest) for child in index.children]
        copy_images(source, target, [*refs, ImageRef("contoso/app00", index.digest)])

    for digest in [index.digest, *(child.digest for child in index.children)]:
        path = f"/v2/contoso/app00/manifests/{digest}"
        assert len(source_log.paths(path)) == 1, f"{digest} read {len(source_log.paths(path))} times"
        assert len([url for url in target_log.urls if url.path == path]) == 2  # one HEAD, one PUT
    assert seeded.target.head_manifest("contoso/app00", index.digest).digest == index.digest


def test_a_handed_over_image_is_not_written_but_everything_it_needs_is(seeded):
    """Event copies write a tagged image's own manifest themselves, under its tag, after their last check."""
    index = image(seeded.corpus, "app00", "1.0")
    heard = []
    result = copy_images(seeded.source, seeded.target, [ImageRef("contoso/app00", index.digest, hand_over=True)],
                         on_copied=lambda copied, manifest: heard.append((copied, manifest)))

    assert seeded.target.head_manifest("contoso/app00", index.digest) is None  # not written
    assert all(seeded.target.head_manifest("contoso/app00", child.digest) for child in index.children)
    assert heard[-1][0].digest == index.digest and heard[-1][1].digest == index.digest  # heard last, with its bytes
    assert result.progress.manifests_done == result.progress.manifests_total == 3
    seeded.target.put_manifest("contoso/app00", "1.0", heard[-1][1].body, heard[-1][1].media_type)
    assert seeded.target.head_manifest("contoso/app00", "1.0").digest == index.digest


def test_a_handed_over_manifest_that_another_image_refers_to_is_written(seeded):
    index = image(seeded.corpus, "app00", "1.0")
    child = index.children[0]
    copy_images(seeded.source, seeded.target, [ImageRef("contoso/app00", child.digest, hand_over=True),
                                               ImageRef("contoso/app00", index.digest)])
    assert seeded.target.head_manifest("contoso/app00", child.digest) is not None  # the index needed it
    assert seeded.target.head_manifest("contoso/app00", index.digest) is not None


def test_the_engine_names_each_manifest_as_it_is_written_children_before_their_index(seeded):
    index = image(seeded.corpus, "app00", "1.0")
    heard, written = [], []
    result = copy_images(seeded.source, seeded.target, [ImageRef("contoso/app00", index.digest)],
                         on_copied=lambda copied, manifest: (heard.append(copied), written.append(manifest)))
    assert heard == result.copied
    # With the bytes written, byte for byte: what the caller tags them with needs no GET.
    assert [digest_of(manifest.body) for manifest in written] == [copied.digest for copied in heard]
    assert written[-1].body == seeded.source.get_manifest("contoso/app00", index.digest).body
    assert {copied.digest for copied in heard[:2]} == {child.digest for child in index.children}
    assert heard[-1].digest == index.digest and heard[-1].tag is None and len(heard) == 3


def test_copied_images_ask_whether_each_blob_is_there_as_its_upload_starts(seeded):
    """A push's images are mostly new to the target: no HEAD before each blob, but one POST that mounts it from
    its own repository (201: there already, nothing sent) or opens its upload (202), which the PUT then fills."""
    first, second = (image(seeded.corpus, "app01", tag) for tag in ("1.0", "1.1"))
    copy_images(seeded.source, seeded.target, [ImageRef("contoso/app01", "1.0")])
    sent = []
    with httpx.Client(event_hooks={"request": [lambda request: sent.append((request.method, request.url))]}) as http:
        target = RegistryClient(seeded.target_registry.url, http=http)
        result = copy_images(seeded.source, target, [ImageRef("contoso/app01", "1.1")])

    shared = {blob.digest for blob in first.blobs} & {blob.digest for blob in second.blobs}
    missing = {blob.digest for blob in second.blobs} - shared
    assert shared and missing
    assert not [url for method, url in sent if method == "HEAD" and "/blobs/" in url.path]
    posts = [url for method, url in sent if method == "POST"]
    assert sorted(url.params["mount"] for url in posts) == sorted(shared | missing)
    assert all(url.params["from"] == "contoso/app01" for url in posts)
    assert len([url for method, url in sent if method == "PUT" and "/blobs/uploads/" in url.path]) == len(missing)
    assert (result.blobs_skipped, result.blobs_uploaded) == (len(shared), len(missing))
    assert result.progress.bytes_done == result.progress.bytes_total == sum(
        blob.size for blob in second.blobs if blob.digest in missing)
    # The blobs there already are out of the totals, as in copy_registry: a retried job's row adds its earlier
    # attempts' blobs to these (jobs.progress), so counting them here too showed them twice.
    assert result.progress.blobs_done == result.progress.blobs_total == len(missing)
    assert read_tag_digests(seeded.target_registry.url, [("contoso/app01", "1.1")]) == {
        ("contoso/app01", "1.1"): second.digest}
