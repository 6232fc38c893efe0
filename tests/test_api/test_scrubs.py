"""GET/POST /api/v1/registries/{name}/replicas/{region}/scrubs/ and .../scrubs/{id}/: who may scrub, what is
refused, and a corrupted blob's report (real registries; the job runs in the test process)."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from replication.choices import JobKind, JobState
from replication.jobs.runner import job_run
from replication.models import ReplicationJob, ScrubRun
from replication.services import access
from replication.services.scrub import stored_data_path
from tests.scrubbing import flip_bytes, registry, shared_layer  # noqa: F401 (registry: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def owner_client(registry, admin_user):  # noqa: F811
    admin_user.is_staff = False
    admin_user.save(update_fields=["is_staff"])  # the registry's owner, not staff: the role decides
    return client_for(admin_user)


def with_role(registry, django_user_model, username, role):  # noqa: F811
    user = django_user_model.objects.create_user(username)
    if role:
        access.role_assignment_create(registry=registry, username=username, role=role)
    return client_for(user)


def scrubs_url(registry, region="eastus"):  # noqa: F811
    return f"/api/v1/registries/{registry.name}/replicas/{region}/scrubs/"


def test_an_owner_scrubs_a_replica_and_reads_the_corrupted_blob_repaired(registry, owner_client,  # noqa: F811
                                                                        deployed_regions):
    digest = shared_layer(registry.corpus)
    flip_bytes(stored_data_path(region=deployed_regions["eastus"], digest=digest))

    response = owner_client.post(scrubs_url(registry))
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"] and body["state"] == "queued" and body["job"]["kind"] == "scrub"
    assert job_run(job_id=body["job"]["id"]).state == JobState.SUCCEEDED

    run = owner_client.get(body["url"]).json()
    assert run["state"] == "succeeded" and run["trigger"] == ""
    assert (run["corrupt_found"], run["repaired"], run["unrecoverable"]) == (1, 1, 0)
    assert run["blobs_checked"] == len(registry.corpus.unique_blobs())
    assert run["findings"][0]["digest"] == digest and run["findings"][0]["source_region"] == "westus"
    assert run["summary"] == f"Scrub: {run['blobs_checked']} blobs checked, 1 corrupted, repaired from westus"
    assert run["job"]["blobs_done"] == run["job"]["blobs_total"] == run["blobs_checked"]
    assert [r["id"] for r in owner_client.get(scrubs_url(registry)).json()] == [run["id"]]

    history = owner_client.get(f"/api/v1/registries/{registry.name}/jobs/", {"kind": "scrub"}).json()
    assert [(j["id"], j["trigger"]) for j in history["results"]] == [(run["job"]["id"], "Verify storage")]


def test_the_home_replica_can_be_scrubbed_too(registry, owner_client):  # noqa: F811
    response = owner_client.post(scrubs_url(registry, "westus"))
    assert response.status_code == 202
    assert job_run(job_id=response.json()["job"]["id"]).state == JobState.SUCCEEDED
    assert ScrubRun.objects.get(pk=response.json()["id"]).corrupt_found == 0


def test_a_second_scrub_while_one_is_queued_is_a_409(registry, owner_client):  # noqa: F811
    assert owner_client.post(scrubs_url(registry)).status_code == 202
    response = owner_client.post(scrubs_url(registry))
    assert response.status_code == 409 and "already queued or running" in response.json()["detail"]
    assert ReplicationJob.objects.filter(kind=JobKind.SCRUB).count() == 1


@pytest.mark.parametrize("role, get_status, post_status", [
    ("contributor", 200, 403), ("pull", 200, 403), (None, 404, 404)])
def test_only_owners_scrub_and_strangers_see_nothing(registry, django_user_model, role, get_status,  # noqa: F811
                                                    post_status):
    client = with_role(registry, django_user_model, "casey", role)
    assert client.get(scrubs_url(registry)).status_code == get_status
    assert client.post(scrubs_url(registry)).status_code == post_status
    assert not ScrubRun.objects.exists() and not ReplicationJob.objects.filter(kind=JobKind.SCRUB).exists()


def test_unknown_names_and_ids_are_404(registry, owner_client):  # noqa: F811
    assert owner_client.get(scrubs_url(registry, "nowhere")).status_code == 404
    assert owner_client.post(scrubs_url(registry, "canadacentral")).status_code == 404  # no replica there
    assert owner_client.get("/api/v1/registries/nosuchregistry/replicas/eastus/scrubs/").status_code == 404
    assert owner_client.get(scrubs_url(registry) + "999999/").status_code == 404
    other = owner_client.post(scrubs_url(registry, "westus")).json()
    assert owner_client.get(scrubs_url(registry, "eastus") + f"{other['id']}/").status_code == 404, \
        "a scrub is found under its own replica only"
