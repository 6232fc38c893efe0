"""Errors raised by services; the API and the forms turn them into 400/404/409 and form errors."""


class ServiceError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status_code = 400
    code = "invalid"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Unauthorized(ServiceError):
    """Credentials are missing, wrong, expired or revoked (the token service answers 401)."""

    status_code = 401
    code = "unauthorized"


class PermissionDenied(ServiceError):
    """The caller sees the registry but their role does not allow this (a caller without any role gets NotFound)."""

    status_code = 403
    code = "permission_denied"


class TooManyAttempts(ServiceError):
    """Too many failed sign-ins for a user name or from an address: 429 with Retry-After."""

    status_code = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class RetryLater(Exception):
    """Work that cannot proceed now for a reason that may pass (no source region ready yet): retried with backoff."""
