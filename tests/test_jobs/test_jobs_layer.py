"""The jobs layer: typed specs, the one retry policy, and the runner's state handling (real registries)."""
import ast
from pathlib import Path

import pytest

from replication import services
from replication.choices import JobKind, JobState, ReplicaStatus
from replication.dispatch import job_record
from replication.jobs.runner import job_run
from replication.job_specs import EventCopySpec, ImageToCopy, SpecError, spec_dump, spec_load
from replication.models import Region, Replica, ReplicationJob
from replication.oci.retry import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def contoso(deployed_regions):
    return services.registry_create(name="contoso", sku="Premium", home_region="westus")


def test_retry_waits_double_up_to_the_cap_and_jitter_stays_inside_them():
    exact = RetryPolicy(max_retries=5, backoff=2, backoff_max=10, jitter=False)
    assert [exact.countdown(n) for n in range(5)] == [2, 4, 8, 10, 10]
    assert exact.may_retry(4) and not exact.may_retry(5)
    jittered = RetryPolicy(max_retries=5, backoff=2, backoff_max=10)
    waits = [jittered.countdown(2) for _ in range(200)]
    assert all(0 <= wait <= 8 for wait in waits) and len(set(waits)) > 1


def test_a_spec_round_trips_through_its_json():
    from datetime import datetime, timezone

    spec = EventCopySpec(source_region="eastus", images=(
        ImageToCopy(repository="contoso/app", reference="1.0", digest="sha256:" + "a" * 64,
                    pushed_at=datetime(2026, 11, 27, tzinfo=timezone.utc)),))
    assert spec_load(JobKind.EVENT_COPY, spec_dump(spec)) == spec


def test_a_spec_of_the_wrong_shape_is_refused_before_anything_is_written(contoso):
    replica = contoso.replicas.get()
    with pytest.raises(SpecError, match="source_region must be a str"):
        job_record(spec=EventCopySpec(source_region=5, images=()), replica=replica)
    assert not ReplicationJob.objects.exists()


def test_a_stored_spec_that_does_not_load_fails_the_job_with_the_reason(contoso):
    replica = contoso.replicas.get()
    job = ReplicationJob.objects.create(replica=replica, registry=contoso, region=replica.region,
                                        kind=JobKind.EVENT_COPY, spec={"source_region": "eastus", "images": "all"})
    assert job_run(job_id=job.pk).state == JobState.FAILED
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "spec.images must be a list" in job.error


def test_a_failure_that_may_pass_requeues_the_job_then_gives_up_with_the_reason(contoso, settings):
    settings.REPLICATION_MAX_RETRIES, settings.REPLICATION_RETRY_BACKOFF = 1, 3
    settings.REGISTRY_HTTP_MAX_RETRIES = 0
    replica, job = services.replica_create(registry=contoso, region="eastus")
    Region.objects.filter(name="eastus").update(endpoint="http://127.0.0.1:9")  # nothing listens there

    first = job_run(job_id=job.pk, retries_done=0)
    assert first.state == JobState.QUEUED and 0 <= first.retry_in <= 3
    job.refresh_from_db()
    replica.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 1 and "Cannot reach" in job.error
    assert replica.status == ReplicaStatus.SYNCING and replica.status_message.startswith("Attempt 1 failed")

    last = job_run(job_id=job.pk, retries_done=1)
    assert last.state == JobState.FAILED and last.retry_in is None
    job.refresh_from_db()
    replica.refresh_from_db()
    assert job.attempts == 2 and "gave up after 2 attempts" in job.error
    assert replica.status == ReplicaStatus.FAILED and "Cannot reach" in replica.status_message


def test_a_duplicate_task_message_does_not_run_the_job_twice(contoso):
    _, job = services.replica_create(registry=contoso, region="eastus")
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    assert job_run(job_id=job.pk).state is None
    assert ReplicationJob.objects.get(pk=job.pk).attempts == 1


def test_a_copy_into_a_replica_being_deleted_is_canceled(contoso):
    replica, job = services.replica_create(registry=contoso, region="eastus")
    Replica.objects.filter(pk=replica.pk).update(status=ReplicaStatus.DELETING)
    assert job_run(job_id=job.pk).state == JobState.CANCELED


def test_deleting_a_replica_purges_its_region_then_removes_the_row(contoso):
    replica, job = services.replica_create(registry=contoso, region="eastus")
    job_run(job_id=job.pk)
    services.replica_delete(replica=Replica.objects.get(pk=replica.pk))
    purge = ReplicationJob.objects.get(kind=JobKind.PURGE)
    assert purge.region.name == "eastus" and purge.spec == {"repository_prefix": "contoso/", "remove_replica": True}
    assert job_run(job_id=purge.pk).state == JobState.SUCCEEDED
    assert not Replica.objects.filter(pk=replica.pk).exists()


def test_deleting_a_registry_purges_every_deployed_region_and_keeps_the_jobs(contoso, deployed_regions):
    services.registry_delete(registry=contoso)
    purges = ReplicationJob.objects.filter(kind=JobKind.PURGE)
    assert sorted(job.region.name for job in purges) == sorted(deployed_regions)
    assert all(job.registry_id is None and job.state == JobState.QUEUED for job in purges)
    assert all(job_run(job_id=job.pk).state == JobState.SUCCEEDED for job in purges)


def test_no_service_imports_the_tasks_module():
    """Services record work through replication.dispatch; tasks.py sits above them."""
    offenders = []
    for path in sorted((ROOT / "replication" / "services").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "tasks":
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module and "jobs.runner" in node.module:
                offenders.append(f"{path.name}:{node.lineno} (the runner)")
    assert offenders == []
