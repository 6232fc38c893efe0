"""Point 1 of issue 13: the portal runs under gunicorn with hashed, compressed static files, and
`check --deploy` is clean with the production settings the README documents."""
import re
import subprocess
import sys

import httpx

from .conftest import ROOT, manage, production_env

# The settings docs/deploy.md and the README give a portal behind a TLS proxy.
PRODUCTION_SETTINGS = {
    "DJANGO_ALLOWED_HOSTS": "registry.example.com", "DJANGO_CSRF_TRUSTED_ORIGINS": "https://registry.example.com",
    "DJANGO_BEHIND_TLS_PROXY": "1", "DJANGO_SSL_REDIRECT": "1", "DJANGO_SECURE_COOKIES": "1",
    "DJANGO_HSTS_SECONDS": "31536000", "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1", "DJANGO_HSTS_PRELOAD": "1",
}


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_documented_production_settings(production_var):
    result = check_deploy(production_env(production_var, **PRODUCTION_SETTINGS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_them(production_var):
    """The other half: the same check does fail on the defaults (plain http for `make run`)."""
    result = check_deploy(production_env(production_var))
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_the_portal_answers_through_gunicorn_with_hashed_compressed_static_files(production_var, start_portal):
    portal = start_portal(production_env(production_var))
    login = httpx.get(portal.url + "/accounts/login/", timeout=30)
    assert login.status_code == 200 and login.headers["server"] == "gunicorn"
    assert 'name="password"' in login.text
    # The page names the stylesheet by its content hash (collectstatic's manifest).
    stylesheet = re.search(r'/static/css/portal\.([0-9a-f]{12})\.css', login.text)
    assert stylesheet, login.text
    answer = httpx.get(portal.url + stylesheet.group(0), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"  # WhiteNoise's precompressed copy
    assert "immutable" in answer.headers["cache-control"]  # a hashed name never changes content
    assert answer.content == (ROOT / "static/css/portal.css").read_bytes()  # httpx decompressed it
    assert "Internal Server Error" not in portal.log()


def test_an_unknown_url_gets_the_portals_own_404_page(production_var, start_portal):
    portal = start_portal(production_env(production_var))
    answer = httpx.get(portal.url + "/no/such/page/", timeout=30)
    assert answer.status_code == 404
    assert "<title>Not found · Geo-replicated registry</title>" in answer.text
    assert "Page not found at" not in answer.text  # not Django's debug page
    assert httpx.get(portal.url + "/api/v1/no-such-thing/", timeout=30).json()["code"] == "not_found"


def test_run_portal_refuses_to_start_without_collected_static_files(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "run_portal", "--bind", "127.0.0.1:1"], cwd=ROOT,
                            env=production_env(tmp_path), capture_output=True, text=True)
    assert result.returncode != 0 and "collectstatic" in result.stderr


def test_every_page_of_a_registry_renders_with_the_hashed_static_files(production_var, start_portal):
    """Test runs use plain static names; this is where a page that names a static file the manifest does not
    know (or builds its URLs by hand) would fail: the map page once answered 500 under `make run`."""
    env = production_env(production_var)
    manage("shell", "-c", """
from django.contrib.auth import get_user_model
from replication.models import Region, Registry, Replica, Sku
from replication.choices import ReplicaStatus
get_user_model().objects.create_superuser("olga", password="pages-under-gunicorn")
westus = Region.objects.get(name="westus")
registry = Registry.objects.create(name="hashed", sku=Sku.objects.get(name="Premium"), home_region=westus)
Replica.objects.create(registry=registry, region=westus, status=ReplicaStatus.READY)
""", env=env)
    portal = start_portal(env)
    with httpx.Client(base_url=portal.url, timeout=30) as browser:
        form = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        signed_in = browser.post("/accounts/login/", data={"csrfmiddlewaretoken": token, "username": "olga",
                                                           "password": "pages-under-gunicorn"})
        assert signed_in.status_code == 302, signed_in.text
        for path in ("/registries/", "/registries/hashed/", "/registries/hashed/replications/",
                     "/registries/hashed/webhooks/", "/registries/hashed/jobs/", "/registries/hashed/delete/",
                     "/registries/hashed/fragments/map/", "/registries/fragments/list/"):
            page = browser.get(path)
            assert page.status_code == 200, (path, page.status_code)
        map_page = browser.get("/registries/hashed/replications/").text
        for vendored in re.findall(r'(?:src|href)="(/static/[^"]+)"', map_page):
            assert re.search(r"\.[0-9a-f]{12}\.(js|css|svg)$", vendored), vendored  # named by their hashes
            assert browser.get(vendored).status_code == 200, vendored
    assert "Internal Server Error" not in portal.log()
