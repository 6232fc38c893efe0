"""What the runner needs to know of a job kind: its spec, its body, and what its end means."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...models import ReplicationJob
from ...oci.copy import CopyProgress


@dataclass(frozen=True)
class JobOutcome:
    progress: CopyProgress  # final counters, written on the row
    source: str  # where the content came from, for the replica's status line


def _nothing(job: ReplicationJob, *args) -> None:
    return None


@dataclass(frozen=True)
class JobType:
    spec_type: type
    # run(job, spec, on_progress) -> JobOutcome; raises to fail (retried when the error may pass).
    run: Callable[..., JobOutcome]
    # Jobs that copy into a replica are canceled once it is gone or being deleted; a purge is not.
    needs_live_replica: bool = True
    # Work that must happen however long its region is down (a purge): once the retries are spent on an
    # error that may pass, the job waits `queued` without a task, and services.self_repair sends it again
    # when the region answers (the lost-work sweep too, meanwhile). It never gives up on such an error.
    waits_for_region: bool = False
    # A retry goes on from what its earlier attempts copied (a copy skips what is there), so the job's row adds
    # their counts to its own; False: a retry does it all again (a scrub reads everything), so nothing is added.
    resumes: bool = True
    on_waiting: Callable[[ReplicationJob, str], None] = _nothing
    on_retrying: Callable[[ReplicationJob, str, float], None] = _nothing
    on_succeeded: Callable[[ReplicationJob, JobOutcome], None] = _nothing
    on_failed: Callable[[ReplicationJob, str], None] = _nothing
