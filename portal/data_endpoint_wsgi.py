"""WSGI entry of a data endpoint (`gunicorn portal.data_endpoint_wsgi`; `manage.py run_data_endpoint` starts it)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.data_endpoint_settings")

application = get_wsgi_application()

from replication.oci import tune_socket_reads  # noqa: E402  (after Django is set up)

tune_socket_reads()  # blobs are read from the registry 256 KiB at a time
