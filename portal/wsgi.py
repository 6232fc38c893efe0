import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
# Every view (the map's folium too) imported as the worker starts, not in its first request: a registry waits for
# the events intake's answer, and the first one used to take a second.
get_resolver().url_patterns
