"""How the endpoint processes (the global endpoint, a data endpoint) are started: gunicorn with threaded workers.

Why gunicorn: requests spend their time waiting on a region (I/O), so threads (`gthread`) serve
many at once, and several worker processes use every core; it is the usual production WSGI server.
"""
import os
import sys
from urllib.parse import urlsplit

from django.conf import settings


def endpoint_argv(*, binds=None, workers: int = 2, threads: int = 16,
                  application: str = "portal.endpoint_wsgi:application") -> list[str]:
    """gunicorn for the global endpoint, or with `application` = "portal.data_endpoint_wsgi:application" a
    region's data endpoint (then `binds` is required)."""
    binds = binds or [urlsplit(settings.GLOBAL_ENDPOINT_URL).netloc]
    argv = [sys.executable, "-m", "gunicorn", application, "--worker-class", "gthread",
            "--workers", str(workers), "--threads", str(threads), "--chdir", str(settings.BASE_DIR),
            # Logs (start, access) in the portal's format: portal/gunicorn_conf.py.
            "--config", str(settings.BASE_DIR / "portal" / "gunicorn_conf.py"), "--graceful-timeout", "5", "--timeout", "120",
            "--no-control-socket"]  # several endpoints on one machine would share one socket path
    for bind in binds:
        argv += ["--bind", bind]
    return argv


def portal_argv(*, bind: str, workers: int = 2, threads: int = 8) -> list[str]:
    """gunicorn for the portal (pages, API, token service, events intake), the same way as the endpoints."""
    return endpoint_argv(binds=[bind], workers=workers, threads=threads, application="portal.wsgi:application")


def data_endpoint_command(*, region: str, bind: str, workers: int = 2, threads: int = 16) -> tuple[list[str], dict]:
    """(argv, environment) of the data endpoint of `region`, listening on `bind` (host:port)."""
    argv = endpoint_argv(binds=[bind], workers=workers, threads=threads,
                         application="portal.data_endpoint_wsgi:application")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.data_endpoint_settings", "DATA_ENDPOINT_REGION": region}
    return argv, env
