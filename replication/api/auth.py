"""POST /api/v1/auth/token/: DRF's token view, with the password checked behind the sign-in throttle."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from ..throttling import sign_in_attempt
from .parsers import DepthLimitedJSONParser
from .schema import ERROR_DESCRIPTIONS, ApiErrorSerializer


class ThrottledAuthTokenSerializer(AuthTokenSerializer):
    def validate(self, attrs):
        # Too many failures raise TooManyAttempts: a 429 with Retry-After from the API's exception handler.
        user = sign_in_attempt(request=self.context["request"], username=attrs["username"],
                               password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(_("Unable to log in with provided credentials."), code="authorization")
        attrs["user"] = user
        return attrs


class AuthTokenAnswerSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')


@extend_schema_view(post=extend_schema(responses={
    200: AuthTokenAnswerSerializer,
    429: OpenApiResponse(ApiErrorSerializer, description=ERROR_DESCRIPTIONS[429]),
}))
class AuthTokenView(ObtainAuthToken):
    serializer_class = ThrottledAuthTokenSerializer
    parser_classes = [parsers.FormParser, parsers.MultiPartParser, DepthLimitedJSONParser]  # DRF's own: JSONParser
