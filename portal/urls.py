from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
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
    # Browsers and tools that ask for /favicon.ico get the portal's icon (the pages link the SVG themselves).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]
