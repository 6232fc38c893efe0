"""A region's data endpoint (`manage.py run_data_endpoint REGION`, URLconf `portal.data_endpoint_urls`).

It serves blob GET/HEAD for URLs the global endpoint signed (`services.data_urls`), from its own
region's registry, as the replication engine with a pull grant on exactly that repository. The
signature is checked before anything goes upstream; the bytes are streamed in bounded chunks.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..models import Region
from ..oci.reference import is_digest, is_repository
from ..services.data_urls import InvalidDataUrl, blob_path, data_url_check
from ..services.region_clients import region_pull_token
from .relay import BLOB_RESPONSE_HEADERS, RegionFailed, body_chunks, region_request, region_stream, region_url
from .views import API_VERSION, oci_error

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)


@csrf_exempt
def blob(request, name: str, digest: str):
    if request.method not in ("GET", "HEAD"):
        return oci_error(405, "UNSUPPORTED", f"{request.method} is not supported by a data endpoint.")
    if not (is_repository(name) and is_digest(digest)):
        return oci_error(400, "NAME_INVALID", "Not a repository and digest.")
    region_name = settings.DATA_ENDPOINT_REGION
    try:
        data_url_check(region_name=region_name, repository=name, digest=digest,
                       expires=request.GET.get("expires", ""), signature=request.GET.get("signature", ""))
    except InvalidDataUrl as exc:
        return oci_error(403, "DENIED", str(exc))
    region = Region.objects.filter(name=region_name).only("endpoint").first()
    if region is None or not region.endpoint:
        return oci_error(503, "UNAVAILABLE", f"Region {region_name} has no registry.")
    url = region_url(region.endpoint, blob_path(repository=name, digest=digest))
    headers = {"Authorization": f"Bearer {region_pull_token(repository=name)}", "Accept-Encoding": "identity"}
    if "Range" in request.headers:
        headers["Range"] = request.headers["Range"]  # containers/image resumes an interrupted layer this way
    try:
        if request.method == "HEAD":
            upstream = region_request(method="HEAD", url=url, headers=headers)
            response = HttpResponse(status=upstream.status_code, headers=API_VERSION)
        else:
            upstream = region_stream(url=url, headers=headers)
            response = _streamed(upstream)
    except RegionFailed as exc:
        log.warning("blob %s@%s failed in %s: %s", name, digest, region_name, exc)
        return oci_error(503, "UNAVAILABLE", f"Region {region_name} failed: {exc}")
    for header in BLOB_RESPONSE_HEADERS:
        if header in upstream.headers:
            response[header] = upstream.headers[header]
    if "Content-Type" not in upstream.headers:
        del response["Content-Type"]
    return response


def _streamed(upstream) -> HttpResponse:
    if upstream.status_code in REDIRECTS:
        upstream.close()  # the registry's storage serves the bytes itself (a presigned URL): pass it on
        return HttpResponse(status=upstream.status_code, headers=API_VERSION)
    if upstream.status_code not in (200, 206):
        body = upstream.read()  # an OCI error: small
        upstream.close()
        return HttpResponse(body, status=upstream.status_code, headers=API_VERSION)
    return StreamingHttpResponse(body_chunks(upstream), status=upstream.status_code, headers=API_VERSION)
