"""The portal's URLs plus one API view and one page that fail, to see what a server error looks like."""
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from portal.urls import urlpatterns as portal_urlpatterns


class FailingApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret-detail-that-must-not-leak")


def failing_page(request):
    raise RuntimeError("secret-detail-that-must-not-leak")


urlpatterns = [
    path("api/v1/failing/", FailingApiView.as_view()),
    path("failing-page/", failing_page),
    *portal_urlpatterns,
]
