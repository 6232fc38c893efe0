"""Who is calling: the client's address, believing X-Forwarded-For only from a trusted proxy.

One rule for the global endpoint's routing and for sign-in throttling, so a proxy in front of
either (TRUSTED_PROXIES) is treated the same way, and nobody else can choose their address.
"""
import ipaddress
from functools import lru_cache

from django.conf import settings

from .exceptions import InvalidInput


def networks_parse(text: str, *, with_region: bool) -> list:
    """"CIDR,CIDR" (or "CIDR=region,…" with_region) from a setting; InvalidInput names a bad entry."""
    entries = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        cidr, _, region = item.partition("=")
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise InvalidInput(f"'{cidr}' is not a network (CIDR).") from None
        if with_region and not region.strip():
            raise InvalidInput(f"'{item}' names no region (CIDR=region).")
        entries.append((network, region.strip()) if with_region else network)
    return entries



@lru_cache(maxsize=8)
def trusted_proxies(text: str) -> tuple:
    return tuple(networks_parse(text, with_region=False))


def ip_address_or_none(text: str):
    """The address in `text`, or None when it is not one."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(*, remote_addr: str, forwarded_for: str = "") -> str:
    """The client's address: the peer, or the first X-Forwarded-For hop when the peer is a trusted proxy."""
    peer = ip_address_or_none(remote_addr)
    if forwarded_for and peer is not None and any(peer in net for net in trusted_proxies(settings.TRUSTED_PROXIES)):
        first_hop = forwarded_for.split(",")[0]
        if ip_address_or_none(first_hop) is not None:
            return first_hop.strip()
    return remote_addr


def request_client_address(request) -> str:
    return client_address(remote_addr=request.META.get("REMOTE_ADDR", ""),
                          forwarded_for=request.headers.get("X-Forwarded-For", "")) or "unknown"
