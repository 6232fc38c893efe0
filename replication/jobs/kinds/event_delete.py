"""Event delete: remove from one region a manifest that was deleted elsewhere."""
from ...models import ReplicationJob
from ...oci.copy import CopyProgress
from ...services import events
from ...job_specs import EventDeleteSpec
from .base import JobOutcome, JobType


def run(job: ReplicationJob, spec: EventDeleteSpec, on_progress) -> JobOutcome:
    events.delete_for_event(job, spec)
    return JobOutcome(progress=CopyProgress(), source=spec.source_region)


JOB_TYPE = JobType(spec_type=EventDeleteSpec, run=run)
