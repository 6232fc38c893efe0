"""How the endpoint process is started: gunicorn with threaded workers.

Why gunicorn: requests spend their time waiting on a region (I/O), so threads (`gthread`) serve
many at once, and several worker processes use every core; it is the usual production WSGI server.
"""
import sys
from urllib.parse import urlsplit

from django.conf import settings


def endpoint_argv(*, binds=None, workers: int = 2, threads: int = 16) -> list[str]:
    binds = binds or [urlsplit(settings.GLOBAL_ENDPOINT_URL).netloc]
    argv = [sys.executable, "-m", "gunicorn", "portal.endpoint_wsgi:application", "--worker-class", "gthread",
            "--workers", str(workers), "--threads", str(threads), "--chdir", str(settings.BASE_DIR),
            "--access-logfile", "-", "--graceful-timeout", "5", "--timeout", "120",
            "--no-control-socket"]  # several endpoints on one machine would share one socket path
    for bind in binds:
        argv += ["--bind", bind]
    return argv
