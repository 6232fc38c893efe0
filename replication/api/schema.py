"""The API's OpenAPI schema: the error answers each operation may give, declared in one place.

Every error under /api/ has the shape `{"detail", "code", "field"?}` (api/errors.py for the views,
api/error_middleware.py for the rest), so each operation gets the statuses below with that shape
unless it declares its own answer for a status (`extend_schema(responses={429: ...})`).
"""
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ERROR_DESCRIPTIONS = {
    400: "Bad input: a malformed, too deeply nested or invalid body, query or Content-Length.",
    401: "No credentials, or wrong ones.",
    403: "The caller's role on the registry does not allow this (or a session request without its CSRF token).",
    404: "No such object, or one the caller has no role on; also a path that names nothing.",
    409: "A rule of the current state refuses the change (SKU, region availability, duplicates, last owner, ...).",
    413: "The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
    429: "Too many failed sign-ins; retry after Retry-After seconds.",
}


class ApiErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words meant for the user.")
    code = serializers.CharField(help_text="A stable code: invalid, not_found, conflict, permission_denied, ...")
    field = serializers.CharField(required=False, help_text="The input the error is about, when there is one.")


class ApiAutoSchema(AutoSchema):
    def error_statuses(self) -> list[int]:
        """Which errors this operation can answer: each of the middleware's and DRF's answers that applies."""
        statuses = [400, 401, 413]  # any body, any header: the middleware and the authenticators check them
        if self.get_auth():  # a user: a role too small, or a session without CSRF token
            statuses.append(403)
        if "{" in self.path:  # names and ids in the path may name nothing
            statuses.append(404)
        if self.method in UNSAFE_METHODS and self.get_auth():  # the services' rules
            statuses.append(409)
        return sorted(statuses)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(ApiErrorSerializer, "response").ref}}
        responses = operation["responses"]
        for status in self.error_statuses():
            responses.setdefault(str(status), {"description": ERROR_DESCRIPTIONS[status], "content": error})
        operation["responses"] = dict(sorted(responses.items()))
        return operation
