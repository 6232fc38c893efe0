"""gunicorn's configuration for every web process (the portal, the global endpoint, the data endpoints):
its own log lines (start, workers, access) in the format of the rest (replication/log_context.py).

Loaded by path (`gunicorn -c …/portal/gunicorn_conf.py`, replication/endpoint/server.py) before Django, so it
reads the environment itself, and before gunicorn's --chdir, so it puts the project on the import path itself.
"""
import os
import sys
from pathlib import Path

from gunicorn import glogging

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from replication.log_context import context_enter, context_exit, logging_config

logconfig_dict = logging_config(level=os.environ.get("LOG_LEVEL", "INFO"), format=os.environ.get("LOG_FORMAT", "text"))
# The time, and the request id, come from the log format.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class RequestIdLogger(glogging.Logger):
    """The access line carries the id the request ran under (the middleware's, read from the response)."""

    def access(self, resp, req, environ, request_time):
        request_id = next((value for name, value in resp.headers if name.lower() == "x-request-id"), "")
        token = context_enter(request_id=request_id)
        try:
            super().access(resp, req, environ, request_time)
        finally:
            context_exit(token)


logger_class = RequestIdLogger


def child_exit(server, worker):
    """A web worker that exits leaves its counters (still summed) but no live gauges in the metrics folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
