"""The one runner of ReplicationJobs: it owns every state change, the progress and heartbeat,
the retry policy and the failure handling; a kind's module (jobs/kinds/) only does the work.

Every state change goes through `job_transition`, a conditional UPDATE, so two workers can
never both run a job and a duplicated task message is a no-op.
"""
import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

import httpx
import psutil
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..choices import JOB_TRANSITIONS, JobKind, JobState, ReplicaStatus, WebhookDeliveryState
from .. import metrics
from ..choices import COPY_JOB_KINDS, CopyFailureReason
from ..exceptions import RetryLater
from ..models import ReplicationJob, WebhookDelivery
from ..oci.client import RegistryError
from ..queues import region_queue
from ..dispatch import DELIVER_WEBHOOK_TASK, job_send, task_send_on_commit
from .kinds import JOB_TYPES
from ..services.events import events_drain
from .progress import EarlierAttempts, ProgressRecorder
from ..retry import retry_policy
from ..job_specs import SpecError, spec_load
from ..log_context import log_context

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def job_transition(*, job_id: int, to: JobState, **fields) -> bool:
    """Move a job to `to` only from a state that allows it; False when another actor got there first."""
    allowed_from = [state for state, targets in JOB_TRANSITIONS.items() if to in targets]
    now = timezone.now()
    if to == JobState.RUNNING:
        fields.setdefault("started_at", now)
        fields.setdefault("heartbeat_at", now)
    if JobState(to).is_final:
        fields.setdefault("finished_at", now)
    return bool(ReplicationJob.objects.filter(pk=job_id, state__in=allowed_from).update(state=to, **fields))


def describe_error(exc: Exception, *, region_name: str) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out talking to a registry while copying into {region_name}: {exc}"
    if isinstance(exc, httpx.TransportError):
        return f"Cannot reach a registry while copying into {region_name}: {exc}"
    if isinstance(exc, RetryLater):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def is_retryable(exc: Exception) -> bool:
    """Errors that may pass: the network, a registry's 5xx or 429, or work told to wait."""
    if isinstance(exc, (httpx.TransportError, RetryLater)):
        return True
    if isinstance(exc, RegistryError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429
    return False


@dataclass(frozen=True)
class RunResult:
    state: JobState | None  # None: another worker owns the job
    retry_in: float | None = None  # seconds: the task should run again after this


def job_run(*, job_id: int, retries_done: int = 0) -> RunResult:
    """Run one queued job to its end, or back to queued with the seconds before its next attempt."""
    if not job_transition(job_id=job_id, to=JobState.RUNNING, worker=WORKER_ID, attempts=F("attempts") + 1):
        return RunResult(state=None)
    job = ReplicationJob.objects.select_related("replica__registry__home_region", "region", "registry").get(pk=job_id)
    # Every line logged while it runs names the job, its region and the request that caused it.
    with log_context(request_id=job.request_id, job_id=job.pk, region=job.region.name):
        log.info("Running %s job %s (attempt %s)", job.kind, job.pk, job.attempts)
        result = _job_execute(job, retries_done=retries_done)
        log.info("Job %s ended %s", job.pk, result.state)
        return result


def _job_execute(job: ReplicationJob, *, retries_done: int) -> RunResult:
    job_id = job.pk
    job_type = JOB_TYPES[JobKind(job.kind)]
    try:
        spec = spec_load(job.kind, job.spec)
    except SpecError as exc:
        _count_copy_failure(job, CopyFailureReason.INVALID_SPEC, outcome="failed")
        return _fail(job, job_type, f"The job's spec is not valid: {exc}")
    if job_type.needs_live_replica and (job.replica is None or job.replica.status == ReplicaStatus.DELETING):
        job_transition(job_id=job_id, to=JobState.CANCELED, error="The replica was deleted.")
        return RunResult(state=JobState.CANCELED)

    # What earlier attempts copied stays counted; a job that starts over counts only this attempt.
    earlier = EarlierAttempts.of(job) if job_type.resumes else EarlierAttempts()
    try:
        with ProgressRecorder(job.pk, earlier=earlier) as record_progress:
            outcome = job_type.run(job, spec, record_progress)
    except Exception as exc:
        error = describe_error(exc, region_name=job.region.name)
        policy = retry_policy("REPLICATION")
        will_retry = is_retryable(exc) and policy.may_retry(retries_done)
        _count_copy_failure(job, metrics.copy_failure_reason(exc), outcome="retried" if will_retry else "failed")
        if not is_retryable(exc):
            return _fail(job, job_type, error)
        if job_type.waits_for_region:
            return _wait_for_region(job, job_type, error, policy=policy, retries_done=retries_done)
        if not policy.may_retry(retries_done):
            return _fail(job, job_type, f"{error} (gave up after {retries_done + 1} attempts)")
        countdown = policy.countdown(retries_done)
        if job_transition(job_id=job_id, to=JobState.QUEUED, error=f"{error} (retrying in {countdown:.0f} s)"):
            job.refresh_from_db(fields=["attempts"])
            job_type.on_retrying(job, error, countdown)
        return RunResult(state=JobState.QUEUED, retry_in=countdown)

    # One transaction: nobody sees the job succeeded while its replica still says otherwise (or gone
    # while its purge still says running), and a worker dying between the two leaves neither half.
    with transaction.atomic():
        if job_transition(job_id=job_id, to=JobState.SUCCEEDED, error="", **earlier.fields(outcome.progress)):
            job_type.on_succeeded(job, outcome)
    if job.kind in COPY_JOB_KINDS:
        metrics.copies.labels(region=job.region.name, kind=job.kind).inc()
        # This attempt's own copies: earlier attempts counted theirs when they ran.
        metrics.copied_manifests.labels(region=job.region.name).inc(outcome.progress.manifests_done)
        metrics.copied_bytes.labels(region=job.region.name).inc(outcome.progress.bytes_done)
    return RunResult(state=JobState.SUCCEEDED)


def _wait_for_region(job: ReplicationJob, job_type, error: str, *, policy, retries_done: int) -> RunResult:
    """Retry with backoff, then wait `queued` without a task until the region answers (self_repair sends it)."""
    message = f"Waiting for region {job.region.name} to come back: {error}"
    countdown = policy.countdown(retries_done) if policy.may_retry(retries_done) else None
    detail = f" (retrying in {countdown:.0f} s)" if countdown is not None else " (sent again once it answers)"
    if job_transition(job_id=job.pk, to=JobState.QUEUED, error=message + detail):
        job_type.on_waiting(job, message)
    return RunResult(state=JobState.QUEUED, retry_in=countdown)


def _count_copy_failure(job: ReplicationJob, reason: CopyFailureReason, *, outcome: str) -> None:
    if job.kind in COPY_JOB_KINDS:
        metrics.copy_failures.labels(region=job.region.name, reason=reason.value, outcome=outcome).inc()


def _fail(job: ReplicationJob, job_type, error: str) -> RunResult:
    job_transition(job_id=job.pk, to=JobState.FAILED, error=error)
    job_type.on_failed(job, error)
    return RunResult(state=JobState.FAILED)


# ---- lost work ----------------------------------------------------------------------------


def jobs_recover(*, stale_after: timedelta | None = None) -> list[int]:
    """Requeue jobs whose worker died: running on this host with a dead pid, or silent for too long.

    The broker may have lost their message (the filesystem transport does on a hard kill), so
    the task is sent again; job_transition makes a duplicate message a no-op.
    """
    stale_after = stale_after or timedelta(seconds=settings.REPLICATION_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    host = WORKER_ID.split(":")[0]
    requeued = []
    for job in ReplicationJob.objects.filter(state=JobState.RUNNING).select_related("region"):
        worker_host, _, pid = job.worker.partition(":")
        dead_here = worker_host == host and pid.isdigit() and not psutil.pid_exists(int(pid))
        silent = job.heartbeat_at is None or job.heartbeat_at < cutoff
        if (dead_here or silent) and job_transition(job_id=job.pk, to=JobState.QUEUED,
                                                    error="Its worker stopped; requeued."):
            job_send(job)
            requeued.append(job.pk)
    for job in ReplicationJob.objects.filter(state=JobState.QUEUED, created_at__lt=cutoff).select_related("region"):
        job_send(job)
        requeued.append(job.pk)
    if requeued:
        log.warning("Requeued replication jobs %s", requeued)
    return requeued


def deliveries_recover(*, stale_after: timedelta = timedelta(seconds=120)) -> list[int]:
    """Send again the task of pending webhook deliveries that nothing is working on.

    Rows untouched for `stale_after` (well past an attempt's HTTP timeout) are sent again; the
    attempt counter's compare-and-swap makes a duplicate message harmless.
    """
    cutoff = timezone.now() - stale_after
    stale = WebhookDelivery.objects.filter(state=WebhookDeliveryState.PENDING, created_at__lt=cutoff).filter(
        Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, last_attempt_at__isnull=True)
        | Q(next_attempt_at__isnull=True, last_attempt_at__lt=cutoff)
    ).select_related("webhook__region")
    resent = []
    for delivery in stale:
        task_send_on_commit(DELIVER_WEBHOOK_TASK, kwargs={"delivery_id": delivery.pk},
                            queue=region_queue(delivery.webhook.region.name))
        resent.append(delivery.pk)
    return resent


def lost_work_recover() -> None:
    """The one sweep for work whose task message a broker or a dead worker lost."""
    jobs_recover()
    deliveries_recover()
    events_drain()
