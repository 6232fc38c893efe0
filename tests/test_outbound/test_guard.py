"""The outbound guard in the engine (no Django): address classes, the allow-list, and real connections refused."""
import ipaddress

import httpcore
import httpx
import pytest

from replication.oci.client import RegistryClient
from replication.oci.outbound import (GuardedNetworkBackend, OutboundAddressRefused, OutboundGuard, address_class,
                                      guarded_transport, parse_networks)
from tests.test_webhooks.receiver import WebhookReceiver

PUBLIC = "93.184.215.14"


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def resolver_of(table):
    return lambda host, port: list(table[host])


@pytest.mark.parametrize("address, klass", [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("255.255.255.255", "broadcast"), ("240.0.0.1", "reserved"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"), ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
])
def test_non_public_addresses_are_classified_and_refused(address, klass):
    assert address_class(ipaddress.ip_address(address)) == klass
    with pytest.raises(OutboundAddressRefused, match=f"{address} is an? {klass} address; .*OUTBOUND_ALLOWED_NETWORKS"):
        OutboundGuard().resolve(address, 80)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address):
    assert OutboundGuard().resolve(address, 443) == [address]


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public():
    guard = OutboundGuard(resolver=resolver_of({"mixed.test": [PUBLIC, "10.1.2.3"]}))
    with pytest.raises(OutboundAddressRefused, match="mixed.test resolves to 10.1.2.3, a private address"):
        guard.resolve("mixed.test", 443)


def test_the_allow_list_opens_its_networks_and_their_mapped_forms_only():
    guard = OutboundGuard(allowed_networks=parse_networks("10.1.0.0/16, 127.0.0.1"))
    assert guard.resolve("10.1.2.3", 80) and guard.resolve("127.0.0.1", 80) and guard.resolve("::ffff:10.1.9.9", 80)
    for refused in ["10.2.0.1", "127.0.0.2", "::1"]:
        with pytest.raises(OutboundAddressRefused):
            guard.resolve(refused, 80)


def test_a_bad_allow_list_entry_is_named():
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not an IP network"):
        parse_networks("10.0.0.0/8,10.0.0.0/33")


def test_an_unresolvable_name_passes_validation_and_fails_to_connect():
    def nowhere(host, port):
        raise OSError("Name or service not known")

    guard = OutboundGuard(resolver=nowhere)
    guard.check_host("nowhere.test")  # the connection checks it again
    with httpx.Client(transport=guarded_transport(guard)) as http, pytest.raises(httpx.ConnectError, match="resolve"):
        http.get("http://nowhere.test/")


def test_a_connection_to_loopback_is_refused_before_a_byte_is_sent(receiver):
    with httpx.Client(transport=guarded_transport(OutboundGuard())) as http:
        with pytest.raises(OutboundAddressRefused, match="127.0.0.1 is a loopback address"):
            http.post(receiver.url + "/hook", content=b"secret")
        with pytest.raises(OutboundAddressRefused, match="localhost resolves to 127.0.0.1, a loopback address"):
            http.post(receiver.url.replace("127.0.0.1", "localhost") + "/hook", content=b"secret")
    assert receiver.received() == []


def test_the_allow_list_lets_the_connection_through(receiver):
    guard = OutboundGuard(allowed_networks=parse_networks("127.0.0.0/8"))
    with httpx.Client(transport=guarded_transport(guard)) as http:
        assert http.post(receiver.url + "/hook", content=b"hello").status_code == 200
    assert [r.body for r in receiver.received("/hook")] == [b"hello"]


def test_a_name_rebound_to_loopback_after_validation_is_refused_on_connect(receiver):
    answers = {"rebind.test": [PUBLIC]}
    guard = OutboundGuard(resolver=lambda host, port: list(answers[host]))
    guard.check_host("rebind.test")  # validation sees a public address
    answers["rebind.test"] = ["127.0.0.1"]  # the attacker's DNS now answers loopback
    url = receiver.url.replace("127.0.0.1", "rebind.test")
    with httpx.Client(transport=guarded_transport(guard)) as http:
        with pytest.raises(OutboundAddressRefused, match="rebind.test resolves to 127.0.0.1, a loopback address"):
            http.post(url + "/hook", content=b"x")
    assert receiver.received() == []


class RoutedToLoopback(httpcore.SyncBackend):
    """A network that delivers a public address's connections to this machine (a NAT, a hostile route)."""

    def __init__(self, port):
        self.port = port

    def connect_tcp(self, host, port, **options):
        return super().connect_tcp("127.0.0.1", self.port, **options)


def test_the_peer_actually_connected_to_is_checked_not_only_the_name(receiver):
    guard = OutboundGuard(resolver=resolver_of({"public.test": [PUBLIC]}))
    backend = GuardedNetworkBackend(guard, backend=RoutedToLoopback(int(receiver.url.rsplit(":", 1)[1])))
    with pytest.raises(OutboundAddressRefused, match="public.test resolves to 127.0.0.1, a loopback address"):
        backend.connect_tcp("public.test", 80)


def test_a_redirect_hop_to_a_refused_address_is_refused(receiver):
    # Only 127.0.0.1 is allowed; the redirect points at 127.0.0.2, loopback too but not allowed.
    receiver.answer("/hop", (307, {"Location": receiver.url.replace("127.0.0.1", "127.0.0.2") + "/inside"}))
    guard = OutboundGuard(allowed_networks=parse_networks("127.0.0.1/32"))
    with httpx.Client(transport=guarded_transport(guard), follow_redirects=True) as http:
        with pytest.raises(OutboundAddressRefused, match="127.0.0.2 is a loopback address"):
            http.post(receiver.url + "/hop", content=b"x")


def test_a_guarded_registry_client_cannot_reach_a_loopback_registry(registry_factory):
    registry = registry_factory("inside")
    with RegistryClient(registry.url) as unguarded:
        assert unguarded.ping()
    with RegistryClient(registry.url, outbound_guard=OutboundGuard()) as guarded:
        with pytest.raises(OutboundAddressRefused, match="loopback"):
            guarded.tags("any/thing")
    allowed = OutboundGuard(allowed_networks=parse_networks("127.0.0.0/8"))
    with RegistryClient(registry.url, outbound_guard=allowed) as guarded:
        assert guarded.tags("any/thing") == []
