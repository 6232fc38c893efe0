"""Helpers for the continuous-replication tests: a geo-replicated registry on the session's real
registries (a fresh name each test, so content never mixes), Distribution-shaped events, and
running queued jobs in the test's own process."""
import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from replication.choices import JobState
from replication.models import ReplicationJob
from replication.oci.client import USER_AGENT
from replication.oci.constants import OCI_MANIFEST
from replication.jobs.runner import job_run

_clock = itertools.count()
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def geo(registry_with_replicas):
    """A Premium registry homed in westus with ready replicas in eastus and canadacentral."""
    return registry_with_replicas(name=f"geo{uuid.uuid4().hex[:10]}", replicas=("eastus", "canadacentral"))


def event(*, action="push", repository, digest="", tag="", media_type=OCI_MANIFEST, user_agent="skopeo/1.9.3",
          at=None, event_id=None, actor: str = "") -> dict:
    """One event as Distribution 2.8 sends it (only the fields the portal reads, plus a few); `actor`: the token's
    subject, as a region that requires tokens names it ({} in one open to anyone)."""
    at = at or BASE_TIME + timedelta(seconds=next(_clock))
    target = {"repository": repository}
    if action == "push":
        target.update(mediaType=media_type, size=100, length=100, digest=digest, url="http://x/v2/")
        if tag:
            target["tag"] = tag
    else:
        target.update({"digest": digest} if digest else {"tag": tag})
    return {"id": event_id or str(uuid.uuid4()), "timestamp": at.isoformat().replace("+00:00", "Z"),
            "action": action, "target": target,
            "request": {"id": "r", "addr": "127.0.0.1", "host": "x", "method": "PUT", "useragent": user_agent},
            "actor": {"name": actor} if actor else {}, "source": {"addr": "x", "instanceID": "i"}}


def engine_event(**kwargs) -> dict:
    return event(user_agent=USER_AGENT, **kwargs)


def run_queued_jobs(order=None) -> list[ReplicationJob]:
    """Run every queued job here, oldest first (or in `order`), as the region's worker would."""
    jobs = order or list(ReplicationJob.objects.filter(state=JobState.QUEUED).order_by("id"))
    for job in jobs:
        job_run(job_id=job.pk)
    return [ReplicationJob.objects.get(pk=job.pk) for job in jobs]
