from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from replication.api.oauth2 import registry_token
from replication.accounts import AdminSignInForm, SignInView

# Failed sign-ins are throttled on the admin's login page too.
admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("replication.api.urls")),
    path("oauth2/token", registry_token, name="registry-token"),  # the OCI token flow's realm
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Before django.contrib.auth's own: the same page, with failed sign-ins throttled.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("replication.urls")),
]

# Health checks (issue 13): outside every app prefix, no sign-in, no session (never_cache: probes must not be
# answered from a cache).
from django.views.decorators.cache import never_cache  # noqa: E402

from replication.views import healthz, readyz  # noqa: E402

urlpatterns += [
    path("healthz", never_cache(healthz), name="healthz"),
    path("readyz", never_cache(readyz), name="readyz"),
]

# Prometheus' scrape target (replication/prometheus.py): METRICS_TOKEN / METRICS_ALLOWED_NETWORKS, else loopback.
from replication.prometheus import metrics_view  # noqa: E402

urlpatterns += [path("metrics", metrics_view, name="metrics")]
