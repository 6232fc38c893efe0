"""WSGI entry of the global endpoint (`gunicorn portal.endpoint_wsgi`; `manage.py run_endpoint` starts it)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.endpoint_settings")

application = get_wsgi_application()
