"""Event copy: carry one push (from a registry event or the reconcile loop) into one region."""
from ...models import ReplicationJob
from ...services import events, image_status
from ...job_specs import EventCopySpec
from .base import JobOutcome, JobType


def run(job: ReplicationJob, spec: EventCopySpec, on_progress) -> JobOutcome:
    result = events.copy_for_event(job, spec, on_progress=on_progress)
    return JobOutcome(progress=result.progress, source=spec.source_region)


def images_failed(job: ReplicationJob, error: str) -> None:
    image_status.image_status_job_failed(job_id=job.pk, error=error)


JOB_TYPE = JobType(spec_type=EventCopySpec, run=run, on_failed=images_failed)
