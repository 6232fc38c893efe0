from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from replication.api.oauth2 import registry_token

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("replication.api.urls")),
    path("oauth2/token", registry_token, name="registry-token"),  # the OCI token flow's realm
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("replication.urls")),
]
