"""Local Distribution processes: config, start, stop, and the events they send."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from replication.dataplane import DistributionProcess, registry_answers
from replication.oci import RegistryClient
from replication.oci.constants import EVENTS_MEDIA_TYPE
from tests.conftest import wait_for

from .test_client import push_tiny_image


def test_config_enables_deletes_and_filters_notifications(tmp_path):
    registry = DistributionProcess(
        "westus", port=5123, storage_dir=tmp_path / "data", http_secret="fixed",
        notifications_url="http://127.0.0.1:8000/events/", notifications_headers={"X-Region": ["westus"]},
    )
    config = yaml.safe_load(registry.write_config().read_text())

    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"] == {"addr": "127.0.0.1:5123", "secret": "fixed"}
    (endpoint,) = config["notifications"]["endpoints"]
    assert endpoint["url"] == "http://127.0.0.1:8000/events/" and endpoint["headers"] == {"X-Region": ["westus"]}
    assert endpoint["ignoredmediatypes"] == ["application/octet-stream"]
    assert endpoint["ignore"] == {"actions": ["pull"]}
    quiet = DistributionProcess("eastus", port=1, storage_dir=tmp_path / "e", http_secret="s")
    assert "notifications" not in quiet.config()


def test_start_and_stop(registry_factory):
    registry = registry_factory()
    assert registry.is_running() and registry_answers(registry.url)
    registry.stop()
    assert not registry.is_running() and not registry_answers(registry.url, timeout=0.5)


def test_a_registry_that_cannot_start_says_why(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        registry = DistributionProcess("busy", port=port, storage_dir=tmp_path / "data", http_secret="s")
        with pytest.raises(RuntimeError, match="address already in use"):
            registry.start(timeout=10)
    assert not registry.is_running()


def test_pushes_reach_the_notifications_endpoint_without_blob_events(registry_factory):
    received = []

    class Events(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], self.headers["X-Region"], json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Events)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        registry = registry_factory(
            notifications_url=f"http://127.0.0.1:{server.server_address[1]}/events",
            notifications_headers={"X-Region": ["westus"]},
        )
        digest = push_tiny_image(RegistryClient(registry.url), "contoso/app", "1.0")
        wait_for(lambda: received, timeout=10, interval=0.05, message="the push event")
    finally:
        server.shutdown()
        server.server_close()

    events = [event for _, _, envelope in received for event in envelope["events"]]
    assert {(content_type, region) for content_type, region, _ in received} == {(EVENTS_MEDIA_TYPE, "westus")}
    summary = [(e["action"], e["target"]["repository"], e["target"]["digest"], e["target"].get("tag")) for e in events]
    assert summary == [("push", "contoso/app", digest, "1.0")]
