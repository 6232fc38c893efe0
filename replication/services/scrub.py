"""Scrubbing a replica's storage: find the blobs and manifests whose stored bytes no longer hash to their
digest (or that are gone), report them, and repair them from a region whose copy verifies.

Repair of a corrupted blob in Distribution takes three steps, because Distribution never replaces a stored
blob's bytes through its API: an upload of a digest whose data it stores is accepted and dropped, and a
blob DELETE only unlinks it from the repository (measured with 2.8.2). So, once a healthy region's copy has
verified: the blob is unlinked through the API in each repository (pulls then fail fast with "blob unknown"
instead of getting wrong bytes), its data file is removed from the region's storage (`Region.storage_root`,
the filesystem driver's root as the region's worker sees it), and the good bytes are pushed (streamed and
checked as they go) and mounted into the other repositories. A pull of every repository is then checked.
Without a verified copy elsewhere nothing is touched: the only copy is never deleted.

The registries run without a blob descriptor cache (no `storage.cache` in their configs): nothing there can
keep the removed blob's descriptor. With Distribution's redis or in-memory cache, the API DELETE clears the
repository's entry and the new upload writes it again with the same digest, size and media type.
"""
import logging
from datetime import timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import metrics
from ..choices import (SCRUB_SCHEDULED, ActivityAction, JobKind, JobState, RegionHealthState, ReplicaStatus,
                       ScrubOutcome)
from ..dispatch import job_record
from ..exceptions import Conflict, NotFound
from ..job_specs import ScrubSpec
from ..models import Region, Registry, Replica, ReplicationJob, ScrubRun
from ..oci import scrub as engine
from ..oci.client import RegistryError
from ..oci.copy import CopyProgress
from ..oci.reference import parse_digest
from .activity import activity_record
from .health import region_health_check
from .region_clients import region_client

log = logging.getLogger(__name__)

UNFINISHED = (JobState.QUEUED, JobState.RUNNING)
# Replicas whose content is complete enough to check (not while a sync copies into them, nor while deleted).
SCRUBBABLE_STATUSES = (ReplicaStatus.READY, ReplicaStatus.DEGRADED)
# Regions whose copy may repair another's: only a replica known to be complete.
SOURCE_STATUSES = (ReplicaStatus.READY, ReplicaStatus.DEGRADED)


def scrub_run_get(*, replica: Replica, scrub_id: int) -> ScrubRun:
    try:
        return ScrubRun.objects.select_related("job", "region", "registry").get(
            pk=scrub_id, registry=replica.registry, region=replica.region)
    except ScrubRun.DoesNotExist:
        raise NotFound(f"The replica in '{replica.region.name}' has no scrub {scrub_id}.") from None


def replica_scrub(*, replica: Replica, actor=None, trigger: str = "") -> ScrubRun:
    """Queue a scrub of the replica's storage (a job on its region's queue); one at a time per replica."""
    if replica.status not in SCRUBBABLE_STATUSES:
        raise Conflict(f"The replica in '{replica.region.name}' is {replica.get_status_display().lower()}; "
                       "its storage can be verified while it is ready (or degraded), not while a sync copies into it.")
    if not region_health_check(replica.region):
        raise Conflict(f"Region '{replica.region.name}' is not available: no data plane answers there.")
    with transaction.atomic():
        # Locks the replica's row: two requests at once cannot both find no scrub running.
        if not Replica.objects.select_for_update().filter(pk=replica.pk).exists():
            raise NotFound(f"Registry '{replica.registry.name}' has no replica in '{replica.region.name}'.")
        if _unfinished_scrubs().filter(replica=replica).exists():
            raise Conflict(f"A scrub of the replica in '{replica.region.name}' is already queued or running.")
        run = ScrubRun.objects.create(registry=replica.registry, region=replica.region, trigger=trigger)
        run.job = job_record(spec=ScrubSpec(scrub_run=run.pk, trigger=trigger), replica=replica)
        run.save(update_fields=["job"])
        activity_record(registry=replica.registry, actor=actor, action=ActivityAction.REPLICA_SCRUB,
                        target=replica.region.name, detail={"job": run.job.pk, "scrub": run.pk})
    return run


def scrub_execute(job: ReplicationJob, spec: ScrubSpec, *, on_progress) -> tuple[CopyProgress, str]:
    """The scrub job's body (on the region's worker): check everything, repair what fails, record the run."""
    run = ScrubRun.objects.get(pk=spec.scrub_run)
    registry, region = job.registry, job.region
    prefix = registry.repository_prefix
    with region_client(region, prefix=prefix, actions=("pull", "push", "delete"), catalog=True) as client:
        result = engine.scrub_registry(client, repository_prefix=prefix,
                                       concurrency=settings.REPLICATION_CONCURRENCY, on_progress=on_progress)
        findings = []
        for finding in result.findings:
            metrics.scrub_corrupt_blobs.labels(region=region.name).inc()
            log.warning("Scrub of %s in %s: %s %s %s (%s)", registry.name, region.name, finding.kind,
                        finding.digest, finding.problem, ", ".join(finding.repositories))
            outcome, source, detail = _repair(finding, registry=registry, region=region, client=client)
            findings.append({"digest": finding.digest, "kind": finding.kind, "problem": finding.problem,
                             "size": finding.size, "repositories": finding.repositories, "outcome": outcome,
                             "source_region": source, "detail": detail or finding.detail})
    repaired = sum(1 for f in findings if f["outcome"] == ScrubOutcome.REPAIRED)
    ScrubRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(), manifests_checked=result.manifests_checked, blobs_checked=result.blobs_checked,
        bytes_checked=result.bytes_checked, corrupt_found=len(findings), repaired=repaired,
        unrecoverable=len(findings) - repaired, findings=findings, error="")
    return result.progress, region.name


def scrub_failed(*, scrub_run_id: int, error: str) -> None:
    ScrubRun.objects.filter(pk=scrub_run_id).update(finished_at=timezone.now(), error=error)


def scrub_due_queue(*, now=None) -> ScrubRun | None:
    """Beat: queue the scrub of the replica that waited longest past SCRUB_INTERVAL_SECONDS, while no scrub is
    queued or running anywhere (one region's storage is read at a time). None when nothing is due."""
    interval = settings.SCRUB_INTERVAL_SECONDS
    if interval <= 0 or _unfinished_scrubs().exists():
        return None
    now = now or timezone.now()
    due_before = now - timedelta(seconds=interval)
    candidates = []
    for replica in (Replica.objects.filter(status=ReplicaStatus.READY, region__enabled=True)
                    .exclude(region__endpoint="").select_related("registry", "region", "region__health")):
        latest = ScrubRun.objects.filter(registry=replica.registry, region=replica.region).order_by("-created_at")
        last = latest.values_list("created_at", flat=True).first() or replica.created_at
        if last <= due_before:
            candidates.append((last, replica.pk, replica))
    for _, _, replica in sorted(candidates, key=lambda c: (c[0], c[1])):
        try:
            return replica_scrub(replica=replica, trigger=SCRUB_SCHEDULED)
        except (Conflict, NotFound) as refused:  # its region is down, or someone just asked: the next one
            log.info("Scheduled scrub of %s not queued: %s", replica, refused)
    return None


def _unfinished_scrubs():
    return ReplicationJob.objects.filter(kind=JobKind.SCRUB, state__in=UNFINISHED)


# ---- repair --------------------------------------------------------------------------------


def _repair(finding: engine.Finding, *, registry: Registry, region: Region, client) -> tuple[str, str, str]:
    """(outcome, source region, detail) for one finding: copied again from a region whose copy verifies."""
    if finding.problem == engine.CORRUPT and not region.storage_root:
        return (ScrubOutcome.UNRECOVERABLE, "",
                f"{finding.detail}. Not repaired: the region's storage is not reachable from its worker "
                "(Region.storage_root is blank) and Distribution does not replace stored bytes through its API.")
    tried = []
    for source in _source_regions(registry=registry, region=region):
        try:
            with region_client(source, prefix=registry.repository_prefix) as source_client:
                problem, why = _check(source_client, finding)
                if problem is not None:
                    tried.append(f"{source.name}: {problem}")
                    continue
                _replace(finding, region=region, source_client=source_client, client=client)
        except (RegistryError, httpx.HTTPError) as error:
            tried.append(f"{source.name}: {error}")
            continue
        # A pull from every repository that needs it must now verify.
        still = [f"{repository}: {problem}" for repository in finding.repositories
                 for problem, _ in [_check(client, finding, repository=repository)] if problem is not None]
        if still:
            return ScrubOutcome.UNRECOVERABLE, source.name, f"Copied from {source.name} but still: {'; '.join(still)}"
        log.warning("Scrub of %s in %s: %s %s repaired from %s", registry.name, region.name, finding.kind,
                    finding.digest, source.name)
        return ScrubOutcome.REPAIRED, source.name, f"{finding.problem} here; copied again from {source.name}"
    checked = "; ".join(tried) if tried else "no other ready replica"
    return (ScrubOutcome.UNRECOVERABLE, "",
            f"{finding.detail}. Not repaired: no region has a copy that verifies ({checked}); the copy here was "
            "left as it is.")


def _source_regions(*, registry: Registry, region: Region) -> list[Region]:
    """The registry's other complete replicas' regions, recorded up first, the home region first among equals."""
    replicas = (Replica.objects.filter(registry=registry, status__in=SOURCE_STATUSES, region__enabled=True)
                .exclude(region=region).exclude(region__endpoint="").select_related("region", "region__health"))

    def order(replica: Replica):
        health = getattr(replica.region, "health", None)
        return (health is None or health.state != RegionHealthState.UP, not replica.is_home, replica.region.name)

    return [replica.region for replica in sorted(replicas, key=order)]


def _check(client, finding: engine.Finding, *, repository: str | None = None) -> tuple[str | None, str]:
    repository = repository or finding.repositories[0]
    if finding.kind == engine.MANIFEST:
        return engine.manifest_check(client, repository, finding.digest)
    return engine.blob_check(client, repository, finding.digest, finding.size)


def _replace(finding: engine.Finding, *, region: Region, source_client, client) -> None:
    """Remove the region's bad copy (API, then storage) and send the verified one."""
    if finding.problem == engine.CORRUPT:
        if finding.kind == engine.BLOB:
            for repository in finding.repositories:
                client.delete_blob(repository, finding.digest)
        # A manifest is not unlinked: deleting it through the API would delete its tags too.
        stored_data_remove(region=region, digest=finding.digest)
    if finding.kind == engine.MANIFEST:
        engine.manifest_replace(source_client, finding.repositories[0], client, finding.repositories, finding.digest)
    else:
        engine.blob_replace(source_client, finding.repositories[0], client, finding.repositories, finding.digest,
                            finding.size)


def stored_data_path(*, region: Region, digest: str) -> Path:
    """Where Distribution's filesystem driver keeps a blob's (or manifest's) bytes under the region's storage."""
    parsed = parse_digest(digest)
    return (Path(region.storage_root) / "docker" / "registry" / "v2" / "blobs" / parsed.algorithm
            / parsed.hex[:2] / parsed.hex / "data")


def stored_data_remove(*, region: Region, digest: str) -> None:
    path = stored_data_path(region=region, digest=digest)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    log.warning("Removed the corrupted stored bytes of %s in %s (%s)", digest, region.name, path)
