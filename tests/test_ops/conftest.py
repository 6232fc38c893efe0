"""A portal started the way production starts it (`manage.py run_portal`: gunicorn, DEBUG off, hashed static
files), in a var/ folder of its own with its own SQLite database, outside pytest's settings."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from replication.dataplane import find_free_port
from replication.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]


def production_env(var_dir: Path, **overrides) -> dict:
    """The environment of a portal outside the tests: no PYTEST_VERSION (so the settings are production's)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTEST_VERSION", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_BROKER_FOLDER",
                           "CACHE_URL", "DJANGO_SETTINGS_MODULE", "STATICFILES_MANIFEST")}
    env.update(GEOREGISTRY_VAR_DIR=str(var_dir), DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_DEBUG="0",
               PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def manage(*argv, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)


class PortalProcess:
    """`manage.py run_portal` on a free port; `log()` is what it wrote."""

    def __init__(self, *, env: dict, log_path: Path):
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", "4"], cwd=ROOT, env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)

        def answers():
            if self.popen.poll() is not None:
                raise RuntimeError(f"run_portal exited:\n{self.log()}")
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60, interval=0.2, message="run_portal to answer")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()  # gunicorn's arbiter stops its workers
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait()


@pytest.fixture(scope="module")
def production_var(tmp_path_factory):
    """A var/ folder as `make run` leaves it: migrated SQLite database, collected (hashed) static files."""
    var_dir = tmp_path_factory.mktemp("production-var")
    env = production_env(var_dir)
    manage("migrate", "--verbosity", "0", env=env)
    manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
    return var_dir


@pytest.fixture
def start_portal(tmp_path):
    started = []

    def start(env: dict) -> PortalProcess:
        portal = PortalProcess(env=env, log_path=tmp_path / f"portal-{len(started)}.log")
        started.append(portal)
        return portal

    yield start
    for portal in started:
        portal.stop()
