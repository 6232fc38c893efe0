"""POST /api/v1/auth/token/: DRF's token view, with the password checked behind the sign-in throttle."""
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from ..throttling import sign_in_attempt
from .parsers import DepthLimitedJSONParser


class ThrottledAuthTokenSerializer(AuthTokenSerializer):
    def validate(self, attrs):
        # Too many failures raise TooManyAttempts: a 429 with Retry-After from the API's exception handler.
        user = sign_in_attempt(request=self.context["request"], username=attrs["username"],
                               password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(_("Unable to log in with provided credentials."), code="authorization")
        attrs["user"] = user
        return attrs


class AuthTokenView(ObtainAuthToken):
    serializer_class = ThrottledAuthTokenSerializer
    parser_classes = [parsers.FormParser, parsers.MultiPartParser, DepthLimitedJSONParser]  # DRF's own: JSONParser
