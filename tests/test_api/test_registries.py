"""The REST API answers every rule with a clear 400/404/409, never a 500, and refuses anonymous users."""
import pytest
from rest_framework.test import APIClient

from replication.models import Registry, Replica, ReplicationJob
from replication.services.regions import region_set_data_endpoint


@pytest.fixture
def contoso(api_client, deployed_regions):
    response = api_client.post("/api/v1/registries/", {"name": "contoso", "sku": "Premium", "home_region": "westus"},
                               format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_anonymous_requests_are_refused(catalog):
    client = APIClient()
    for url in ["/api/v1/registries/", "/api/v1/regions/", "/api/v1/skus/", "/api/v1/jobs/1/"]:
        assert client.get(url).status_code in (401, 403)


def test_token_is_issued_for_valid_credentials(admin_user):
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "correct-horse"})
    assert response.status_code == 200 and response.json()["token"]


def test_regions_and_skus_are_listed(api_client, deployed_regions):
    regions = {r["name"]: r for r in api_client.get("/api/v1/regions/").json()}
    assert len(regions) >= 50
    assert regions["westus"]["available"] is True and regions["westus"]["deployed"] is True
    assert regions["japaneast"]["available"] is False
    assert regions["westeurope"]["paired_region"] == "northeurope"
    skus = {s["name"]: s for s in api_client.get("/api/v1/skus/").json()}
    assert skus["Premium"]["geo_replication"] and not skus["Basic"]["geo_replication"]
    assert skus["Standard"]["price_per_day_usd"] == "0.667" and skus["Basic"]["max_webhooks"] == 2


def test_create_list_retrieve_registry(api_client, contoso):
    assert contoso["name"] == "contoso" and contoso["sku"] == "Premium" and contoso["replica_count"] == 1
    assert contoso["monthly_cost_usd"] == "50.01"
    assert [r["name"] for r in api_client.get("/api/v1/registries/").json()] == ["contoso"]
    assert api_client.get("/api/v1/registries/CONTOSO/").json()["home_region"] == "westus"


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"name": "abc", "sku": "Premium", "home_region": "westus"}, 400, "name"),
        ({"name": "fabrikam", "sku": "Gold", "home_region": "westus"}, 400, "sku"),
        ({"name": "fabrikam", "sku": "Premium", "home_region": "atlantis"}, 400, "home_region"),
        ({"name": "fabrikam", "sku": "Premium", "home_region": "japaneast"}, 409, "home_region"),
        ({"name": "Contoso", "sku": "Premium", "home_region": "eastus"}, 409, "name"),
    ],
)
def test_bad_registry_bodies_get_clear_errors(api_client, contoso, body, status, field):
    response = api_client.post("/api/v1/registries/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and response.json()["detail"]
    assert Registry.objects.count() == 1


def test_malformed_bodies_are_400(api_client, contoso):
    assert api_client.post("/api/v1/registries/", {"name": "fabrikam"}, format="json").status_code == 400
    assert api_client.post("/api/v1/registries/", "not json", content_type="application/json").status_code == 400
    assert api_client.patch("/api/v1/registries/contoso/", {}, format="json").status_code == 400
    response = api_client.patch("/api/v1/registries/contoso/replicas/westus/", {"region_endpoint_enabled": "maybe"},
                                format="json")
    assert response.status_code == 400


def test_unknown_names_are_404(api_client, contoso):
    assert api_client.get("/api/v1/registries/nothere/").status_code == 404
    assert api_client.get("/api/v1/registries/nothere/replicas/").status_code == 404
    assert api_client.get("/api/v1/registries/contoso/replicas/atlantis/").status_code == 404
    assert api_client.get("/api/v1/registries/contoso/replicas/eastus/").status_code == 404
    assert api_client.post("/api/v1/registries/contoso/replicas/", {"region": "atlantis"},
                           format="json").status_code == 404
    assert api_client.get("/api/v1/jobs/999999/").status_code == 404
    assert api_client.get("/api/v1/regions/atlantis/").status_code == 404


def test_create_replica_answers_202_with_the_job(api_client, contoso):
    response = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["region"] == "eastus" and body["status"] == "creating"
    job = body["latest_job"]
    assert job["state"] == "queued" and job["kind"] == "initial"
    assert response["Location"] == job["url"]
    assert api_client.get(job["url"]).json()["id"] == job["id"]
    listed = api_client.get("/api/v1/registries/contoso/replicas/").json()
    assert sorted(r["region"] for r in listed) == ["eastus", "westus"]


def test_replica_rules_answer_409(api_client, contoso):
    url = "/api/v1/registries/contoso/replicas/"
    assert api_client.post(url, {"region": "westus"}, format="json").status_code == 409
    assert api_client.post(url, {"region": "japaneast"}, format="json").status_code == 409
    api_client.post(url, {"region": "eastus"}, format="json")
    duplicate = api_client.post(url, {"region": "eastus"}, format="json")
    assert duplicate.status_code == 409 and "already has a replica" in duplicate.json()["detail"]
    downgrade = api_client.patch("/api/v1/registries/contoso/", {"sku": "Standard"}, format="json")
    assert downgrade.status_code == 409 and "eastus" in downgrade.json()["detail"]
    home = api_client.delete(url + "westus/")
    assert home.status_code == 409 and "home replica" in home.json()["detail"]
    assert Replica.objects.count() == 2 and ReplicationJob.objects.count() == 1


def test_basic_registry_cannot_have_replicas(api_client, deployed_regions):
    api_client.post("/api/v1/registries/", {"name": "fabrikam", "sku": "Basic", "home_region": "westus"},
                    format="json")
    response = api_client.post("/api/v1/registries/fabrikam/replicas/", {"region": "eastus"}, format="json")
    assert response.status_code == 409 and "Basic" in response.json()["detail"]


def test_patch_sku_and_routing_switch(api_client, contoso):
    assert api_client.patch("/api/v1/registries/contoso/", {"sku": "Standard"}, format="json").json()["sku"] == \
        "Standard"
    response = api_client.patch("/api/v1/registries/contoso/replicas/westus/", {"region_endpoint_enabled": False},
                                format="json")
    assert response.status_code == 200 and response.json()["region_endpoint_enabled"] is False
    endpoints = api_client.get("/api/v1/registries/contoso/endpoints/").json()
    assert endpoints["data_endpoints"] == []


def test_endpoints_give_each_region_base_url(api_client, contoso, deployed_regions):
    api_client.post("/api/v1/registries/contoso/replicas/", {"region": "eastus"}, format="json")
    endpoints = api_client.get("/api/v1/registries/contoso/endpoints/").json()
    assert endpoints["data_endpoints"] == [
        {"region": "eastus", "endpoint": deployed_regions["eastus"].endpoint},
        {"region": "westus", "endpoint": deployed_regions["westus"].endpoint},
    ]


def test_endpoints_list_a_regions_data_endpoint_once_it_has_one(api_client, contoso, deployed_regions):
    region_set_data_endpoint(name="westus", data_endpoint="http://127.0.0.1:5201")
    endpoints = api_client.get("/api/v1/registries/contoso/endpoints/").json()
    assert endpoints["data_endpoints"] == [{"region": "westus", "endpoint": "http://127.0.0.1:5201"}]


def test_delete_registry(api_client, contoso):
    assert api_client.delete("/api/v1/registries/contoso/").status_code == 204
    assert not Registry.objects.exists() and not Replica.objects.exists()
    assert api_client.delete("/api/v1/registries/contoso/").status_code == 404


def test_openapi_schema_and_offline_docs(api_client, catalog):
    schema = api_client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/registries/{name}/replicas/" in paths and "/api/v1/jobs/{id}/" in paths
    docs = api_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "https://" not in docs and "http://" not in docs


def test_sync_again_answers_202_with_a_job_or_409(api_client, contoso):
    url = "/api/v1/registries/contoso/replicas/"
    created = api_client.post(url, {"region": "eastus"}, format="json").json()
    busy = api_client.post(url + "eastus/sync/")
    assert busy.status_code == 409 and "already queued" in busy.json()["detail"]
    ReplicationJob.objects.filter(pk=created["latest_job"]["id"]).update(state="failed")
    response = api_client.post(url + "eastus/sync/")
    assert response.status_code == 202 and response.json()["state"] == "queued"
    assert response["Location"] == response.json()["url"]
    assert api_client.post(url + "westus/sync/").status_code == 409
    assert api_client.post(url + "japaneast/sync/").status_code == 404
