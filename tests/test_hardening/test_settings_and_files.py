"""DEBUG is off unless asked for, the portal refuses to start without a real key with DEBUG off, static
files are served with DEBUG off, and the secrets under var/ are readable by their owner only."""
import os
import re
import sqlite3
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.test import Client

from portal.local_secrets import secret_key_file_ensure
from replication import services
from replication.management.commands.run_local import admin_credentials
from tests.conftest import ROOT

PUBLIC_DEVELOPMENT_KEY = "dev-only-insecure-key-change-me-in-production"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def portal_process(var_dir, *, code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    """A fresh Python process loading the portal's settings as `manage.py` would, outside pytest."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_VERSION", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DATABASE_URL",
                        "CELERY_BROKER_URL", "CELERY_BROKER_FOLDER")}
    env.update(GEOREGISTRY_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="portal.settings")
    for name, value in env_changes.items():
        if value is not None:
            env[name] = value
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_debug_is_off_when_DJANGO_DEBUG_is_not_set(tmp_path):
    result = portal_process(tmp_path, code="from django.conf import settings; print(settings.DEBUG)",
                            DJANGO_SECRET_KEY="a-key-for-this-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("key", [None, "", PUBLIC_DEVELOPMENT_KEY], ids=["unset", "empty", "public-default"])
def test_the_portal_refuses_to_start_with_debug_off_and_no_real_key(tmp_path, key):
    result = portal_process(tmp_path, code="print('started')", DJANGO_SECRET_KEY=key)
    assert result.returncode != 0 and "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr


def test_manage_py_refuses_too(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "DJANGO_DEBUG", "DJANGO_SECRET_KEY")}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "GEOREGISTRY_VAR_DIR": str(tmp_path)}, timeout=120)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr


def test_debug_on_asked_for_starts_with_the_development_key(tmp_path):
    result = portal_process(tmp_path, code="from django.conf import settings; print(settings.DEBUG)",
                            DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_generated_key_is_private_kept_and_used_when_DJANGO_SECRET_KEY_is_unset(tmp_path):
    key_file = secret_key_file_ensure(tmp_path / "secret-key.txt")
    key = key_file.read_text()
    assert mode(key_file) == 0o600 and len(key) >= 50
    assert secret_key_file_ensure(key_file).read_text() == key  # generated once, kept afterwards
    result = portal_process(tmp_path, code="from django.conf import settings; print(settings.SECRET_KEY)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key
    overridden = portal_process(tmp_path, code="from django.conf import settings; print(settings.SECRET_KEY)",
                                DJANGO_SECRET_KEY="from-the-environment")
    assert overridden.stdout.strip() == "from-the-environment"


def test_var_folder_database_and_broker_folder_are_private(tmp_path):
    var_dir = tmp_path / "var"
    secret_key_file_ensure(var_dir / "secret-key.txt")
    result = portal_process(var_dir, code="from django.core.management import call_command; "
                                          "call_command('migrate', verbosity=0)")
    assert result.returncode == 0, result.stderr
    database = var_dir / "portal.sqlite3"
    assert mode(var_dir) == 0o700
    assert mode(database) == 0o600 and database.stat().st_size > 0
    for folder in ["broker", "broker/queue", "broker/processed", "broker/control"]:
        assert mode(var_dir / folder) == 0o700, folder
    # SQLite gives the files beside the database the database's own mode.
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE written (x)")
    connection.commit()
    assert mode(f"{database}-wal") == 0o600 and mode(f"{database}-shm") == 0o600
    connection.close()


def test_files_left_readable_by_an_older_version_are_made_private(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    secret_key_file_ensure(var_dir / "secret-key.txt")
    for name in ["secret-key.txt", "portal.sqlite3"]:
        (var_dir / name).touch()
        (var_dir / name).chmod(0o644)
    var_dir.chmod(0o755)
    result = portal_process(var_dir, code="print('started')")
    assert result.returncode == 0, result.stderr
    assert mode(var_dir) == 0o700
    assert mode(var_dir / "secret-key.txt") == 0o600 and mode(var_dir / "portal.sqlite3") == 0o600


def test_the_admin_password_file_is_private_new_or_old(settings, tmp_path, db):
    settings.VAR_DIR = tmp_path
    username, password, _ = admin_credentials()
    path = tmp_path / "admin-password.txt"
    assert mode(path) == 0o600 and path.read_text() == password
    path.chmod(0o644)
    assert admin_credentials()[1] == password and mode(path) == 0o600


def test_the_map_page_loads_every_vendored_file_with_debug_off(settings, tmp_path, deployed_regions, admin_user):
    """What `make run` does: collectstatic, then WhiteNoise serves every file the map page asks for."""
    assert settings.DEBUG is False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    services.registry_create(name="contoso", sku="Premium", home_region="westus", owner=admin_user)
    browser = Client()  # a new client loads the middlewares, WhiteNoise reading this STATIC_ROOT
    browser.force_login(admin_user)
    page = browser.get("/registries/contoso/replications/").content.decode()
    static_paths = set(re.findall(r"/static/[\w./-]+\.\w+", page))
    for expected in ["/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
                     "/static/vendor/jquery/jquery.min.js", "/static/vendor/topojson-client/topojson-client.min.js",
                     "/static/css/portal.css"]:
        assert expected in static_paths, sorted(static_paths)
    assert "topojson.feature(" in page and "arcs" in page  # the basemap (Natural Earth) is inside the page
    # Leaflet's stylesheet asks for its images in turn.
    leaflet_css = (ROOT / "static/vendor/leaflet/leaflet.css").read_text()
    static_paths |= {f"/static/vendor/leaflet/{name}" for name in re.findall(r"url\((images/[\w.-]+)\)", leaflet_css)}
    assert "/static/vendor/leaflet/images/marker-icon.png" in static_paths
    for path in sorted(static_paths):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content) == (ROOT / "static" / path.removeprefix("/static/")).read_bytes()
