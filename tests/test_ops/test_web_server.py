"""Point 1 of issue 13: the portal runs under gunicorn with hashed, compressed static files, and
`check --deploy` is clean with the production settings the README documents."""
import re
import subprocess
import sys

import httpx

from .conftest import ROOT, production_env

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
