"""Self-repair after each health probe: failed replicas are synced again once their region (and the home
region they copy from) is healthy, with backoff; deletes that wait for their region are sent again when it
is back. Everything goes through the jobs layer; nothing here talks to a registry.
"""
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..choices import WHOLE_REPLICA_JOB_KINDS, JobKind, JobState, RegionHealthState, ReplicaStatus
from ..dispatch import job_record, job_send
from ..job_specs import PurgeSpec, ResyncSpec
from ..models import Replica, ReplicationJob
from ..oci.retry import RetryPolicy
from ..retry import retry_policy
from .health import recorded_health, region_health_probe, region_is_deployed

log = logging.getLogger(__name__)

SELF_REPAIR_TRIGGER = "self-repair"
UNFINISHED_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)


@dataclass
class RepairResult:
    resynced: list[int] = field(default_factory=list)  # replica ids whose sync was queued again
    purges_sent: list[int] = field(default_factory=list)  # waiting purge jobs sent again (their region is back)
    purges_queued: list[int] = field(default_factory=list)  # new purge jobs for deletes whose purge had failed


def repair_wait_seconds(failures: int) -> float:
    """Seconds to wait after the `failures`-th failed attempt in a row: the REPLICATION backoff, without
    jitter (one replica, one sweep: there is no herd to spread)."""
    policy = retry_policy("REPLICATION")
    return RetryPolicy(max_retries=0, backoff=policy.backoff, backoff_max=policy.backoff_max,
                       jitter=False).countdown(max(failures - 1, 0))


def _is_up(region) -> bool:
    record = recorded_health(region)
    return record is not None and record.state == RegionHealthState.UP


def _source_is_up(replica: Replica) -> bool:
    """A sync copies from the home region (services.replication.replication_source_region) when it is deployed."""
    home = replica.registry.home_region
    return not region_is_deployed(home) or _is_up(home)


def _failures_since_success(jobs: list[ReplicationJob]) -> tuple[int, ReplicationJob | None]:
    """How many attempts failed in a row (newest first in `jobs`), and the newest of them."""
    failures = 0
    for job in jobs:
        if job.state != JobState.FAILED:
            break
        failures += 1
    return failures, (jobs[0] if failures else None)


def _due(jobs: list[ReplicationJob], *, now) -> bool:
    failures, last = _failures_since_success(jobs)
    if not failures:
        return True
    finished = last.finished_at or last.created_at
    return (now - finished).total_seconds() >= repair_wait_seconds(failures)


def failed_replicas_resync(*, now=None) -> list[int]:
    """Queue a sync of every failed replica whose region and source answer, once its backoff has passed.

    The replica turns `syncing` as with "Sync again"; the failed job keeps the reason, which
    selectors.replica_last_failure shows until a sync succeeds.
    """
    now = now or timezone.now()
    queued = []
    failed = (Replica.objects.filter(status=ReplicaStatus.FAILED)
              .select_related("region__health", "registry__home_region__health"))
    for replica in failed:
        if replica.is_home or not _is_up(replica.region) or not _source_is_up(replica):
            continue
        jobs = list(ReplicationJob.objects.filter(replica=replica, kind__in=WHOLE_REPLICA_JOB_KINDS)
                    .order_by("-created_at", "-id")[:50])
        if any(job.state in UNFINISHED_JOB_STATES for job in jobs) or not _due(jobs, now=now):
            continue
        failures, _ = _failures_since_success(jobs)
        with transaction.atomic():
            # The status guard: a user's "Sync again" or a delete since the read wins.
            if not Replica.objects.filter(pk=replica.pk, status=ReplicaStatus.FAILED).update(
                    status=ReplicaStatus.SYNCING, status_changed_at=now,
                    status_message=f"Synced again automatically: {replica.region.name} answers again "
                                   f"(repair {failures + 1})."):
                continue
            job_record(spec=ResyncSpec(trigger=SELF_REPAIR_TRIGGER), replica=replica)
        queued.append(replica.pk)
    return queued


def waiting_purges_send() -> list[int]:
    """Send again the purge jobs that wait (queued) for a region that is healthy again.

    A purge whose region does not answer is parked `queued` without a task (jobs.runner); it is sent
    when the region's health changed after its last attempt (`heartbeat_at`, set at each start and here,
    so one recovery sends it once), and by the lost-work sweep meanwhile.
    """
    waiting = (ReplicationJob.objects.filter(kind=JobKind.PURGE, state=JobState.QUEUED, attempts__gt=0,
                                             region__health__state=RegionHealthState.UP)
               .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=F("region__health__since")))
               .select_related("region"))
    sent = []
    for job in waiting:
        if ReplicationJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(heartbeat_at=timezone.now()):
            job_send(job)
            sent.append(job.pk)
    return sent


def failed_deletes_retry(*, now=None) -> list[int]:
    """A deleting replica whose last purge failed (an error that does not pass by waiting) gets a new purge
    job once its region answers, with backoff: a delete never stops short of removing the replica."""
    now = now or timezone.now()
    queued = []
    deleting = Replica.objects.filter(status=ReplicaStatus.DELETING).select_related("region__health", "registry")
    for replica in deleting:
        if not _is_up(replica.region):
            continue
        jobs = list(ReplicationJob.objects.filter(replica=replica, kind=JobKind.PURGE)
                    .order_by("-created_at", "-id")[:50])
        if not jobs or jobs[0].state != JobState.FAILED or not _due(jobs, now=now):
            continue  # none yet (the delete's own job is on its way), one unfinished, or backing off
        with transaction.atomic():
            job = job_record(spec=PurgeSpec(repository_prefix=replica.registry.repository_prefix,
                                            remove_replica=True), replica=replica)
        queued.append(job.pk)
    return queued


def self_repair(*, now=None) -> RepairResult:
    result = RepairResult(resynced=failed_replicas_resync(now=now), purges_sent=waiting_purges_send(),
                          purges_queued=failed_deletes_retry(now=now))
    if result.resynced or result.purges_sent or result.purges_queued:
        log.info("Self-repair: %s", result)
    return result


def health_probe_and_repair() -> RepairResult:
    """What beat runs every REGION_HEALTH_INTERVAL seconds: record every region's health, then repair
    what a region coming back makes possible."""
    region_health_probe()
    return self_repair()
