"""Importing one image from any OCI registry into a registry's home region, like `az acr import`.

`image_import` validates and records an import job (job_specs.py ImportSpec) on the home region's
queue; `copy_import` (the body of jobs/kinds/image_import.py) copies the image, an index with every platform,
with the copy engine, then fans it out to the other replicas as if it had been pushed there.

Source credentials are never stored in clear: the job's spec holds them as a Fernet token
(`secret_box`, a key derived from SECRET_KEY), erased from the spec once the import succeeded.
Rotating SECRET_KEY with the old key in SECRET_KEY_FALLBACKS keeps queued imports readable;
dropping the old key makes them fail with a clear error.
"""
from __future__ import annotations

import dataclasses
import json
import re
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..choices import ActivityAction, ReplicaStatus
from ..exceptions import Conflict, InvalidInput
from ..dispatch import job_record
from ..job_specs import ImportSource, ImportSpec, ImportTarget, spec_dump
from ..models import Registry, Replica, ReplicationJob
from ..oci.client import RegistryClient
from ..oci.copy import CopyError, CopyResult, ImageRef, copy_images
from ..oci.outbound import OutboundAddressRefused
from ..oci.reference import (
    InvalidDigest,
    InvalidReference,
    InvalidRepository,
    InvalidTag,
    is_digest,
    is_repository,
    is_tag,
    join_reference,
    looks_like_digest,
    parse_digest,
    split_reference,
)
from ..outbound import outbound_guard, outbound_url_check
from ..secret_box import SecretUnreadable, secret_open, secret_seal
from .activity import activity_record
from .health import region_health_check
from .region_clients import region_client

HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")  # a name, IPv4 or [IPv6]
# Docker Hub's name for humans and its API's real host.
DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
DOCKER_HUB_URL = "https://registry-1.docker.io"
MAX_TARGET_TAGS = 50
# Home replica statuses in which the home region can take an import.
IMPORTABLE_STATUSES = (ReplicaStatus.READY, ReplicaStatus.DEGRADED)


# ---- credentials in the job's spec ---------------------------------------------------------


def credentials_seal(username: str, password: str) -> str:
    """The credentials as a Fernet token (secret_box); safe to store in the job's spec."""
    return secret_seal(json.dumps({"username": username, "password": password}))


def credentials_open(sealed: str) -> tuple[str, str]:
    """The (username, password) sealed by credentials_seal; SecretUnreadable when altered or the key is gone."""
    plain = json.loads(secret_open(sealed))
    return plain["username"], plain["password"]


# ---- validation ---------------------------------------------------------------------------


def source_registry_url(value) -> str:
    """`https://host[:port]`, `http://host:port` or a bare `host[:port]` (https) → a base URL."""
    text = str(value or "").strip().rstrip("/")
    if not text:
        raise InvalidInput("source.registry_url is required.", field="source.registry_url")
    not_an_address = InvalidInput(f"source.registry_url {value!r} is not a registry address like "
                                  "'registry.example.com' or 'https://host:5000'.", field="source.registry_url")
    try:
        parts = urlsplit(text if "://" in text else "https://" + text)
        parts.port  # urlsplit checks a bracketed IPv6 host at once, but the port's range only when asked
    except ValueError:
        raise not_an_address from None
    if parts.scheme not in ("http", "https") or not parts.netloc or not HOST_RE.match(parts.netloc) \
            or parts.path or parts.query or parts.fragment:
        raise not_an_address
    if parts.netloc in DOCKER_HUB_ALIASES:
        return DOCKER_HUB_URL
    url = f"{parts.scheme}://{parts.netloc}"
    # Checked again on every connection the import opens (copy_import): a name may resolve elsewhere by then.
    outbound_url_check(url, field="source.registry_url", label="source.registry_url")
    return url


def _repository(value, field: str) -> str:
    name = str(value or "")
    if not is_repository(name):
        raise InvalidInput(f"{field} {value!r} is not a repository name (lowercase letters, digits, "
                           "separators '.', '_', '-', and '/').", field=field)
    return name


def _reference(value) -> str:
    reference = str(value or "")
    if looks_like_digest(reference):
        try:
            parse_digest(reference)
        except InvalidDigest:
            raise InvalidInput(f"source.reference {value!r} is not a complete digest (sha256:<64 hex>).",
                               field="source.reference") from None
    elif not is_tag(reference):
        raise InvalidInput(f"source.reference {value!r} is neither a tag nor a digest (sha256:<64 hex>).",
                           field="source.reference")
    return reference


def _target_tags(values, *, default_repository: str, reference: str) -> dict[str, list[str]]:
    """"repo:tag" strings → {repository: [tags]}; default: the source's repository and tag."""
    if not values:
        return {default_repository: [] if is_digest(reference) else [reference]}
    if len(values) > MAX_TARGET_TAGS:
        raise InvalidInput(f"At most {MAX_TARGET_TAGS} target tags per import.", field="target_tags")
    grouped: dict[str, list[str]] = {}
    for value in values:
        shape = f"target tag {value!r} must look like 'repository:tag'."
        try:
            repository, tag, digest = split_reference(str(value))
        except InvalidRepository:
            raise InvalidInput(f"target tag {value!r} has an invalid repository name (lowercase letters, digits, "
                               "separators '.', '_', '-', and '/').", field="target_tags") from None
        except InvalidTag:
            raise InvalidInput(f"target tag {value!r} has an invalid tag.", field="target_tags") from None
        except InvalidReference:
            raise InvalidInput(shape, field="target_tags") from None
        if tag is None or digest is not None:
            raise InvalidInput(shape, field="target_tags")
        if tag not in grouped.setdefault(repository, []):
            grouped[repository].append(tag)
    return grouped


# ---- the service --------------------------------------------------------------------------


def image_import(*, registry: Registry, source: dict, target_tags: list[str] | None = None,
                 actor=None) -> ReplicationJob:
    """Record an import of source into the registry's home region and queue it there (on commit).

    source: {"registry_url", "repository", "reference" (tag or digest), "username"?, "password"?}.
    target_tags: ["repo:tag", ...], names inside the registry (its prefix is added).
    """
    if not isinstance(source, dict):
        raise InvalidInput("source must be an object.", field="source")
    url = source_registry_url(source.get("registry_url"))
    repository = _repository(source.get("repository"), "source.repository")
    if url == DOCKER_HUB_URL and "/" not in repository:
        repository = f"library/{repository}"  # what `docker pull nginx` means
    reference = _reference(source.get("reference"))
    username, password = source.get("username") or "", source.get("password") or ""
    if password and not username:
        raise InvalidInput("source.password needs source.username.", field="source.username")
    targets = _target_tags(target_tags, default_repository=repository.removeprefix("library/"), reference=reference)

    home = Replica.objects.select_related("region").filter(registry=registry, region=registry.home_region).first()
    if home is None or home.status not in IMPORTABLE_STATUSES:
        state = home.status if home else "missing"
        raise Conflict(f"Registry '{registry.name}' cannot take an import now: its home replica is {state}.")
    if not region_health_check(home.region):
        raise Conflict(f"Registry '{registry.name}' cannot take an import now: its home region "
                       f"'{home.region.name}' has no data plane that answers.")

    prefix = registry.repository_prefix
    spec = ImportSpec(
        source=ImportSource(registry_url=url, repository=repository, reference=reference,
                            credentials=credentials_seal(username, password) if username else ""),
        images=tuple(ImportTarget(repository=prefix + target, tags=tuple(tags)) for target, tags in targets.items()),
    )
    with transaction.atomic():
        job = job_record(spec=spec, replica=home)
        # The source without its credentials: only whether there were any.
        activity_record(registry=registry, actor=actor, action=ActivityAction.IMPORT_CREATE,
                        target=import_description(spec),
                        detail={"source_registry": url, "with_credentials": bool(username), "job": job.pk,
                                "target_tags": [f"{target}:{tag}" for target, tags in targets.items() for tag in tags]})
        return job


def import_description(spec: ImportSpec) -> str:
    source = spec.source
    return f"{urlsplit(source.registry_url).netloc}/{join_reference(source.repository, source.reference)}"


def copy_import(job: ReplicationJob, spec: ImportSpec, *, on_progress) -> tuple[CopyResult, str]:
    """Copy the image into the job's (home) region, then fan it out; returns (result, description)."""
    source_spec = spec.source
    username = password = None
    if source_spec.credentials:
        try:
            username, password = credentials_open(source_spec.credentials)
        except SecretUnreadable as error:
            raise CopyError(f"the import's source credentials are unreadable: {error}") from error
    images = [ImageRef(source_spec.repository, source_spec.reference, image.repository, image.tags)
              for image in spec.images]
    try:
        # The source is user input: guarded. The target is an operator's regional endpoint: not.
        with RegistryClient(source_spec.registry_url, username=username, password=password,
                            timeout=settings.REGISTRY_HTTP_TIMEOUT, outbound_guard=outbound_guard()) as source, \
                region_client(job.region, repositories=[image.repository for image in spec.images],
                              actions=("pull", "push")) as target:
            result = copy_images(source, target, images, concurrency=settings.REPLICATION_CONCURRENCY,
                                 on_progress=on_progress)
    except OutboundAddressRefused as refused:
        raise CopyError(f"The import source was refused: {refused}.") from refused
    if source_spec.credentials:
        # Done with them: a finished job keeps no secret, not even an encrypted one.
        erased = dataclasses.replace(spec, source=dataclasses.replace(source_spec, credentials=""))
        ReplicationJob.objects.filter(pk=job.pk).update(spec=spec_dump(erased))
    import_fan_out(job=job, spec=spec)
    return result, f"the import of {import_description(spec)}"


def import_fan_out(*, job: ReplicationJob, spec: ImportSpec) -> int:
    """Replicate the imported tags like a push into the home region; returns how many were fanned out.

    Our engine's own pushes are notified as its identity and never fan out (services/events.py),
    so the import records the push itself, once per tag, and hands it to the event fan-out.
    """
    from ..choices import RegistryEventAction
    from ..models import RegistryEvent
    from .events import event_fan_out_push

    now = timezone.now()
    digests = {}
    with region_client(job.region, repositories=[image.repository for image in spec.images]) as target:
        for image in spec.images:
            for tag in image.tags:
                present = target.head_manifest(image.repository, tag)
                if present is not None:
                    digests[(image.repository, tag)] = present
    count = 0
    for (repository, tag), descriptor in digests.items():
        event = RegistryEvent.objects.create(
            region=job.region, registry=job.registry, event_id=f"import-{job.pk}-{uuid.uuid4().hex}",
            action=RegistryEventAction.PUSH, repository=repository, tag=tag, digest=descriptor.digest,
            media_type=descriptor.media_type, size=descriptor.size, timestamp=now, from_replication=False,
            user_agent=f"georegistry-import/job-{job.pk}", processed_at=now,
        )
        event_fan_out_push(event=event)
        count += 1
    return count
