"""`/oauth2/token`: the token endpoint every regional registry's auth.token realm points at.

Thin on purpose: it reads the credentials and scopes off the request and hands them to
`services.token_service`, which holds every rule.
"""
import base64
import binascii

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..exceptions import ServiceError, TooManyAttempts, Unauthorized
from ..services.token_service import registry_token_issue
from ..client_address import request_client_address

OCI_ERROR_CODES = {400: "UNSUPPORTED", 401: "UNAUTHORIZED", 404: "NAME_UNKNOWN", 409: "DENIED", 429: "TOOMANYREQUESTS"}


@csrf_exempt  # machine clients with basic credentials; no cookies are read
@require_http_methods(["GET", "POST"])
def registry_token(request):
    try:
        username, password = _basic_credentials(request)
        if request.method == "POST":
            if request.POST.get("grant_type", "password") != "password":
                return _error(400, "Only grant_type=password is supported.")
            username = username or request.POST.get("username")
            password = password or request.POST.get("password")
            params = request.POST
        else:
            params = request.GET
        issued = registry_token_issue(service=params.get("service"), scopes=params.getlist("scope"),
                                      username=username, password=password, client_address=request_client_address(request))
    except TooManyAttempts as error:
        response = _error(error.status_code, error.message)
        response["Retry-After"] = str(error.retry_after)
        return response
    except ServiceError as error:
        return _error(error.status_code, error.message)
    return JsonResponse(issued.as_response())


def _basic_credentials(request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        username, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Malformed basic credentials.") from None
    return username, password


def _error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"errors": [{"code": OCI_ERROR_CODES.get(status, "UNKNOWN"), "message": message,
                                         "detail": None}]}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{settings.TOKEN_SERVICE_NAME}"'
    return response
