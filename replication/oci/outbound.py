"""The outbound guard: requests to addresses users choose never reach this machine or its private networks.

A URL a user types (a webhook's service URI, an import's source registry) could otherwise point the
portal's workers at 127.0.0.1, the cloud metadata service (169.254.169.254) or a private network, and
read the answers back. `OutboundGuard` refuses loopback, link-local, private, multicast, unspecified,
reserved and broadcast addresses, and the IPv4-mapped/embedded IPv6 forms of those, unless an
allow-listed network contains them.

The check happens twice: at validation (`check_host`, every address the name resolves to) and when
the connection is opened (`guarded_transport`: an httpx transport whose httpcore network backend
resolves the name once, checks every address, connects to a checked IP and checks the peer the
socket is connected to). The second check is the one that counts: a name that resolved to a public
address at validation and resolves to 127.0.0.1 now (DNS rebinding) is refused there. TLS still
verifies the certificate against, and sends SNI for, the URL's host name: httpcore starts TLS with
the origin's host, not the IP we connected to. Every hop of a redirect opens its connection through
the same backend, so redirects cannot escape the guard either.

No Django here: the portal builds the guard from its settings (replication/outbound.py).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the name resolves to (IP strings), in the order to try them.
Resolver = Callable[[str, int], list[str]]

ALLOW_SETTING = "OUTBOUND_ALLOWED_NETWORKS"
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundAddressRefused(Exception):
    """A request would go to an address outside the allowed public internet; the message says which and why.

    Not an httpx/httpcore error on purpose: it passes through httpx unchanged, and nothing retries it.
    """

    def __init__(self, *, host: str, address: str, address_class: str):
        self.host, self.address, self.address_class = host, address, address_class
        article = "an" if address_class[0] in "aeiou" else "a"
        subject = f"{address} is" if host == address else f"{host} resolves to {address},"
        super().__init__(f"{subject} {article} {address_class} address; outbound requests to private networks "
                         f"are refused unless {ALLOW_SETTING} allows them")


def system_resolve(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), each address once, in its order."""
    addresses: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped ::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_class(address: IPAddress) -> str | None:
    """Why the address is not on the public internet ('loopback', 'private', ...), or None when it is."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return address_class(inner)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address == _BROADCAST:
        return "broadcast"
    if any(address in network for network in _PRIVATE_NETWORKS if network.version == address.version):
        return "private"
    if address.is_reserved or address in _THIS_NETWORK:
        return "reserved"
    if not address.is_global:
        return "non-public"  # documentation, benchmarking, site-local and other special-purpose ranges
    return None


def parse_networks(text: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """'10.1.0.0/16, 127.0.0.1' (or a list of them) -> networks; ValueError naming a bad entry."""
    entries = text.split(",") if isinstance(text, str) else list(text)
    networks = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{ALLOW_SETTING}: {entry!r} is not an IP network such as 10.1.0.0/16") from None
    return tuple(networks)


@dataclass(frozen=True)
class OutboundGuard:
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolve)

    def refusal_class(self, address: IPAddress) -> str | None:
        """The class that refuses this address, or None when it may be reached."""
        klass = address_class(address)
        if klass is None:
            return None
        candidates = [address, embedded_ipv4(address)]
        if any(candidate is not None and candidate.version == network.version and candidate in network
               for candidate in candidates for network in self.allowed_networks):
            return None
        return klass

    def check_address(self, *, host: str, address: str) -> IPAddress:
        literal = address.split("%", 1)[0]  # an IPv6 zone id says nothing about the class
        ip = ipaddress.ip_address(literal)
        klass = self.refusal_class(ip)
        if klass is not None:
            raise OutboundAddressRefused(host=host, address=literal, address_class=klass)
        return ip

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of host, each checked; OutboundAddressRefused if any is refused, OSError if none."""
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            addresses = self.resolver(host, port)
        if not addresses:
            raise OSError(f"{host} resolves to no address")
        # Every address, not only the first: a name with one public and one private record is refused.
        for address in addresses:
            self.check_address(host=host, address=address)
        return addresses

    def check_host(self, host: str, *, port: int = 443) -> None:
        """Validation-time check: refuse a host that resolves to a refused address.

        A name that does not resolve now is let through: the connection checks it again.
        """
        try:
            self.resolve(host, port)
        except OSError:
            pass


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, but every TCP connection goes to a checked address only."""

    def __init__(self, guard: OutboundGuard, backend: httpcore.NetworkBackend | None = None):
        self.guard = guard
        self.backend = backend or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self.guard.resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = self.backend.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                  socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
                continue
            try:
                # The peer the socket really reached, whatever resolved to what.
                peer = stream.get_extra_info("server_addr")
                if peer is not None:
                    self.guard.check_address(host=host, address=peer[0])
            except BaseException:
                stream.close()
                raise
            return stream
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("outbound requests to unix sockets are refused")

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


def guarded_transport(guard: OutboundGuard, **transport_options) -> httpx.HTTPTransport:
    """An httpx transport (HTTPTransport's options: verify, limits, ...) that connects through the guard.

    Pass it as `httpx.Client(transport=...)`: environment proxies are then not used, so nothing
    bypasses the check by way of a proxy.
    """
    transport = httpx.HTTPTransport(**transport_options)
    pool = transport._pool
    # httpcore's pool opens every connection through its network backend; fail loudly if that changes.
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpcore's ConnectionPool no longer has a network backend to guard")
    pool._network_backend = GuardedNetworkBackend(guard)
    return transport
