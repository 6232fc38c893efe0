import os
import secrets
import signal
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from portal.local_secrets import private_dir_ensure, private_file_create
from replication.demo import demo_registry_seed
from replication.endpoint.server import data_endpoint_command, endpoint_argv, portal_argv
from replication.local_fleet import LocalFleet
from replication.management.commands.run_worker import local_workers
from replication.metrics import multiproc_dir_prepare
from replication.services.regions import region_set_data_endpoint


def admin_credentials() -> tuple[str, str, str]:
    """The admin the product starts with; the password is generated once and kept under var/."""
    path = settings.VAR_DIR / "admin-password.txt"
    private_file_create(path, content=secrets.token_urlsafe(12))  # 0600; an existing one is kept (and made 0600)
    password = path.read_text().strip()
    user, _ = get_user_model().objects.get_or_create(username="admin", defaults={"is_staff": True,
                                                                                  "is_superuser": True})
    if not user.check_password(password):
        user.set_password(password)
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user.username, password, token.key


def wait_for_portal(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/oauth2/token", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the portal did not answer on {url} within {timeout:.0f} s; see var/logs/portal.log")


class Command(BaseCommand):
    help = "Run the whole product on this machine: regional registries, a Celery worker and beat, the portal."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo registry 'contoso'.")

    def handle(self, *args, addr, no_demo, **options):
        private_dir_ensure(settings.VAR_DIR)
        multiproc_dir_prepare(settings.VAR_DIR / "metrics" / "local")  # every process below counts in it: /metrics
        call_command("migrate", verbosity=0)
        # WhiteNoise serves STATIC_ROOT, with the hashed names collectstatic writes down.
        call_command("collectstatic", interactive=False, verbosity=0)
        username, password, token = admin_credentials()
        children: list[subprocess.Popen] = []
        stopping = []

        def request_stop(*_):
            stopping.append(True)

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        fleet = LocalFleet(portal_url=f"http://{addr}")
        try:
            for process in fleet.start():
                self.stdout.write(f"region {process.name:<15} registry at {process.url}")
            logs = private_dir_ensure(settings.VAR_DIR / "logs")
            # The login server's token challenge names the portal this command serves.
            endpoint_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.endpoint_settings",
                            "PORTAL_BASE_URL": f"http://{addr}"}
            workers = [(name, argv, None) for name, argv in local_workers(regions=fleet.names)]
            for name, argv, env in workers + [
                ("beat", [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
                          "-s", str(settings.VAR_DIR / "celerybeat-schedule")], None),
                ("portal", portal_argv(bind=addr), None),  # gunicorn, as in production
                ("endpoint", endpoint_argv(), endpoint_env),
            ] + self.data_endpoints(fleet.names, portal_url=f"http://{addr}"):
                log = open(logs / f"{name}.log", "ab")
                children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR,
                                                 env=env))
            if not no_demo:
                wait_for_portal(f"http://{addr}")  # the regions ask it for tokens, the demo's pushes too
                summary = demo_registry_seed(owner_username=username)
                self.stdout.write(summary)
            self.stdout.write(self.style.SUCCESS(
                f"\nPortal:   http://{addr}/registries/\nLogin server (global endpoint): {settings.GLOBAL_ENDPOINT_URL}\n"
                f"API docs: http://{addr}/api/docs/\n"
                f"Admin:    {username} / {password}\nAPI token: {token}\nLogs:     {logs}\n"
                "Press Ctrl-C to stop everything."
            ))
            while not stopping:
                for child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{' '.join(child.args[:5])} exited with {child.returncode}; stopping.")
                        stopping.append(True)
                time.sleep(0.5)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            fleet.stop()
            self.stdout.write("Stopped the portal, the global endpoint, the data endpoints, the worker, beat and the "
                              "regional registries.")

    def data_endpoints(self, names, *, portal_url: str) -> list[tuple]:
        """One data endpoint per local region, recorded on the region, so blob bytes skip the global endpoint."""
        commands = []
        for index, name in enumerate(names):
            bind = f"127.0.0.1:{settings.LOCAL_DATA_ENDPOINTS_BASE_PORT + index}"
            region_set_data_endpoint(name=name, data_endpoint=f"http://{bind}")
            argv, env = data_endpoint_command(region=name, bind=bind, workers=1, threads=16)
            self.stdout.write(f"region {name:<15} data endpoint at http://{bind}")
            commands.append((f"data-endpoint-{name}", argv, {**env, "PORTAL_BASE_URL": portal_url}))
        return commands
