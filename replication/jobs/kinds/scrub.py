"""Scrub ("Verify storage"): read and hash everything a replica's images need in its region; repair what fails."""
from ...job_specs import ScrubSpec
from ...models import ReplicationJob
from ...services import scrub
from .base import JobOutcome, JobType


def run(job: ReplicationJob, spec: ScrubSpec, on_progress) -> JobOutcome:
    progress, region = scrub.scrub_execute(job, spec, on_progress=on_progress)
    return JobOutcome(progress=progress, source=region)


def run_failed(job: ReplicationJob, error: str) -> None:
    scrub.scrub_failed(scrub_run_id=job.spec["scrub_run"], error=error)


JOB_TYPE = JobType(spec_type=ScrubSpec, run=run, on_failed=run_failed, resumes=False)
