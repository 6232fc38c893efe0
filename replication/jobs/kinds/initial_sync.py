"""Initial sync: a new replica gets every image of the registry."""
from ...job_specs import InitialSyncSpec
from .base import JobType
from .whole_replica import copy_everything, replica_failed, replica_ready, replica_retrying

JOB_TYPE = JobType(spec_type=InitialSyncSpec, run=copy_everything, on_retrying=replica_retrying,
                   on_succeeded=replica_ready, on_failed=replica_failed)
