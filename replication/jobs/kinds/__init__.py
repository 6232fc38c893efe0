"""One module per job kind; the runner finds each kind's JobType here."""
from . import event_copy, event_delete, image_import, initial_sync, purge, resync, scrub
from .base import JobOutcome, JobType

JOB_TYPES: dict[str, JobType] = {
    module.JOB_TYPE.spec_type.kind: module.JOB_TYPE
    for module in (initial_sync, resync, event_copy, event_delete, image_import, purge, scrub)
}

__all__ = ["JOB_TYPES", "JobOutcome", "JobType"]
