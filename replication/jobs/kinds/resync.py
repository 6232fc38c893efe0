"""Resync ("Sync again"): the same full copy, to repair a replica or check that it is level."""
from ...job_specs import ResyncSpec
from .base import JobType
from .whole_replica import copy_everything, replica_failed, replica_ready, replica_retrying

JOB_TYPE = JobType(spec_type=ResyncSpec, run=copy_everything, on_retrying=replica_retrying,
                   on_succeeded=replica_ready, on_failed=replica_failed)
