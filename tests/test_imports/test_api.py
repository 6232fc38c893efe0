"""POST /api/v1/registries/{name}/import/: validation, the job it queues, and real imports by a real worker."""
import crypt
import json

import pytest

from replication.choices import JobKind, JobState, ReplicaStatus
from replication.job_specs import spec_load
from replication.models import Region, Replica, ReplicationJob
from replication.oci.client import RegistryClient
from replication.oci.corpus import build_corpus, push_corpus
from replication.oci.copy import CopyError
from replication.services.imports import copy_import, credentials_open
from tests.conftest import fleet_client, wait_for

INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture
def importer(registry_with_replicas, admin_user):
    # Named apart from the e2e tests' "contoso": the regional registries live for the whole session.
    return registry_with_replicas(name="importer", replicas=(), owner=admin_user)


@pytest.fixture
def outside(registry_factory):
    """A registry outside the fleet holding a small corpus: app00 holds image indexes (two platforms)."""
    registry = registry_factory("outside")
    with RegistryClient(registry.url) as client:
        pushed = push_corpus(client, build_corpus(21, repositories=2, tags_per_repo=2), "vendor/")
    return registry, pushed


def post_import(api_client, body, name="importer"):
    return api_client.post(f"/api/v1/registries/{name}/import/", body, format="json")


# ---- validation: nothing is recorded unless the request is sound ----------------------------


@pytest.mark.parametrize("body, field", [
    ({}, "source"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "vendor/app00"}}, "source"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "vendor/app00", "reference": "no spaces"}},
     "source.reference"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "vendor/app00", "reference": "sha256:abc"}},
     "source.reference"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "Vendor/App", "reference": "1.0"}},
     "source.repository"),
    ({"source": {"registry_url": "ftp://x/y", "repository": "vendor/app00", "reference": "1.0"}},
     "source.registry_url"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "vendor/app00", "reference": "1.0"},
      "target_tags": ["no-tag-here"]}, "target_tags"),
    ({"source": {"registry_url": "registry.example.com:5000", "repository": "vendor/app00", "reference": "1.0"},
      "target_tags": ["app:bad tag"]}, "target_tags"),
])
def test_a_bad_body_is_refused_with_400_and_nothing_is_recorded(api_client, importer, body, field):
    response = post_import(api_client, body)
    assert response.status_code == 400, response.content
    assert field.split(".")[0] in json.dumps(response.json())
    assert not ReplicationJob.objects.filter(kind=JobKind.IMPORT).exists()


def test_an_unknown_registry_is_404(api_client, deployed_regions):
    body = {"source": {"registry_url": "registry.example.com:5000", "repository": "a", "reference": "1"}}
    assert post_import(api_client, body, name="nosuchregistry").status_code == 404


def test_a_registry_whose_home_is_not_ready_is_409(api_client, importer):
    Replica.objects.filter(region__name="westus").update(status=ReplicaStatus.FAILED)
    body = {"source": {"registry_url": "registry.example.com:5000", "repository": "a", "reference": "1"}}
    response = post_import(api_client, body)
    assert response.status_code == 409 and "home replica is failed" in response.json()["detail"]


def test_a_registry_whose_home_region_does_not_answer_is_409(api_client, importer):
    Region.objects.filter(name="westus").update(endpoint="http://127.0.0.1:9")
    body = {"source": {"registry_url": "registry.example.com:5000", "repository": "a", "reference": "1"}}
    response = post_import(api_client, body)
    assert response.status_code == 409 and "westus" in response.json()["detail"]


def test_the_job_goes_to_the_home_region_under_the_registry_prefix_without_the_password_in_clear(api_client, importer):
    body = {"source": {"registry_url": "http://registry.example.com:5000", "repository": "vendor/app00", "reference": "1.0",
                       "username": "alice", "password": "hunter2-very-secret"},
            "target_tags": ["imported/app:1.0", "imported/app:stable", "other:1"]}
    response = post_import(api_client, body)
    assert response.status_code == 202, response.content
    assert response["Location"].endswith(f"/api/v1/jobs/{response.json()['id']}/")
    assert response.json()["kind"] == JobKind.IMPORT and response.json()["state"] == JobState.QUEUED
    job = ReplicationJob.objects.get(pk=response.json()["id"])
    assert job.region.name == "westus" and job.replica.region.name == "westus"
    assert job.spec["images"] == [{"repository": "importer/imported/app", "tags": ["1.0", "stable"]},
                                  {"repository": "importer/other", "tags": ["1"]}]
    stored = json.dumps(job.spec)
    assert "hunter2" not in stored and "alice" not in stored
    assert credentials_open(job.spec["source"]["credentials"]) == ("alice", "hunter2-very-secret")
    assert "hunter2" not in json.dumps(api_client.get(response["Location"]).json())


def queue_import_with_credentials(api_client, source_url, settings, *, key):
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.0/8"  # the test source listens on loopback
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = key, []
    body = {"source": {"registry_url": source_url, "repository": "vendor/app00", "reference": "1.0",
                       "username": "alice", "password": "hunter2-very-secret"}, "target_tags": ["rotated/app:1.0"]}
    response = post_import(api_client, body)
    assert response.status_code == 202, response.content
    return ReplicationJob.objects.get(pk=response.json()["id"])


def test_a_queued_import_still_runs_after_a_key_rotation_that_keeps_the_old_key(api_client, importer, outside,
                                                                               settings):
    registry, pushed = outside
    job = queue_import_with_credentials(api_client, registry.url, settings, key="before-rotation-" * 4)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "after-rotation-" * 4, ["before-rotation-" * 4]
    result, _ = copy_import(job, spec_load(job.kind, job.spec), on_progress=lambda progress: None)
    assert [(c.repository, c.tag, c.digest) for c in result.copied if c.tag] == [
        ("importer/rotated/app", "1.0", pushed[("vendor/app00", "1.0")])]
    job.refresh_from_db()
    assert "credentials" not in job.spec["source"]  # erased once done


def test_a_queued_import_whose_key_is_gone_fails_saying_why(api_client, importer, settings):
    job = queue_import_with_credentials(api_client, "127.0.0.1:9", settings, key="before-rotation-" * 4)
    settings.SECRET_KEY = "after-rotation-" * 4  # the old key dropped, not kept in the fallbacks
    with pytest.raises(CopyError, match="source credentials are unreadable"):
        copy_import(job, spec_load(job.kind, job.spec), on_progress=lambda progress: None)


def test_without_target_tags_the_source_name_and_tag_are_kept(api_client, importer):
    body = {"source": {"registry_url": "docker.io", "repository": "nginx", "reference": "1.27"}}
    job = ReplicationJob.objects.get(pk=post_import(api_client, body).json()["id"])
    assert job.spec["source"] == {"registry_url": "https://registry-1.docker.io", "repository": "library/nginx",
                                  "reference": "1.27"}
    assert job.spec["images"] == [{"repository": "importer/nginx", "tags": ["1.27"]}]


# ---- real imports: real registries, a real worker ------------------------------------------


def wait_for_job(job_id, timeout=120):
    def finished():
        job = ReplicationJob.objects.get(pk=job_id)
        return job if job.state in (JobState.SUCCEEDED, JobState.FAILED) else None

    return wait_for(finished, timeout=timeout, message=f"import job {job_id} to finish")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_index_is_imported_with_every_platform_into_the_home_region(api_client, importer, deployed_regions,
                                                                        outside, celery_worker_process):
    registry, pushed = outside
    digest = pushed[("vendor/app00", "1.0")]
    body = {"source": {"registry_url": registry.url, "repository": "vendor/app00", "reference": "1.0"},
            "target_tags": ["imported/app:1.0", "imported/app:stable"]}
    response = post_import(api_client, body)
    assert response.status_code == 202, response.content

    job = wait_for_job(response.json()["id"])
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.bytes_done == job.bytes_total > 0 and job.manifests_done == job.manifests_total == 4  # 2 tags + 2 children
    with fleet_client(deployed_regions["westus"].endpoint, prefix="importer/") as home, \
            RegistryClient(registry.url) as source:
        index = home.get_manifest("importer/imported/app", "1.0")
        assert index.digest == digest and index.media_type == INDEX
        assert home.head_manifest("importer/imported/app", "stable").digest == digest
        assert index.body == source.get_manifest("vendor/app00", "1.0").body
        for child in json.loads(index.body)["manifests"]:
            platform = home.get_manifest("importer/imported/app", child["digest"])
            for layer in json.loads(platform.body)["layers"]:
                assert home.blob_exists("importer/imported/app", layer["digest"])


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_import_by_digest_with_credentials_then_replicates_like_a_push(api_client, importer, deployed_regions,
                                                                           registry_factory, celery_worker_process,
                                                                           tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n")
    private = registry_factory("private", auth={"htpasswd": {"realm": "private", "path": str(htpasswd)}})
    with RegistryClient(private.url, username="alice", password="s3cret") as client:
        pushed = push_corpus(client, build_corpus(22, repositories=1, tags_per_repo=1), "team/")
    digest = pushed[("team/app00", "latest")]
    # A second replica, ready before the import: the import must reach it too.
    assert api_client.post("/api/v1/registries/importer/replicas/", {"region": "eastus"}, format="json").status_code == 202
    wait_for(lambda: Replica.objects.filter(region__name="eastus", status=ReplicaStatus.READY).exists(),
             message="the eastus replica to be ready")

    body = {"source": {"registry_url": private.url, "repository": "team/app00", "reference": digest,
                       "username": "alice", "password": "s3cret"}, "target_tags": ["app:2.0"]}
    job = wait_for_job(post_import(api_client, body).json()["id"])
    assert job.state == JobState.SUCCEEDED, job.error
    assert "credentials" not in job.spec["source"]  # erased once done
    with fleet_client(deployed_regions["westus"].endpoint, prefix="importer/") as home:
        assert home.head_manifest("importer/app", "2.0").digest == digest

    with fleet_client(deployed_regions["eastus"].endpoint, prefix="importer/") as east:
        wait_for(lambda: (east.head_manifest("importer/app", "2.0") or None) and
                 east.head_manifest("importer/app", "2.0").digest == digest,
                 message="the imported tag to reach eastus")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_image_the_source_does_not_have_fails_the_job_with_the_reason(api_client, importer, outside,
                                                                         celery_worker_process):
    registry, _ = outside
    body = {"source": {"registry_url": registry.url, "repository": "vendor/app00", "reference": "9.9"}}
    job = wait_for_job(post_import(api_client, body).json()["id"])
    assert job.state == JobState.FAILED and "vendor/app00:9.9" in job.error
    assert Replica.objects.get(region__name="westus").status == ReplicaStatus.READY
