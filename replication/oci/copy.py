"""The copy engine: everything a source registry has that a target lacks, byte for byte.

Plan first (tags, HEADs, manifests, blob presence: totals are known before a byte moves),
then execute a dependency graph on a bounded pool of threads:

- each missing blob digest is streamed from the source to the target once, its digest
  checked while it streams, and mounted into every other target repository that needs it;
- a manifest is PUT once its blobs and child manifests are in, its tags with it.

Everything is keyed on digests and checked with HEAD, so running it again copies nothing,
and a run killed halfway finishes on the next run.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .client import DigestMismatchError, Manifest, RegistryClient, RegistryError, new_hasher
from .constants import FOREIGN_LAYER_MEDIA_TYPES, IMAGE_MEDIA_TYPES, INDEX_MEDIA_TYPES
from .reference import is_digest

PROGRESS_INTERVAL = 0.5  # seconds between on_progress calls
PROGRESS_BYTES = 1 << 20  # a transfer counts its bytes once per MiB, not once per socket read
READ_AHEAD_CHUNKS = 16  # per transfer, of at most READ_SIZE (256 KiB) each: 4 MiB in flight at most
# Below this a blob comes in a read or a few (configs, small layers): a read-ahead thread would only cost its start.
READ_AHEAD_MIN_SIZE = 1 << 20


class CopyError(Exception):
    """The copy cannot go on; the message says which image and why."""


@dataclass
class CopyProgress:
    """Counters for a job's progress bar. Manifests count manifest writes (one per tag)."""

    manifests_total: int = 0
    manifests_done: int = 0
    blobs_total: int = 0
    blobs_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0


@dataclass(frozen=True)
class ImageRef:
    """One image to copy: reference is a tag or a digest in the source repository.

    target_tags defaults to the reference when it is a tag; with a digest and no target
    tags the manifest is copied untagged.
    """

    repository: str
    reference: str
    target_repository: str | None = None
    target_tags: tuple[str, ...] = ()
    # The image's own manifest is handed over (on_copied, with its bytes) instead of written, once everything it
    # needs is in the target: the caller writes it under its tag after its own last check (event copies).
    hand_over: bool = False


@dataclass(frozen=True)
class CopiedImage:
    repository: str  # in the target
    tag: str | None  # None: copied by digest, untagged
    digest: str


@dataclass
class CopyResult:
    progress: CopyProgress
    copied: list[CopiedImage] = field(default_factory=list)
    tags_skipped: int = 0  # already at the source's digest in the target
    manifests_skipped: int = 0  # child or untagged manifests the target already had
    blobs_skipped: int = 0  # (repository, blob) pairs the target already had
    blobs_uploaded: int = 0
    blobs_mounted: int = 0
    bytes_uploaded: int = 0
    skipped_images: list[str] = field(default_factory=list)  # "repo:tag (why)": broken or unsupported
    seconds: float = 0.0


def copy_registry(
    source: RegistryClient,
    target: RegistryClient,
    *,
    repository_prefix: str = "",
    target_prefix: str | None = None,
    concurrency: int = 8,
    on_progress: Callable[[CopyProgress], None] | None = None,
) -> CopyResult:
    """Copy every tag of every source repository under repository_prefix.

    target_prefix replaces repository_prefix in target names (`src/app` -> `imported/app`);
    None keeps the names. Raise from on_progress to stop the copy.
    """
    started = time.monotonic()

    def target_name(repository: str) -> str:
        return repository if target_prefix is None else target_prefix + repository[len(repository_prefix):]

    repositories = list(source.catalog(repository_prefix))
    # A repository missing from the target's catalog holds nothing there (Distribution lists a
    # repository as soon as it has a blob): no HEADs for its tags, child manifests or blobs.
    # Without a catalog (a registry may refuse it) every one of them is checked.
    in_target = _target_catalog(target, repository_prefix if target_prefix is None else target_prefix)
    empty = frozenset() if in_target is None else frozenset(map(target_name, repositories)) - in_target
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        source_tags = list(pool.map(source.tags, repositories))
        # One tag list per target repository spares a HEAD per tag the target does not have.
        target_tags = list(pool.map(lambda name: [] if name in empty else target.tags(name),
                                    map(target_name, repositories)))
    images = []
    known_tags: dict[str, set[str]] = {}
    for repository, tags, present in zip(repositories, source_tags, target_tags):
        known_tags[target_name(repository)] = set(present)
        images += [ImageRef(repository, tag, target_name(repository)) for tag in tags]
    return _copy(source, target, images, concurrency, on_progress, started, missing_ok=True, known_tags=known_tags,
                 empty=empty)


def _target_catalog(target: RegistryClient, prefix: str) -> frozenset[str] | None:
    """The target's repositories under prefix, or None when it will not list them."""
    try:
        return frozenset(target.catalog(prefix))
    except RegistryError as error:
        if error.status_code in (401, 403, 404, 405):
            return None
        raise


def copy_images(
    source: RegistryClient,
    target: RegistryClient,
    images: Iterable[ImageRef],
    *,
    concurrency: int = 8,
    on_progress: Callable[[CopyProgress], None] | None = None,
    on_copied: Callable[[CopiedImage, Manifest], None] | None = None,
) -> CopyResult:
    """Copy the given images (a push event, an import); a missing source image is an error.

    on_copied hears each manifest as it is written (from a transfer thread), children before their index, with
    the bytes written, so a caller can act on an image (tag it) before the rest of the batch has arrived; an image
    asking for a hand-over (ImageRef.hand_over) is heard once everything it needs is in, and not written.
    """
    started = time.monotonic()
    # A push's images are mostly new to the target: each upload asks whether its blob is there as it starts.
    return _copy(source, target, list(images), concurrency, on_progress, started, missing_ok=False, known_tags={},
                 on_copied=on_copied, ask_first=False)


def delete_image(target: RegistryClient, repository: str, digest: str) -> bool:
    """Delete a manifest by digest (tags go with it); False when it was already gone."""
    return target.delete_manifest(repository, digest)


def tag_manifest(target: RegistryClient, repository: str, tag: str, digest: str, *,
                 manifest: Manifest | None = None) -> bool:
    """Point tag at the manifest digest, already in the repository; True when it wrote the tag.

    With `manifest` (the bytes the engine wrote by digest, or handed over unwritten) the tag is PUT at once: one
    request, which also stores the manifest.
    Otherwise HEAD first, so a tag already at digest costs one request and no write; then the manifest is read
    by digest (verified) and PUT under the tag byte for byte, so the tag's digest is exactly `digest`.
    """
    if manifest is None:
        present = target.head_manifest(repository, tag)
        if present is not None and present.digest == digest:
            return False
        manifest = target.get_manifest(repository, digest)
    elif manifest.digest != digest:
        raise ValueError(f"the manifest given for {repository}:{tag} is {manifest.digest}, not {digest}")
    target.put_manifest(repository, tag, manifest.body, manifest.media_type)
    return True


# ---- planning ---------------------------------------------------------------------------


class _AskedOnce:
    """A client's manifest reads for the plans of one run: each (read, repository, reference) goes to the registry
    once, even from plans running side by side (an event batch carries an index and its children as images of
    their own, and the index's plan reads its children too). An error is everyone's who asked."""

    def __init__(self, client: RegistryClient):
        self._client = client
        self._lock = threading.Lock()
        self._answers: dict[tuple, Future] = {}

    def _once(self, key: tuple, read: Callable):
        with self._lock:
            answer = self._answers.get(key)
            mine = answer is None
            if mine:
                answer = self._answers[key] = Future()
        if mine:
            try:
                answer.set_result(read())
            except BaseException as error:  # noqa: BLE001 - raised below, to every caller
                answer.set_exception(error)
        return answer.result()

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        return self._once(("get", repository, reference), lambda: self._client.get_manifest(repository, reference))

    def head_manifest(self, repository: str, reference: str):
        return self._once(("head", repository, reference), lambda: self._client.head_manifest(repository, reference))


@dataclass
class _ManifestNode:
    source_repository: str
    repository: str
    digest: str
    media_type: str
    body: bytes
    tags: list[str]
    children: list[str]  # digests of child manifests this run must PUT first
    blobs: list[tuple[str, int]]  # (digest, size) of config and layers
    hand_over: bool = False  # every image wanting it asked for a hand-over (ImageRef.hand_over)

    @property
    def key(self) -> tuple[str, str]:
        return (self.repository, self.digest)

    @property
    def writes(self) -> int:
        return max(1, len(self.tags))


@dataclass
class _Plan:
    manifests: dict[tuple[str, str], _ManifestNode] = field(default_factory=dict)
    tags_skipped: int = 0
    manifests_skipped: int = 0
    skipped_images: list[str] = field(default_factory=list)

    def merge(self, other: "_Plan") -> None:
        for key, node in other.manifests.items():
            mine = self.manifests.setdefault(key, node)
            if mine is not node:
                mine.tags.extend(tag for tag in node.tags if tag not in mine.tags)
                mine.hand_over = mine.hand_over and node.hand_over
        self.tags_skipped += other.tags_skipped
        self.manifests_skipped += other.manifests_skipped
        self.skipped_images.extend(other.skipped_images)


def _plan_image(
    source: RegistryClient, target: RegistryClient, image: ImageRef, missing_ok: bool, known_tags: set[str] | None,
    empty: frozenset[str] = frozenset(),
) -> _Plan:
    """What copying one image needs; known_tags (the target repository's tags, if listed)
    spares a HEAD for each tag the target does not have at all."""
    plan = _Plan()
    repository = image.target_repository or image.repository
    try:
        # One GET by tag (digest verified from the header) costs what a HEAD costs here.
        manifest = source.get_manifest(image.repository, image.reference)
    except RegistryError as error:
        if error.status_code != 404:
            raise
        if missing_ok:
            return plan  # deleted since the tag list was read
        raise CopyError(f"the source has no image {image.repository}:{image.reference}") from error
    tags = list(image.target_tags) or ([] if is_digest(image.reference) else [image.reference])
    wanted = []
    for tag in tags:
        present = target.head_manifest(repository, tag) if known_tags is None or tag in known_tags else None
        if present is not None and present.digest == manifest.digest:
            plan.tags_skipped += 1
        else:
            wanted.append(tag)
    if tags and not wanted:
        return plan
    if not tags and repository not in empty and target.head_manifest(repository, manifest.digest) is not None:
        plan.manifests_skipped += 1
        return plan
    try:
        _plan_manifest(source, target, image.repository, repository, manifest, wanted, plan, empty)
        plan.manifests[(repository, manifest.digest)].hand_over = image.hand_over and not wanted
    except _Uncopyable as why:
        plan.manifests.clear()
        plan.skipped_images.append(f"{image.repository}:{image.reference} ({why})")
    return plan


class _Uncopyable(Exception):
    """An image this engine leaves alone (and says why) rather than failing the whole copy."""


def _plan_manifest(
    source: RegistryClient,
    target: RegistryClient,
    source_repository: str,
    repository: str,
    manifest: Manifest,
    tags: list[str],
    plan: _Plan,
    empty: frozenset[str] = frozenset(),
) -> None:
    document = json.loads(manifest.body)
    media_type = manifest.media_type or document.get("mediaType", "")
    node = _ManifestNode(source_repository, repository, manifest.digest, media_type, manifest.body, tags, [], [])
    if media_type in INDEX_MEDIA_TYPES:
        for child in document.get("manifests", []):
            if (repository, child["digest"]) in plan.manifests:
                node.children.append(child["digest"])
            elif repository in empty or target.head_manifest(repository, child["digest"]) is None:
                try:
                    child_manifest = source.get_manifest(source_repository, child["digest"])  # verified
                except RegistryError as error:
                    if error.status_code == 404:
                        raise _Uncopyable(f"its child manifest {child['digest']} is missing in the source") from error
                    raise
                _plan_manifest(source, target, source_repository, repository, child_manifest, [], plan, empty)
                node.children.append(child["digest"])
            else:
                plan.manifests_skipped += 1
    elif media_type in IMAGE_MEDIA_TYPES:
        for blob in [document["config"], *document.get("layers", [])]:
            if blob.get("mediaType") not in FOREIGN_LAYER_MEDIA_TYPES:
                node.blobs.append((blob["digest"], int(blob["size"])))
    else:
        raise _Uncopyable(f"unsupported manifest media type {media_type or '(none)'}")
    plan.manifests[node.key] = node


@dataclass
class _BlobTask:
    digest: str
    size: int
    source_repository: str
    upload_to: str | None  # None: some target repository has it already
    mount_from: str | None
    mount_into: list[str]
    maybe_there: bool = False  # not asked first: upload_to may have it (the upload starts by asking, _copy)


def _plan_blobs(
    target: RegistryClient, plan: _Plan, pool: ThreadPoolExecutor, empty: frozenset[str] = frozenset(), *,
    ask_first: bool = True,
) -> tuple[list[_BlobTask], int]:
    """One task per missing digest: upload it once, mount it everywhere else it is needed.

    ask_first: a HEAD of every blob before anything moves, so the totals are exact from the start (a resync,
    where most blobs are there). Without it (a push's few new images, where most are not) each upload starts
    by asking instead, in the POST that opens it: one request less per missing blob.
    """
    needed: dict[tuple[str, str], tuple[int, str]] = {}  # (target repo, digest) -> (size, source repo)
    for node in plan.manifests.values():
        for digest, size in node.blobs:
            needed.setdefault((node.repository, digest), (size, node.source_repository))
    pairs = list(needed)
    if ask_first:
        present = dict(zip(pairs, pool.map(lambda pair: pair[0] not in empty and target.blob_exists(*pair), pairs)))
    else:
        present = dict.fromkeys(pairs, False)
    by_digest: dict[str, dict] = {}
    for (repository, digest), (size, source_repository) in needed.items():
        entry = by_digest.setdefault(digest, {"size": size, "source": source_repository, "have": [], "missing": []})
        entry["have" if present[(repository, digest)] else "missing"].append(repository)
    tasks = []
    for digest, entry in by_digest.items():
        if not entry["missing"]:
            continue
        upload_to = None if entry["have"] else entry["missing"][0]
        mount_from = entry["have"][0] if entry["have"] else upload_to
        mount_into = [r for r in entry["missing"] if r != upload_to]
        maybe_there = not ask_first and upload_to is not None and upload_to not in empty
        tasks.append(_BlobTask(digest, entry["size"], entry["source"], upload_to, mount_from, mount_into, maybe_there))
    skipped = sum(present.values())
    return tasks, skipped


# ---- execution --------------------------------------------------------------------------


class _Tracker:
    """Thread-safe counters; calls on_progress at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, result: CopyResult, on_progress: Callable[[CopyProgress], None] | None):
        self.result = result
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._last_report = 0.0

    def add(self, *, counts: dict | None = None, copied: CopiedImage | None = None, **progress: int) -> None:
        """Add to CopyProgress fields (keywords) and CopyResult counters (counts)."""
        with self._lock:
            for name, value in progress.items():
                setattr(self.result.progress, name, getattr(self.result.progress, name) + value)
            for name, value in (counts or {}).items():
                setattr(self.result, name, getattr(self.result, name) + value)
            if copied:
                self.result.copied.append(copied)
            now = time.monotonic()
            if self._on_progress is None or now - self._last_report < PROGRESS_INTERVAL:
                return
            self._last_report = now
            snapshot = dataclasses.replace(self.result.progress)
        with self._report_lock:  # one caller of on_progress at a time
            self._on_progress(snapshot)

    def report(self) -> None:
        if self._on_progress is None:
            return
        with self._lock:
            self._last_report = time.monotonic()
            snapshot = dataclasses.replace(self.result.progress)
        with self._report_lock:
            self._on_progress(snapshot)


class _Task:
    def __init__(self, priority: tuple, run: Callable[[], None]):
        self.priority = priority
        self.run = run
        self.waiting = 0  # unfinished dependencies
        self.dependents: list[_Task] = []


def _run_graph(tasks: list[_Task], concurrency: int) -> None:
    """Run tasks on `concurrency` threads, each once all its dependencies are done.

    A priority queue (manifests before blobs, big blobs first) rather than a plain pool,
    so a task becomes runnable the moment its last dependency finishes.
    """
    ready: queue.PriorityQueue = queue.PriorityQueue()
    lock = threading.Lock()
    state = {"remaining": len(tasks), "error": None}
    order = itertools.count()  # tie-breaker: tasks do not compare
    stop = (-1,)

    def schedule(task: _Task) -> None:
        ready.put((task.priority, next(order), task))

    def finish_all() -> None:
        for _ in range(concurrency):
            ready.put((stop, next(order), None))

    def worker() -> None:
        while True:
            _, _, task = ready.get()
            if task is None:
                return
            try:
                task.run()
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                with lock:
                    if state["error"] is None:
                        state["error"] = error
                        finish_all()
                return
            with lock:
                if state["error"] is not None:
                    return
                for dependent in task.dependents:
                    dependent.waiting -= 1
                    if dependent.waiting == 0:
                        schedule(dependent)
                state["remaining"] -= 1
                if state["remaining"] == 0:
                    finish_all()

    if not tasks:
        return
    for task in tasks:
        if task.waiting == 0:
            schedule(task)
    threads = [threading.Thread(target=worker, name=f"oci-copy-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if state["error"] is not None:
        raise state["error"]


def _read_ahead(chunks: Iterator[bytes], depth: int = READ_AHEAD_CHUNKS) -> Iterator[bytes]:
    """Iterate chunks on a helper thread, at most `depth` chunks ahead of the consumer.

    The source read and the hash then overlap the target write instead of taking turns with
    it; memory stays bounded by depth chunks whatever the blob's size. An exception of the
    reader (a corrupt blob) is raised in the consumer, which aborts the upload.
    """
    ahead: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(end)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            put(error)

    reader = threading.Thread(target=pump, name="oci-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ahead.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer stopped early (the upload failed): let the reader go
        reader.join()


def _verified_chunks(response, digest: str, size: int, where: str, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    """Pass the blob through in chunks, hashing as it goes.

    The last chunk is held back until the hash is checked, so a corrupt blob is never
    completed in the target: the upload is aborted instead.
    """
    hasher = new_hasher(digest)
    received = 0
    held = None
    unreported = 0  # passed on but not yet counted
    for chunk in response.iter_raw():  # as read from the socket (up to READ_SIZE): re-chunking only copies
        if held is not None:
            yield held
            unreported += len(held)
            if unreported >= PROGRESS_BYTES:
                on_bytes(unreported)
                unreported = 0
        hasher.update(chunk)
        received += len(chunk)
        if received > size:
            break
        held = chunk
    actual = f"{hasher.name}:{hasher.hexdigest()}"
    if received != size or actual != digest:
        raise DigestMismatchError(
            f"blob {digest} read from {where} is corrupt: got {received} bytes hashing to {actual}, "
            f"expected {size} bytes hashing to {digest}"
        )
    if held is not None:
        yield held
        unreported += len(held)
    if unreported:
        on_bytes(unreported)


def _copy(
    source: RegistryClient,
    target: RegistryClient,
    images: list[ImageRef],
    concurrency: int,
    on_progress: Callable[[CopyProgress], None] | None,
    started: float,
    *,
    missing_ok: bool,
    known_tags: dict[str, set[str]],
    empty: frozenset[str] = frozenset(),
    on_copied: Callable[[CopiedImage, Manifest], None] | None = None,
    ask_first: bool = True,
) -> CopyResult:
    concurrency = max(1, concurrency)
    plan = _Plan()
    planning_source, planning_target = _AskedOnce(source), _AskedOnce(target)
    with ThreadPoolExecutor(concurrency) as pool:
        plans = pool.map(
            lambda image: _plan_image(
                planning_source, planning_target, image, missing_ok,
                known_tags.get(image.target_repository or image.repository), empty,
            ),
            images,
        )
        for image_plan in plans:
            plan.merge(image_plan)
        blob_tasks, blobs_skipped = _plan_blobs(target, plan, pool, empty, ask_first=ask_first)

    result = CopyResult(
        progress=CopyProgress(
            manifests_total=sum(node.writes for node in plan.manifests.values()),
            blobs_total=sum((1 if task.upload_to else 0) + len(task.mount_into) for task in blob_tasks),
            bytes_total=sum(task.size for task in blob_tasks if task.upload_to),
        ),
        tags_skipped=plan.tags_skipped,
        manifests_skipped=plan.manifests_skipped,
        blobs_skipped=blobs_skipped,
        skipped_images=plan.skipped_images,
    )
    tracker = _Tracker(result, on_progress)
    tracker.report()  # totals, before anything moves

    def transfer(task: _BlobTask, repository: str, location: str | None = None) -> None:
        where = f"{source.base_url}/{task.source_repository}"
        handed = False
        try:
            with source.open_blob(task.source_repository, task.digest) as response:
                chunks = _verified_chunks(response, task.digest, task.size, where, lambda n: tracker.add(bytes_done=n))
                handed = True  # upload_blob cancels the session itself if its PUT fails
                target.upload_blob(repository, task.digest,
                                   _read_ahead(chunks) if task.size >= READ_AHEAD_MIN_SIZE else chunks, task.size,
                                   location=location)
        except BaseException:
            if location and not handed:  # the source failed before the upload began: close the opened session
                target.cancel_upload(location)
            raise
        tracker.add(blobs_done=1, counts={"blobs_uploaded": 1, "bytes_uploaded": task.size})

    def copy_blob(task: _BlobTask) -> None:
        if task.upload_to and task.maybe_there:
            # A mount from the repository itself: 201 if the blob is there already, else the session to fill.
            location = target.begin_upload(task.upload_to, mount=(task.digest, task.upload_to))
            if location is None:  # there already: out of the totals, as a blob the plan found there (_plan_blobs)
                tracker.add(blobs_total=-1, bytes_total=-task.size, counts={"blobs_skipped": 1})
            else:
                transfer(task, task.upload_to, location)
        elif task.upload_to:
            transfer(task, task.upload_to)
        for repository in task.mount_into:
            location = target.begin_upload(repository, mount=(task.digest, task.mount_from))
            if location is None:
                tracker.add(blobs_done=1, counts={"blobs_mounted": 1})
            else:  # the registry refused the mount: send the bytes after all, into the session it opened
                tracker.add(bytes_total=task.size)
                transfer(task, repository, location)

    def put_manifest(node: _ManifestNode) -> None:
        for reference in node.tags or [node.digest]:
            if not node.hand_over:
                target.put_manifest(node.repository, reference, node.body, node.media_type)
            copied = CopiedImage(node.repository, reference if node.tags else None, node.digest)
            tracker.add(manifests_done=1, copied=copied)
            if on_copied:
                on_copied(copied, Manifest(node.body, node.media_type, node.digest))

    # A manifest another one of this run refers to is written here whatever was asked: its parent needs it first.
    for node in plan.manifests.values():
        for child in node.children:
            plan.manifests[(node.repository, child)].hand_over = False
    blob_graph = {
        task.digest: _Task((1, -task.size), lambda task=task: copy_blob(task)) for task in blob_tasks
    }
    manifest_graph = {
        key: _Task((0,), lambda node=node: put_manifest(node)) for key, node in plan.manifests.items()
    }
    for key, node in plan.manifests.items():
        dependencies = [blob_graph[digest] for digest, _ in node.blobs if digest in blob_graph]
        dependencies += [manifest_graph[(node.repository, child)] for child in node.children]
        for dependency in {id(d): d for d in dependencies}.values():
            dependency.dependents.append(manifest_graph[key])
            manifest_graph[key].waiting += 1

    _run_graph([*blob_graph.values(), *manifest_graph.values()], concurrency)
    result.seconds = time.monotonic() - started
    tracker.report()
    return result
