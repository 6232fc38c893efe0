"""The region API reads recorded health: a stopped registry shows only once the probe has run."""
from replication.services.health import region_health_probe


def regions_by_name(api_client) -> dict[str, dict]:
    return {r["name"]: r for r in api_client.get("/api/v1/regions/").json()}


def test_region_list_and_detail_read_recorded_health_until_the_probe_runs(api_client, westeurope_registry):
    before = regions_by_name(api_client)["westeurope"]
    assert before["available"] is True and before["health"]["state"] == "healthy" and before["health_since"]

    westeurope_registry.stop()
    # No network in a read: the region still shows what the last probe recorded.
    assert regions_by_name(api_client)["westeurope"] == before
    assert api_client.get("/api/v1/regions/westeurope/").json() == before

    region_health_probe()
    after = regions_by_name(api_client)["westeurope"]
    assert after["available"] is False and after["health"]["state"] == "unreachable" and after["health_since"] > before["health_since"]
    assert api_client.get("/api/v1/regions/westeurope/").json() == after


def test_a_region_never_probed_is_unknown(api_client, catalog):
    japaneast = regions_by_name(api_client)["japaneast"]
    assert japaneast["health"]["state"] == "unknown" and japaneast["health_since"] is None and japaneast["available"] is False


def test_replica_create_in_a_stopped_region_is_409_even_while_its_record_says_up(api_client, westeurope_registry):
    api_client.post("/api/v1/registries/", {"name": "contoso", "sku": "Premium", "home_region": "westus"},
                    format="json")
    westeurope_registry.stop()
    assert regions_by_name(api_client)["westeurope"]["available"] is True
    response = api_client.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"}, format="json")
    assert response.status_code == 409 and "'westeurope' is not available" in response.json()["detail"]
    assert regions_by_name(api_client)["westeurope"]["health"]["state"] == "unreachable"
