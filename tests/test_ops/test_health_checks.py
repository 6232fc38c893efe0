"""Point 3 of issue 13: /healthz answers while the process does; /readyz checks the database, the broker and the
recorded health of the registries' home regions, and says which check failed (503)."""
import httpx
import pytest
from django.test import Client
from django.utils import timezone

from replication.choices import RegionHealthState
from replication.dataplane import find_free_port
from replication.models import Region, Registry, RegionHealth, Sku

from .conftest import production_env


def test_healthz_and_readyz_answer_without_sign_in(db):
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content
    assert ready.json() == {"status": "ok", "checks": {"database": {"ok": True}, "broker": {"ok": True},
                                                       "home_regions": {"ok": True}}}
    assert "no-cache" in ready.headers["Cache-Control"]


@pytest.fixture
def contoso_homed_in_westus(catalog, admin_user):
    westus = Region.objects.get(name="westus")
    Registry.objects.create(name="contoso", sku=Sku.objects.get(name="Premium"), home_region=westus, owner=admin_user)
    return westus


def record_health(region, state):
    RegionHealth.objects.update_or_create(region=region, defaults={"state": state, "since": timezone.now(),
                                                                   "checked_at": timezone.now()})


def test_readyz_fails_while_a_home_region_is_recorded_down(contoso_homed_in_westus):
    westus = contoso_homed_in_westus
    record_health(westus, RegionHealthState.UP)
    assert Client().get("/readyz").status_code == 200
    record_health(westus, RegionHealthState.DOWN)
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["home_regions"] == {"ok": False, "error": "home region(s) down: westus"}
    assert answer.json()["checks"]["database"] == {"ok": True}


def test_a_region_down_that_is_no_registrys_home_does_not_fail_readyz(contoso_homed_in_westus):
    record_health(Region.objects.get(name="eastus"), RegionHealthState.DOWN)
    record_health(contoso_homed_in_westus, RegionHealthState.UNKNOWN)  # not probed yet: not a reason to wait
    assert Client().get("/readyz").status_code == 200


def closed_port() -> int:
    return find_free_port()  # nothing listens there once the probe socket closed


def test_readyz_fails_when_the_database_is_unreachable(production_var, start_portal):
    portal = start_portal(production_env(production_var, DATABASE_URL=f"postgres://portal@127.0.0.1:{closed_port()}/x",
                                         CACHE_URL="locmem://"))
    assert httpx.get(portal.url + "/healthz", timeout=30).status_code == 200  # the process still answers
    answer = httpx.get(portal.url + "/readyz", timeout=30)
    assert answer.status_code == 503, answer.text
    checks = answer.json()["checks"]
    assert checks["database"]["ok"] is False and "connection" in checks["database"]["error"].lower()
    assert checks["broker"] == {"ok": True}
    assert checks["home_regions"]["ok"] is False  # not checked without a database
    assert answer.json()["status"] == "unavailable"


def test_readyz_fails_when_the_broker_is_unreachable(production_var, start_portal):
    portal = start_portal(production_env(production_var, CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0"))
    answer = httpx.get(portal.url + "/readyz", timeout=60)
    assert answer.status_code == 503, answer.text
    checks = answer.json()["checks"]
    assert checks["broker"]["ok"] is False and checks["broker"]["error"]
    assert checks["database"] == {"ok": True} and checks["home_regions"] == {"ok": True}


def test_probes_over_plain_http_are_not_redirected_to_https(settings, db):
    """Load balancers probe over http from inside the network, while every page is redirected to https."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # a new client loads SecurityMiddleware with this setting
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
