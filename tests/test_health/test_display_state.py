"""Health you can trust: a replica in an unreachable region says so in the API and on every page, from the
recorded probe; a registry whose home region is unreachable shows a banner on each of its pages."""
import pytest

from replication.choices import ReplicaStatus
from replication.services.health import region_health_probe

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    return client


def replica_json(api_client, registry="contoso", region="westeurope") -> dict:
    return api_client.get(f"/api/v1/registries/{registry}/replicas/{region}/").json()


def test_replica_in_a_stopped_region_is_unreachable_in_the_api_once_probed(api_client, registry_with_replicas,
                                                                           westeurope_registry):
    registry_with_replicas(replicas=("westeurope",), status=ReplicaStatus.READY, status_message="In sync with westus.")
    region_health_probe()
    healthy = replica_json(api_client)
    assert healthy["display_state"] == "ready" and healthy["status"] == "ready"
    assert healthy["health"]["state"] == "healthy" and healthy["health"]["error"] == ""
    assert healthy["health"]["since"] and healthy["health"]["checked_at"]

    westeurope_registry.stop()
    assert replica_json(api_client) == healthy  # reads never probe: nothing changes until the probe runs
    region_health_probe()
    dead = replica_json(api_client)
    assert dead["status"] == "ready"  # the stored status is the worker's; what people are shown is:
    assert dead["display_state"] == "unreachable"
    assert dead["health"]["state"] == "unreachable" and "ConnectError" in dead["health"]["error"]
    assert dead["display_message"].startswith("Region westeurope is unreachable since ")
    assert "In sync with westus." in dead["display_message"]
    listed = {r["region"]: r for r in api_client.get("/api/v1/registries/contoso/replicas/").json()}
    assert listed["westeurope"]["display_state"] == "unreachable" and listed["westus"]["display_state"] == "ready"
    region = api_client.get("/api/v1/regions/westeurope/").json()
    assert region["health"] == dead["health"]

    westeurope_registry.start()
    region_health_probe()
    back = replica_json(api_client)
    assert back["display_state"] == "ready" and back["health"]["state"] == "healthy"


def test_a_deleting_replica_in_a_dead_region_stays_deleting(api_client, registry_with_replicas, westeurope_registry):
    registry_with_replicas(replicas=("westeurope",), status=ReplicaStatus.DELETING)
    westeurope_registry.stop()
    region_health_probe()
    replica = replica_json(api_client)
    assert replica["display_state"] == "deleting" and replica["health"]["state"] == "unreachable"


def test_pages_mark_the_unreachable_replica_in_table_popup_and_badge(signed_in, registry_with_replicas,
                                                                     westeurope_registry):
    registry_with_replicas(replicas=("westeurope",), status=ReplicaStatus.READY, status_message="In sync with westus.")
    westeurope_registry.stop()
    region_health_probe()
    overview = signed_in.get("/registries/contoso/").content.decode()
    assert 'data-region="westeurope" data-status="ready" data-state="unreachable"' in overview
    assert 'class="badge status-unreachable" data-state="unreachable"' in overview
    assert "Region westeurope is unreachable since" in overview
    assert 'data-region="westus" data-status="ready" data-state="ready"' in overview
    replications = signed_in.get("/registries/contoso/replications/").content.decode()
    assert 'data-state="unreachable"' in replications
    # The map's popup for the replica (rendered into the map's HTML) says it too.
    popup = signed_in.get("/registries/contoso/replications/").context["region_map"]
    assert "status-unreachable" in popup.script
    assert 'id="home-outage"' not in overview  # the home region answers


def test_home_region_unreachable_shows_the_banner_on_every_registry_page(signed_in, registry_with_replicas,
                                                                         westeurope_registry):
    registry_with_replicas(name="fabrikam", home="westeurope", replicas=("westus",))
    region_health_probe()
    assert 'id="home-outage"' not in signed_in.get("/registries/fabrikam/").content.decode()

    westeurope_registry.stop()
    region_health_probe()
    for url in ("/registries/fabrikam/", "/registries/fabrikam/replications/"):
        page = signed_in.get(url).content.decode()
        assert 'id="home-outage"' in page and 'data-region="westeurope"' in page, url
        assert "The home region West Europe is unreachable" in page
        # westus is ready but has just... been probed up long enough? It takes traffic only after the cooldown.
        assert "New replicas and syncs copy from the home region" in page


def test_the_registry_list_shows_each_registrys_health(signed_in, registry_with_replicas, westeurope_registry):
    from django.utils import timezone

    from replication.models import ImageReplication, Region

    registry = registry_with_replicas(replicas=("westeurope", "eastus"), status=ReplicaStatus.READY)
    registry_with_replicas(name="fabrikam", replicas=("eastus",), status=ReplicaStatus.FAILED)
    common = {"registry": registry, "repository": "contoso/web", "digest": "sha256:" + "c" * 64,
              "pushed_at": timezone.now()}
    ImageReplication.objects.create(region=Region.objects.get(name="eastus"), reference="1.0", status="pending",
                                    **common)
    ImageReplication.objects.create(region=Region.objects.get(name="eastus"), reference="2.0", status="failed",
                                    **common)
    westeurope_registry.stop()
    region_health_probe()
    page = signed_in.get("/registries/").content.decode()
    assert ('data-health="attention" data-replicas-ready="2" data-replicas-total="3" data-unreachable="westeurope" '
            'data-images-pending="1" data-images-failed="1"') in " ".join(page.split())
    assert "2/3 ready" in page and "Unreachable: westeurope" in page and "Images: 1 pending, 1 failed" in page
    assert 'data-replicas-ready="1" data-replicas-total="2" data-unreachable=""' in " ".join(page.split())


def test_the_banner_names_the_replicas_that_serve_meanwhile(signed_in, registry_with_replicas, westeurope_registry,
                                                            settings):
    registry_with_replicas(name="fabrikam", home="westeurope", replicas=("westus",))
    registry_with_replicas(name="lonely", home="westeurope", replicas=())
    region_health_probe()
    westeurope_registry.stop()
    region_health_probe()
    page = signed_in.get("/registries/fabrikam/").content.decode()
    # westus was just probed up: cooling down, which the endpoint still uses when nothing else is routable.
    assert "Pulls through the login server, served by westus" in page and "fail (503)" not in page

    page = signed_in.get("/registries/lonely/").content.decode()
    assert "No other replica takes traffic: pulls and pushes through the login server fail (503)." in page
