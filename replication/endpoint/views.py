"""The /v2/ routes of the global endpoint.

Reads (manifests) are relayed from the chosen replica, tag lists merged with the tags known pushed elsewhere, blob downloads are answered 307
to its data endpoint with a signed URL (relayed when the region has none), pushes are opened in the client's nearest replica. Which replica, in which
order, and which digest a tag stands for are decided by `services.routing`.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..choices import RoutingDecision, RoutingExclusion
from ..client_address import request_client_address
from ..exceptions import InvalidInput, NotFound
from ..oci.reference import is_digest, is_repository, is_tag
from ..services import routing
from ..services.data_urls import data_url_sign
from ..token_service.tokens import InvalidToken, registry_token_verify, token_grants
from .relay import (
    BLOB_RESPONSE_HEADERS,
    FORWARDED_REQUEST_HEADERS,
    RELAYED_RESPONSE_HEADERS,
    RegionFailed,
    absolute_location,
    body_chunks,
    region_request,
    region_stream,
    region_url,
)

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/token"
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


# ---- answers ------------------------------------------------------------------------------


def oci_error(status: int, code: str, message: str, *, headers: dict | None = None) -> HttpResponse:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in {**API_VERSION, **(headers or {})}.items():
        response[name] = value
    return response


def challenge(*, scope: str = "", message: str = "authentication required") -> HttpResponse:
    realm = settings.PORTAL_BASE_URL.rstrip("/") + TOKEN_PATH
    value = f'Bearer realm="{realm}",service="{settings.TOKEN_SERVICE_NAME}"'
    if scope:
        value += f',scope="{scope}"'
    return oci_error(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": value})


def relayed(upstream, *, method: str, endpoint: str, extra: dict | None = None) -> HttpResponse:
    body = b"" if method == "HEAD" else upstream.content
    response = HttpResponse(body, status=upstream.status_code)
    for name in RELAYED_RESPONSE_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    if "Location" in upstream.headers:
        response["Location"] = absolute_location(endpoint, upstream.headers["Location"])
    if method == "HEAD" and "Content-Length" in upstream.headers:
        response["Content-Length"] = upstream.headers["Content-Length"]
    for name, value in (extra or {}).items():
        response[name] = value
    if "Content-Type" not in upstream.headers:
        del response["Content-Type"]
    response["Docker-Distribution-API-Version"] = "registry/2.0"
    return response


# ---- who may do what -----------------------------------------------------------------------


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _authorized(request, *, repository: str, action: str) -> bool:
    token = _bearer(request)
    if not token:
        return False
    try:
        claims = registry_token_verify(token)
    except InvalidToken as exc:
        log.info("refused a bearer: %s", exc)
        return False
    return not repository or token_grants(claims, repository=repository, action=action)


def _scope(repository: str, action: str) -> str:
    actions = "pull,push" if action == "push" else action  # an upload needs both, as in Distribution
    return f"repository:{repository}:{actions}"


# ---- routing context -------------------------------------------------------------------------


class Route:
    """One request's routing: its registry, the client's region and the replicas it may use, in order."""

    def __init__(self, request, *, repository: str):
        self.request = request
        self.repository = repository
        self.registry = routing.registry_for_repository(repository)
        address = request_client_address(request)
        self.client_region = routing.client_region_name(address=address)
        self.routes = routing.registry_routes(registry=self.registry, client_region=self.client_region)
        self.candidates = routing.routing_candidates(self.routes)
        self.headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}

    def count(self, route, decision: RoutingDecision) -> None:
        routing.routing_count(region=route.region, decision=decision)


def _unavailable(route: Route) -> HttpResponse:
    return oci_error(503, "UNAVAILABLE", f"No region of registry '{route.registry.name}' takes traffic now.")


def _read(route: Route, *, method: str, path: str, fallback=None):
    """Relay a read from the nearest candidate that answers and has it: (response, route used, decision).

    A connection error or 5xx moves on to the next nearest (failed over); so does a 404, because the
    nearer region may still be catching up (never a false 404). `fallback` is tried last (a push's
    origin, which has the content even when it takes no traffic).
    """
    ordered = list(route.candidates)
    if fallback is not None and all(r.replica.pk != fallback.replica.pk for r in ordered):
        ordered.append(fallback)
    if not ordered:
        return _unavailable(route), None, None
    failed = skipped = False
    first_not_found = None
    for candidate in ordered:
        endpoint = candidate.region.endpoint
        try:
            upstream = region_request(method=method, url=region_url(endpoint, path), headers=route.headers)
        except RegionFailed as exc:
            log.warning("%s %s failed in %s: %s", method, path, candidate.region.name, exc)
            failed = True
            continue
        if upstream.status_code == 404:
            first_not_found = first_not_found or (upstream, endpoint)
            skipped = True
            continue
        if upstream.status_code == 401:
            return challenge(scope=_scope(route.repository, "pull")), None, None
        decision = (RoutingDecision.FAILED_OVER if failed else
                    RoutingDecision.STALE_AVOIDED if skipped or candidate is not ordered[0] else
                    RoutingDecision.SERVED)
        response = relayed(upstream, method=method, endpoint=endpoint,
                           extra={"X-Served-By-Region": candidate.region.name})
        return response, candidate, decision
    if first_not_found is not None:
        upstream, endpoint = first_not_found
        return relayed(upstream, method=method, endpoint=endpoint), None, None
    return oci_error(503, "UNAVAILABLE", f"No region of registry '{route.registry.name}' answered."), None, None


def _counted_read(route: Route, **kwargs) -> HttpResponse:
    response, used, decision = _read(route, **kwargs)
    if used is not None:
        route.count(used, decision)
    return response


# ---- the routes --------------------------------------------------------------------------------


def _guarded(action_for_method: dict):
    """Resolve the repository's registry and check the bearer before the route runs."""
    def decorate(view):
        @csrf_exempt
        def wrapped(request, name, *args, **kwargs):
            action = action_for_method.get(request.method)
            if action is None:
                return oci_error(405, "UNSUPPORTED", f"{request.method} is not supported here.")
            if not is_repository(name):
                return oci_error(400, "NAME_INVALID", f"'{name}' is not a repository name.")
            if not _authorized(request, repository=name, action=action):
                return challenge(scope=_scope(name, action))
            try:
                route = Route(request, repository=name)
            except NotFound as exc:
                return oci_error(404, "NAME_UNKNOWN", exc.message)
            return view(request, route, *args, **kwargs)
        return wrapped
    return decorate


@csrf_exempt
def base(request):
    """GET /v2/: the token challenge of the token service, or 200 with a valid bearer."""
    if request.method not in ("GET", "HEAD"):
        return oci_error(405, "UNSUPPORTED", f"{request.method} is not supported here.")
    if not _authorized(request, repository="", action="pull"):
        return challenge()
    response = HttpResponse("{}", content_type="application/json", headers=API_VERSION)
    return response


@_guarded({"GET": "pull", "HEAD": "pull", "PUT": "push", "DELETE": "delete"})
def manifest(request, route: Route, reference: str):
    if not (is_tag(reference) or is_digest(reference)):
        return oci_error(400, "MANIFEST_INVALID", f"'{reference}' is neither a tag nor a digest.")
    if request.method in ("PUT", "DELETE"):
        return _write(request, route, path=request.path, reference=reference)
    head = None if is_digest(reference) else routing.tag_latest_push(
        registry=route.registry, repository=route.repository, tag=reference)
    if head is None:
        return _counted_read(route, method=request.method, path=request.path)
    # The tag's latest digest, by digest, from the nearest replica that has it, else the push's origin.
    origin = next((r for r in route.routes if r.region.pk == head.region_id
                   and r.reason not in (RoutingExclusion.UNHEALTHY, RoutingExclusion.ROUTING_OFF)), None)
    return _counted_read(route, method=request.method, path=f"/v2/{route.repository}/manifests/{head.digest}",
                         fallback=origin)


@_guarded({"GET": "pull"})
def tag_list(request, route: Route):
    """The chosen replica's tags merged with the tags known pushed or deleted elsewhere (never stale), paged
    here with `n` and `last` on the merged list."""
    try:
        routing.tag_list_page(tags=[], number=request.GET.get("n"))  # a bad `n` costs no region a request
    except InvalidInput as exc:
        return oci_error(400, "PAGINATION_NUMBER_INVALID", exc.message)
    upstream, used, decision = _read(route, method="GET", path=request.path)
    if used is None and upstream.status_code != 404:
        return upstream  # a challenge, or no region answered
    replica_tags = (json.loads(upstream.content).get("tags") or []) if used is not None else []
    tags = routing.repository_tag_list(registry=route.registry, repository=route.repository,
                                       replica_tags=replica_tags)
    if used is None and not tags:
        return oci_error(404, "NAME_UNKNOWN", f"Repository '{route.repository}' is not known.")
    page = routing.tag_list_page(tags=tags, number=request.GET.get("n"), last=request.GET.get("last", ""))
    response = HttpResponse(json.dumps({"name": route.repository, "tags": page.tags}),
                            content_type="application/json", headers=API_VERSION)
    if page.next_last:
        query = urlencode({"n": page.number, "last": page.next_last})
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    if used is not None:
        route.count(used, decision)
        response["X-Served-By-Region"] = used.region.name
    return response


@_guarded({"GET": "pull", "HEAD": "pull", "DELETE": "delete"})
def blob(request, route: Route, digest: str):
    if not is_digest(digest):
        return oci_error(400, "DIGEST_INVALID", f"'{digest}' is not a digest.")
    if request.method == "DELETE":
        return _write(request, route, path=request.path)
    # Find the nearest region that has the blob (never a false 404), then send the client there.
    found, served_by, decision = _read(route, method="HEAD", path=request.path)
    if served_by is None:
        return found
    region = served_by.region
    if region.data_endpoint or settings.ENDPOINT_BLOB_DOWNLOADS == "redirect":
        # The bytes come from the region's data endpoint, never through this process; the signed URL
        # carries the permission the client's bearer gave (clients drop it on a cross-host redirect).
        route.count(served_by, RoutingDecision.REDIRECTED if decision == RoutingDecision.SERVED else decision)
        response = HttpResponse(status=307, headers=API_VERSION)
        response["Location"] = (data_url_sign(region=region, repository=route.repository, digest=digest)
                                if region.data_endpoint else region_url(region.endpoint, request.path))
        response["X-Served-By-Region"] = region.name
        return response
    if request.method == "HEAD":
        route.count(served_by, decision)
        return found
    return _blob_relay(request, route, served_by=served_by, decision=decision)


def _blob_relay(request, route: Route, *, served_by, decision) -> HttpResponse:
    """Relay mode: the region's own answer. A region whose storage redirects (a real data endpoint:
    presigned URLs) answers 307 and that is passed on; one that serves bytes itself is streamed."""
    try:
        upstream = region_stream(url=region_url(served_by.region.endpoint, request.path), headers=route.headers)
    except RegionFailed as exc:
        return oci_error(503, "UNAVAILABLE", f"Region {served_by.region.name} failed: {exc}")
    redirected = upstream.status_code in (301, 302, 303, 307, 308)
    route.count(served_by, RoutingDecision.REDIRECTED if redirected and decision == RoutingDecision.SERVED
                else decision)
    if redirected:
        upstream.close()
        response = HttpResponse(status=upstream.status_code, headers=API_VERSION)
    else:
        response = StreamingHttpResponse(body_chunks(upstream), status=upstream.status_code, headers=API_VERSION)
    for name in BLOB_RESPONSE_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    response["X-Served-By-Region"] = served_by.region.name
    return response


@_guarded({"POST": "push"})
def upload_start(request, route: Route):
    """Open the upload session in the client's nearest replica; the client follows Location there."""
    return _write(request, route, path=request.path)


def _write(request, route: Route, *, path: str, reference: str = "") -> HttpResponse:
    """Forward a write to the client's nearest replica (write-local; replication carries it further)."""
    if not route.candidates:
        return _unavailable(route)
    target = route.candidates[0]
    query = request.META.get("QUERY_STRING", "")
    try:
        upstream = region_request(method=request.method, url=region_url(target.region.endpoint, path, query),
                                  headers=route.headers, body=request.body)
    except RegionFailed as exc:
        return oci_error(503, "UNAVAILABLE", f"Region {target.region.name} did not take the write: {exc}")
    if upstream.status_code == 401:
        return challenge(scope=_scope(route.repository, "push"))
    digest = upstream.headers.get("Docker-Content-Digest", "")
    if request.method == "PUT" and upstream.status_code == 201 and is_tag(reference) and is_digest(digest):
        routing.routed_push_record(registry=route.registry, region=target.region, repository=route.repository,
                                   tag=reference, digest=digest)
    route.count(target, RoutingDecision.SERVED)
    extra = {"X-Served-By-Region": target.region.name}
    if request.method == "PUT" and is_digest(digest):
        extra["Location"] = f"/v2/{route.repository}/manifests/{digest}"  # read it back through this endpoint
    return relayed(upstream, method=request.method, endpoint=target.region.endpoint, extra=extra)


@csrf_exempt
def unsupported(request, rest: str = ""):
    return oci_error(405, "UNSUPPORTED", f"{request.method} /v2/{rest} is not supported by the global endpoint; "
                                         "use a regional endpoint.")
