"""Signed URLs of the data endpoints: the one place that signs and checks them.

The global endpoint checks the client's bearer, then sends a blob download to the chosen region's
data endpoint with a short-lived URL (ACR's data endpoints, S3's presigned URLs): OCI clients drop
`Authorization` on a redirect to another host, so the URL itself must carry the permission. It names
the region, the repository and the digest, so it opens exactly one blob in exactly one region.
"""
from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from ..models import Region

SIGNING_SALT = "replication.data_urls"


class InvalidDataUrl(Exception):
    """The URL's signature does not match what it names, or it has expired (the data endpoint answers 403)."""


def _signature(*, region: str, repository: str, digest: str, expires: int) -> str:
    # Newlines cannot occur in any of the parts, so no two different URLs sign the same message.
    message = "\n".join([region, repository, digest, str(expires)])
    return salted_hmac(SIGNING_SALT, message, algorithm="sha256").hexdigest()


def blob_path(*, repository: str, digest: str) -> str:
    return f"/v2/{repository}/blobs/{digest}"


def data_url_sign(*, region: Region, repository: str, digest: str, now: float | None = None) -> str:
    """The absolute URL at the region's data endpoint for one blob, valid DATA_URL_LIFETIME seconds."""
    expires = int(now if now is not None else time.time()) + int(settings.DATA_URL_LIFETIME)
    signature = _signature(region=region.name, repository=repository, digest=digest, expires=expires)
    query = urlencode({"expires": expires, "signature": signature})
    return f"{region.data_endpoint.rstrip('/')}{blob_path(repository=repository, digest=digest)}?{query}"


def data_url_check(*, region_name: str, repository: str, digest: str, expires: str, signature: str,
                   now: float | None = None) -> None:
    """Raise InvalidDataUrl unless the signature covers exactly this region, repository, digest and expiry,
    and the expiry has not passed."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        raise InvalidDataUrl("The URL has no valid expiry.") from None
    expected = _signature(region=region_name, repository=repository, digest=digest, expires=expires_at)
    if not signature or not constant_time_compare(expected, signature):
        raise InvalidDataUrl("The URL's signature does not match.")
    if expires_at < (now if now is not None else time.time()):
        raise InvalidDataUrl("The URL has expired.")
