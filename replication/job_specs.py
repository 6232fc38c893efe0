"""The typed spec of each job kind: what a ReplicationJob row's `spec` JSON holds.

Specs are plain frozen dataclasses, checked when a job is recorded (`spec_dump`) and when a
worker reads it back (`spec_load`): a wrong shape is a `SpecError`, never a KeyError deep in
a copy. They live apart from the kind modules (`jobs/kinds/`) because services build them to
record work, and the kind modules import the services: one module for both would be a circle.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import datetime
from typing import ClassVar

from .choices import JobKind, ReplicationOrigin


class SpecError(ValueError):
    """A job spec does not have the shape its kind needs."""


# ---- the parts ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageToCopy:
    repository: str  # with the registry's prefix, as the regional registries name it
    reference: str  # the tag to write, or the digest of an untagged manifest
    digest: str
    pushed_at: datetime  # of the push being carried: "the later push wins" compares it


@dataclasses.dataclass(frozen=True)
class ImageToDelete:
    repository: str
    digest: str


@dataclasses.dataclass(frozen=True)
class ImportSource:
    registry_url: str
    repository: str
    reference: str  # tag or digest
    credentials: str = ""  # sealed with replication.secret_box; erased once the import succeeded


@dataclasses.dataclass(frozen=True)
class ImportTarget:
    repository: str  # with the registry's prefix
    tags: tuple[str, ...]


# ---- one spec per kind --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InitialSyncSpec:
    """Copy everything the source region has under the registry's prefix into a new replica."""

    kind: ClassVar[JobKind] = JobKind.INITIAL_SYNC


@dataclasses.dataclass(frozen=True)
class ResyncSpec:
    """The same full copy again ("Sync again"), e.g. after a failure."""

    kind: ClassVar[JobKind] = JobKind.RESYNC
    trigger: str = ""  # "self-repair" when queued by services.self_repair; empty: someone asked for it


@dataclasses.dataclass(frozen=True)
class EventCopySpec:
    """Copy images pushed in source_region into the job's region (by digest, then the tags)."""

    kind: ClassVar[JobKind] = JobKind.EVENT_COPY
    source_region: str
    images: tuple[ImageToCopy, ...]
    origin: str = ReplicationOrigin.EVENT
    reconcile_run: int | None = None


@dataclasses.dataclass(frozen=True)
class EventDeleteSpec:
    """Delete manifests (by digest) that were deleted elsewhere from the job's region."""

    kind: ClassVar[JobKind] = JobKind.EVENT_DELETE
    images: tuple[ImageToDelete, ...]
    source_region: str = ""
    origin: str = ReplicationOrigin.EVENT
    reconcile_run: int | None = None


@dataclasses.dataclass(frozen=True)
class ImportSpec:
    """Copy one image from any registry into the home region, then fan it out like a push."""

    kind: ClassVar[JobKind] = JobKind.IMPORT
    source: ImportSource
    images: tuple[ImportTarget, ...]


@dataclasses.dataclass(frozen=True)
class PurgeSpec:
    """Delete every manifest under a prefix in the job's region (a deleted replica or registry)."""

    kind: ClassVar[JobKind] = JobKind.PURGE
    repository_prefix: str
    remove_replica: bool = False  # delete the replica row once its region is empty


@dataclasses.dataclass(frozen=True)
class ScrubSpec:
    """Read and hash every blob and manifest the replica's images need in the job's region; repair what fails
    from a region whose copy verifies. The findings go to its ScrubRun."""

    kind: ClassVar[JobKind] = JobKind.SCRUB
    scrub_run: int
    trigger: str = ""  # "schedule" when beat queued it (SCRUB_INTERVAL_SECONDS); empty: someone asked for it


JobSpec = InitialSyncSpec | ResyncSpec | EventCopySpec | EventDeleteSpec | ImportSpec | PurgeSpec | ScrubSpec
SPEC_TYPES: dict[JobKind, type] = {spec.kind: spec for spec in typing.get_args(JobSpec)}


# ---- JSON in and out ----------------------------------------------------------------------


def spec_dump(spec: JobSpec) -> dict:
    """The JSON that the job row stores; the spec is checked by loading its own dump."""
    data = _dump(spec)
    spec_load(spec.kind, data)
    return data


def spec_load(kind: str, data) -> JobSpec:
    """The typed spec of a job row; SpecError when the JSON does not fit the kind."""
    try:
        spec_type = SPEC_TYPES[JobKind(kind)]
    except ValueError:
        raise SpecError(f"unknown job kind {kind!r}") from None
    try:
        return _loader(spec_type)({} if data is None else data)
    except _Misfit as misfit:
        raise SpecError(f"spec{misfit.where}{misfit.problem}") from None


def _dump(value):
    if dataclasses.is_dataclass(value):
        # Optional parts left empty ("" or None) are not written: the stored JSON stays the minimum.
        return {field.name: _dump(getattr(value, field.name)) for field in dataclasses.fields(value)
                if not (getattr(value, field.name) in ("", None) and field.default in ("", None))}
    if isinstance(value, (tuple, list)):
        return [_dump(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _Misfit(Exception):
    """A value that does not fit its type; `where` grows (".images[3].digest") as it rises through the loaders,
    so a spec that loads pays for no path it never needed."""

    def __init__(self, problem: str, where: str = ""):
        self.problem, self.where = problem, where

    def within(self, part: str) -> "_Misfit":
        self.where = part + self.where
        return self


@functools.cache
def _loader(hint) -> typing.Callable[[object], object]:
    """The function that loads a JSON value into `hint`, worked out once per type: a copy job can carry a hundred
    images, and the fan-out reads the queued job's spec to join it."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        load_inner, optional = _loader(inner), type(None) in typing.get_args(hint)

        def load_union(value):
            return None if value is None and optional else load_inner(value)
        return load_union
    if origin is tuple:
        load_item = _loader(typing.get_args(hint)[0])

        def load_tuple(value):
            if not isinstance(value, (list, tuple)):
                raise _Misfit(" must be a list")
            loaded = []
            for index, item in enumerate(value):
                try:
                    loaded.append(load_item(item))
                except _Misfit as misfit:
                    raise misfit.within(f"[{index}]") from None
            return tuple(loaded)
        return load_tuple
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = [(field.name, _loader(hints[field.name]),
                   field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING)
                  for field in dataclasses.fields(hint)]
        names = frozenset(name for name, _, _ in fields)

        def load_dataclass(value):
            if not isinstance(value, dict):
                raise _Misfit(" must be an object")
            if not names.issuperset(value):
                raise _Misfit(f" has unknown field(s) {', '.join(sorted(set(value) - names))}")
            loaded = {}
            for name, load_field, required in fields:
                if name in value:
                    try:
                        loaded[name] = load_field(value[name])
                    except _Misfit as misfit:
                        raise misfit.within(f".{name}") from None
                elif required:
                    raise _Misfit(" is missing", f".{name}")
            return hint(**loaded)
        return load_dataclass
    if hint is datetime:
        def load_datetime(value):
            if isinstance(value, datetime):
                return value
            try:
                return datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise _Misfit(" must be an ISO 8601 date and time") from None
        return load_datetime
    if hint in (str, int, bool):
        def load_plain(value):
            # bool is an int in Python; a spec never means one for the other.
            if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                raise _Misfit(f" must be a {hint.__name__}")
            return value
        return load_plain

    def load_nothing(value):
        raise _Misfit(f": no loader for {hint!r}")
    return load_nothing
