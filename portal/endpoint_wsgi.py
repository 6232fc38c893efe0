"""WSGI entry of the global endpoint (`gunicorn portal.endpoint_wsgi`; `manage.py run_endpoint` starts it)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.endpoint_settings")

application = get_wsgi_application()

from replication.oci import tune_socket_reads  # noqa: E402  (after Django is set up)

tune_socket_reads()  # relayed blobs are read from the region 256 KiB at a time

import atexit  # noqa: E402

from replication.services.routing import routing_counts_flush  # noqa: E402

atexit.register(routing_counts_flush)  # the last counts of a stopping worker
