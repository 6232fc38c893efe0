"""The product's Prometheus metrics that processes count as things happen (prometheus_client).

Several processes count: the portal's web workers (events received) and the Celery workers (copies,
failures, lag, fan-out, webhook deliveries). On one host they add up through files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus_client's multiprocess mode), which the commands that start
processes set before anything imports prometheus_client (`multiproc_dir_prepare`). Figures that
are stored state (jobs waiting, region health, replicas, routing decisions) are read from the
database at scrape time instead (`replication/prometheus.py`), so they are right whatever host
the scrape lands on.

Every metric carries labels, so importing this module writes no file: a process that never
counts anything leaves nothing in the folder.
"""
import os
import shutil
from pathlib import Path

import httpx
from prometheus_client import Counter, Histogram

from .choices import CopyFailureReason
from .exceptions import RetryLater
from .job_specs import SpecError
from .oci.client import RegistryError

# Seconds from the push in one region to the image being complete in another.
LAG_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)

replication_lag = Histogram(
    "georegistry_replication_lag_seconds",
    "Seconds from a push (its registry event's timestamp) until the image is complete in a target region.",
    ["region"], buckets=LAG_BUCKETS)
copies = Counter("georegistry_copies_total", "Copy jobs that succeeded, per target region and job kind.",
                 ["region", "kind"])
copied_bytes = Counter("georegistry_copied_bytes_total", "Blob bytes copied into a region.", ["region"])
copied_manifests = Counter("georegistry_copied_manifests_total", "Manifests copied into a region.", ["region"])
copy_failures = Counter(
    "georegistry_copy_failures_total",
    "Failed attempts of copy jobs, per target region, reason class and outcome (retried or failed for good).",
    ["region", "reason", "outcome"])
events_received = Counter(
    "georegistry_events_received_total",
    "Registry events recorded by the portal, per region, action and source (user or replication).",
    ["region", "action", "source"])
events_fanned_out = Counter("georegistry_events_fanned_out_total",
                            "User pushes and deletes acted on, per region where they happened.",
                            ["region", "action"])
fan_out_jobs = Counter("georegistry_fan_out_jobs_total", "Event copy and delete jobs queued, per target region.",
                       ["region", "action"])
webhook_deliveries = Counter(
    "georegistry_webhook_deliveries_total",
    "Webhook delivery attempts, per webhook region and outcome (succeeded, retrying, failed).",
    ["region", "outcome"])
scrub_corrupt_blobs = Counter(
    "georegistry_scrub_corrupt_blobs_total",
    "Blobs and manifests a scrub found corrupted (bytes not hashing to their digest) or missing, per region.",
    ["region"])


def multiproc_dir_prepare(path: Path) -> Path:
    """Make `path` this process group's metrics folder, empty, for the processes it starts.

    prometheus_client reads the variable when it is imported, so only processes started after
    this call (children, or an exec) count in it. Emptied because the counters of an earlier run
    would otherwise be added to this one's.
    """
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.mkdir(mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def copy_failure_reason(exc: Exception) -> CopyFailureReason:
    """The class of a copy's error, for the `reason` label (a bounded set: never the message)."""
    if isinstance(exc, httpx.TimeoutException):
        return CopyFailureReason.TIMEOUT
    if isinstance(exc, httpx.TransportError):
        return CopyFailureReason.UNREACHABLE
    if isinstance(exc, RetryLater):
        return CopyFailureReason.WAITING
    if isinstance(exc, SpecError):
        return CopyFailureReason.INVALID_SPEC
    if isinstance(exc, RegistryError):
        if exc.storage_full:
            return CopyFailureReason.NO_SPACE
        status = exc.status_code
        if status in (401, 403):
            return CopyFailureReason.AUTH
        if status == 404:
            return CopyFailureReason.NOT_FOUND
        if status == 429:
            return CopyFailureReason.THROTTLED
        if status is None or status >= 500:
            return CopyFailureReason.REGISTRY_ERROR
        return CopyFailureReason.REFUSED
    return CopyFailureReason.OTHER
