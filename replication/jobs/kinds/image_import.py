"""Import: one image from any registry into the home region, then fanned out like a push."""
from ...models import ReplicationJob
from ...services import imports
from ...job_specs import ImportSpec
from .base import JobOutcome, JobType


def run(job: ReplicationJob, spec: ImportSpec, on_progress) -> JobOutcome:
    result, description = imports.copy_import(job, spec, on_progress=on_progress)
    return JobOutcome(progress=result.progress, source=description)


JOB_TYPE = JobType(spec_type=ImportSpec, run=run)
