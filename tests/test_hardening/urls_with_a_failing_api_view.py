"""The portal's URLs plus views that fail, to see what Django's own error answers become."""
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from portal.urls import urlpatterns as portal_urlpatterns


class FailingApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret-detail-that-must-not-leak")


def failing_page(request):
    raise RuntimeError("secret-detail-that-must-not-leak")


@require_POST
def plain_post_only(request):
    return HttpResponse("posted")


urlpatterns = [
    path("api/v1/failing/", FailingApiView.as_view()),
    path("api/v1/plain-post-only/", plain_post_only),
    path("failing-page/", failing_page),
    *portal_urlpatterns,
]
