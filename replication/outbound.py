"""Outbound requests to addresses users choose (webhook receivers, import sources), from the portal's settings.

The rule and the transport live in the engine (oci/outbound.py, no Django); this module reads
OUTBOUND_ALLOWED_NETWORKS and turns a refusal at validation time into a 400 naming the address
class. Operators' own endpoints (Region.endpoint) are not user input and are not guarded.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .exceptions import InvalidInput
from .oci.outbound import OutboundAddressRefused, OutboundGuard, parse_networks, system_resolve

# Where outbound_guard() resolves names; tests swap it (DNS is outside this machine).
outbound_resolver = system_resolve


def outbound_guard() -> OutboundGuard:
    """The guard as configured now: read on each call, so a changed setting applies to the next request."""
    try:
        allowed = parse_networks(settings.OUTBOUND_ALLOWED_NETWORKS)
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None
    return OutboundGuard(allowed_networks=allowed, resolver=lambda host, port: outbound_resolver(host, port))


def outbound_url_check(url: str, *, field: str, label: str) -> None:
    """400 when the URL's host is, or resolves to, an address the guard refuses (checked again on connect)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # urlsplit checks the port's range only when asked (Django's URLValidator allows 99999)
        raise InvalidInput(f"{label} has a port outside 0-65535.", field=field) from None
    try:
        outbound_guard().check_host(host, port=port)
    except OutboundAddressRefused as refused:
        raise InvalidInput(f"{label} is refused: {refused}.", field=field) from None
