"""Every error under /api/ is JSON `{"detail", "code"}`, with DEBUG on or off.

DRF's exception handler (errors.py) covers what its views raise; this covers the rest: URLs that
match no view, errors of the middlewares, server errors (a JSON 500, never a traceback), bodies
over DATA_UPLOAD_MAX_MEMORY_SIZE, refused with 413 before they are read, and URLs carrying a NUL
character (400). The portal's pages keep their HTML error pages (templates/404.html, 500.html, ...).
"""
from http import HTTPStatus
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import JsonResponse

API_PREFIX = "/api/"
# What the client needs from an error besides its body (405's Allow, 401's challenge, 429's wait).
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def api_error_response(*, status: int, detail: str | None = None, code: str | None = None) -> JsonResponse:
    known = HTTPStatus(status)
    return JsonResponse({"detail": detail or f"{known.phrase}.", "code": code or known.name.lower()}, status=status)


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            content_length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return api_error_response(status=400, detail="Content-Length is not a number.", code="invalid")
        # No name, id or filter holds a NUL, and PostgreSQL refuses one in any query (a 500 otherwise).
        if "\x00" in request.path or "\x00" in unquote_plus(request.META.get("QUERY_STRING", "")):
            return api_error_response(status=400, detail="The URL contains a NUL character.", code="invalid")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and content_length > limit:
            return api_error_response(status=413, detail=f"The request body is larger than {limit} bytes.",
                                      code="too_large")
        response = self.get_response(request)
        # Whatever Django answered by itself (its 404 and 500 pages, or their debug versions) becomes JSON.
        if response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
            converted = api_error_response(status=response.status_code)
            for header in KEPT_HEADERS:
                if header in response:
                    converted[header] = response[header]
            return converted
        return response
