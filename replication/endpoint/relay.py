"""Requests the endpoint relays to a region's registry: one shared httpx client per process."""
from __future__ import annotations

import threading
from urllib.parse import urljoin

import httpx
from django.conf import settings

# The client's own headers a region needs (its bearer is valid there: one token service for the fleet).
FORWARDED_REQUEST_HEADERS = ("Authorization", "Accept", "Content-Type", "User-Agent", "Range")
RELAYED_RESPONSE_HEADERS = ("Content-Type", "Docker-Content-Digest", "ETag", "Location", "Range",
                            "Docker-Upload-UUID", "OCI-Subject", "Link", "WWW-Authenticate",
                            "Docker-Distribution-API-Version")


class RegionFailed(Exception):
    """The region did not answer, or answered 5xx: a read may be retried on the next nearest."""


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def upstream_client() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                timeout=httpx.Timeout(settings.ENDPOINT_UPSTREAM_TIMEOUT,
                                      connect=settings.ENDPOINT_UPSTREAM_CONNECT_TIMEOUT),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
                follow_redirects=False,
            )
        return _client


def region_url(endpoint: str, path: str, query: str = "") -> str:
    return endpoint.rstrip("/") + path + (f"?{query}" if query else "")


def absolute_location(endpoint: str, location: str) -> str:
    """A Location a region answered, as an absolute URL at that region (the client talks to it next)."""
    return urljoin(endpoint.rstrip("/") + "/", location)


def region_request(*, method: str, url: str, headers: dict, body: bytes = b"") -> httpx.Response:
    """One request to a region; raises RegionFailed on no answer or a 5xx."""
    try:
        response = upstream_client().request(method, url, headers=headers, content=body or None)
    except httpx.HTTPError as exc:
        raise RegionFailed(f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 500:
        raise RegionFailed(f"HTTP {response.status_code}")
    return response


STREAM_CHUNK = 256 * 1024
BLOB_RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Docker-Content-Digest",
                         "ETag", "Location")


def region_stream(*, url: str, headers: dict) -> httpx.Response:
    """A GET whose body is read as the client reads it (close it when done); raises RegionFailed like
    region_request."""
    client = upstream_client()
    try:
        response = client.send(client.build_request("GET", url, headers=headers), stream=True)
    except httpx.HTTPError as exc:
        raise RegionFailed(f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 500:
        response.close()
        raise RegionFailed(f"HTTP {response.status_code}")
    return response


def body_chunks(response: httpx.Response):
    """The body in bounded chunks (memory does not grow with the blob); the upstream connection is
    released when the client has read it all or went away (Django closes this generator)."""
    try:
        yield from response.iter_raw(STREAM_CHUNK)
    finally:
        response.close()
