"""A data endpoint's URLconf: signed blob downloads only (served by `manage.py run_data_endpoint REGION`)."""
from django.urls import re_path

from replication.endpoint import data, views

urlpatterns = [
    re_path(r"^v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$", data.blob),
    re_path(r"^v2/(?P<rest>.*)$", views.unsupported),
]
