from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from replication.api.oauth2 import registry_token
from replication.accounts import AdminSignInForm, SignInView

class FaviconRedirect(RedirectView):
    """To the icon's current (content-hashed) name, looked up per request: the manifest exists only after
    collectstatic, and a permanent redirect would pin an old hash in browsers."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs):
        return static("favicon.svg")


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
    # Browsers and tools that ask for /favicon.ico get the portal's icon (the pages link the SVG themselves).
    path("favicon.ico", FaviconRedirect.as_view()),
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
