"""The request id: taken from the caller's X-Request-ID (when it is a short token) or made up, put on every
log record of the request (log_context.py), returned in the response, and carried into the jobs, events and
webhook deliveries the request causes (dispatch.py, the Celery signals in portal/celery.py)."""
from .log_context import log_context, request_id_accept

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_accept(request.headers.get(HEADER))
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
