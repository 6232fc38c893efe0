"""The fleet's link relay (replication/link_relay.py): delay, partition and heal on a real TCP echo server."""
import socket
import threading
import time

import pytest

from replication.dataplane import find_free_port
from replication.link_relay import LinkConditions, LinkRelays


@pytest.fixture
def echo_server():
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(connection):
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by the fixture's teardown
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()
    stop.set()
    server.close()


@pytest.fixture
def link(echo_server):
    relays = LinkRelays("test", LinkConditions(delay=0.1))
    port = find_free_port()
    relays.forward(listen=("127.0.0.1", port), target=echo_server)
    yield relays, ("127.0.0.1", port)
    relays.close()


def round_trip(address, payload=b"x" * 200_000, timeout=10) -> float:
    started = time.monotonic()
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            received += chunk
    assert received == payload
    return time.monotonic() - started


def test_bytes_cross_intact_and_late(link):
    relays, address = link
    # Connect (one way), then the data there and back: at least 3 one-way delays.
    assert round_trip(address) >= 0.3
    assert relays.conditions.connections == 1


def test_a_partition_cuts_live_connections_and_holds_new_ones_until_the_heal(link):
    relays, address = link
    live = socket.create_connection(address, timeout=5)
    live.sendall(b"ping")
    assert live.recv(10) == b"ping"
    relays.partition()
    live.settimeout(5)
    assert live.recv(10) == b"", "the live connection is cut"
    held = socket.create_connection(address, timeout=5)
    held.sendall(b"hello?")
    held.settimeout(0.8)
    with pytest.raises(TimeoutError):
        held.recv(10)  # nobody answers across a partition
    relays.heal()
    held.settimeout(5)
    try:
        assert held.recv(10) == b""  # closed at the heal, as a peer that forgot the connection
    except ConnectionResetError:
        pass
    assert relays.conditions.refused_while_partitioned == 1
    assert round_trip(address) >= 0.3  # and the link carries again


def test_loss_stalls_chunks_by_a_retransmission_timeout(link):
    relays, address = link
    relays.set(delay=0.0, loss=1.0)
    assert round_trip(address, payload=b"y" * 1000) >= 0.2 * 2  # one stall each way
    assert relays.conditions.stalls >= 2
