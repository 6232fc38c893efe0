"""The pages' side of scrubs: "Verify storage" for owners only, the replica row's scrub line, the job history's."""
import pytest
from django.test import Client

from replication.choices import JobKind, JobState
from replication.jobs.runner import job_run
from replication.models import ReplicationJob, ScrubRun
from replication.services import access
from replication.services.scrub import stored_data_path
from tests.scrubbing import flip_bytes, registry, shared_layer  # noqa: F401 (registry: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_verifies_storage_and_the_pages_say_what_was_repaired(registry, admin_user,  # noqa: F811
                                                                      deployed_regions):
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=shared_layer(registry.corpus)))
    client = signed_in(admin_user)
    page = f"/registries/{registry.name}/replications/"
    assert 'data-action="scrub"' in client.get(page).content.decode()

    response = client.post(f"/registries/{registry.name}/replications/eastus/scrub/", {"next": page}, follow=True)
    assert "A scrub of East US is queued" in response.content.decode()
    run = ScrubRun.objects.get()
    assert "Scrub queued" in client.get(page).content.decode()
    assert job_run(job_id=run.job_id).state == JobState.SUCCEEDED

    blobs = len(registry.corpus.unique_blobs())
    line = f"Scrub: {blobs} blobs checked, 1 corrupted, repaired from westus"
    assert line in client.get(page).content.decode()
    assert line in client.get(f"/registries/{registry.name}/").content.decode()
    jobs_page = client.get(f"/registries/{registry.name}/jobs/", {"kind": "scrub"}).content.decode()
    assert line in jobs_page and "Verify storage" in jobs_page


def test_a_contributor_sees_no_verify_button_and_is_refused(registry, django_user_model):  # noqa: F811
    user = django_user_model.objects.create_user("carl")
    access.role_assignment_create(registry=registry, username="carl", role="contributor")
    client = signed_in(user)
    assert 'data-action="scrub"' not in client.get(f"/registries/{registry.name}/replications/").content.decode()
    assert client.post(f"/registries/{registry.name}/replications/eastus/scrub/").status_code == 403
    assert not ReplicationJob.objects.filter(kind=JobKind.SCRUB).exists()
