"""A scrub asked for through the API runs on a real Celery worker (its region's queue) and repairs a blob
corrupted on that region's disk."""
import pytest

from replication.choices import JobState
from replication.models import ReplicationJob, ScrubRun
from replication.services.scrub import stored_data_path
from tests.conftest import wait_for
from tests.scrubbing import flip_bytes, registry, shared_layer  # noqa: F401 (registry: a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_scrub_runs_on_the_regions_worker_and_repairs_the_corrupted_blob(registry, api_client,  # noqa: F811
                                                                          deployed_regions, celery_worker_process):
    digest = shared_layer(registry.corpus)
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))

    response = api_client.post(f"/api/v1/registries/{registry.name}/replicas/eastus/scrubs/")
    assert response.status_code == 202, response.content
    job_id = response.json()["job"]["id"]
    wait_for(lambda: JobState(ReplicationJob.objects.get(pk=job_id).state).is_final, timeout=120,
             message="the scrub job to finish")

    job = ReplicationJob.objects.get(pk=job_id)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.worker and job.blobs_done == job.blobs_total == len(registry.corpus.unique_blobs())
    run = ScrubRun.objects.get(pk=response.json()["id"])
    assert (run.corrupt_found, run.repaired, run.findings[0]["source_region"]) == (1, 1, "westus")
