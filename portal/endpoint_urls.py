"""The global endpoint's URLconf: OCI Distribution /v2/ only (served by `manage.py run_endpoint`)."""
from django.urls import path, re_path

from replication.endpoint import views

# Repository names hold slashes, so the routes match from the right.
urlpatterns = [
    path("v2/", views.base),
    re_path(r"^v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$", views.manifest),
    re_path(r"^v2/(?P<name>.+)/blobs/uploads/$", views.upload_start),
    re_path(r"^v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$", views.blob),
    re_path(r"^v2/(?P<name>.+)/tags/list$", views.tag_list),
    re_path(r"^v2/(?P<rest>.*)$", views.unsupported),
]
