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
from replication.oci.constants import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    EVENTS_MEDIA_TYPE,
    OCI_INDEX,
    OCI_MANIFEST,
)
from tests.conftest import notification_sink, wait_for

from .test_client import push_tiny_image


def test_config_enables_deletes_and_filters_notifications(tmp_path):
    registry = DistributionProcess(
        "westus", port=5123, storage_dir=tmp_path / "data", http_secret="fixed",
        notifications_url="http://127.0.0.1:8000/events/", notifications_headers={"X-Region": ["westus"]},
    )
    config = yaml.safe_load(registry.write_config().read_text())

    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"] == {"addr": "127.0.0.1:5123", "secret": "fixed"}
    indexes, images = config["notifications"]["endpoints"]  # two lanes, as notification_endpoints says why
    for endpoint in (indexes, images):
        assert endpoint["url"] == "http://127.0.0.1:8000/events/" and endpoint["headers"] == {"X-Region": ["westus"]}
        assert endpoint["ignoredmediatypes"][0] == "application/octet-stream"  # no event per blob
    assert set(indexes["ignoredmediatypes"][1:]) == {OCI_MANIFEST, DOCKER_MANIFEST}
    assert indexes["ignore"] == {"actions": ["pull"]}
    assert set(images["ignoredmediatypes"][1:]) == {OCI_INDEX, DOCKER_MANIFEST_LIST}
    assert images["ignore"] == {"actions": ["pull", "delete"]}
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

    def record(headers, body):
        received.append((headers["Content-Type"], headers["X-Region"], json.loads(body)))

    with notification_sink(record) as url:
        registry = registry_factory(notifications_url=url, notifications_headers={"X-Region": ["westus"]})
        digest = push_tiny_image(RegistryClient(registry.url), "contoso/app", "1.0")
        wait_for(lambda: received, timeout=10, interval=0.05, message="the push event")

    events = [event for _, _, envelope in received for event in envelope["events"]]
    assert {(content_type, region) for content_type, region, _ in received} == {(EVENTS_MEDIA_TYPE, "westus")}
    summary = [(e["action"], e["target"]["repository"], e["target"]["digest"], e["target"].get("tag")) for e in events]
    assert summary == [("push", "contoso/app", digest, "1.0")]


def test_an_index_and_image_manifests_are_notified_in_two_lanes_each_event_once(registry_factory):
    """While the portal holds its answer to an index's event, image manifests pushed after it are still notified
    (the other lane; in one lane they would wait behind it). Every event arrives once, a delete too."""
    received, lock = [], threading.Lock()
    index_arrived, release = threading.Event(), threading.Event()

    class Events(BaseHTTPRequestHandler):
        def do_POST(self):
            events = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["events"]
            with lock:
                received.extend(events)
            if any(event["target"].get("mediaType") == OCI_INDEX for event in events):
                index_arrived.set()
                release.wait(timeout=30)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    def seen(action, digest):
        with lock:
            return [e for e in received if e["action"] == action and e["target"].get("digest") == digest]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Events)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        registry = registry_factory(notifications_url=f"http://127.0.0.1:{server.server_address[1]}/events",
                                    notifications_headers={"X-Region": ["westus"]})
        client = RegistryClient(registry.url)
        platforms = {name: push_tiny_image(client, "contoso/app", label=name) for name in ("amd64", "arm64")}
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest, "size": client.head_manifest("contoso/app", digest).size,
             "platform": {"architecture": name, "os": "linux"}} for name, digest in platforms.items()]}).encode()
        client.put_manifest("contoso/app", "1.0", index, OCI_INDEX)
        wait_for(index_arrived.is_set, timeout=30, interval=0.05, message="the index's event")
        try:
            after = push_tiny_image(client, "contoso/app", "2.0", label="after")
            wait_for(lambda: seen("push", after), timeout=30, interval=0.05,
                     message="an image manifest's event while the index's answer is held")
        finally:
            release.set()
        assert client.delete_manifest("contoso/app", after)
        wait_for(lambda: seen("delete", after), timeout=30, interval=0.05, message="the delete's event")
    finally:
        release.set()
        server.shutdown()
        server.server_close()

    with lock:
        ids = [event["id"] for event in received]
        manifests = sorted((e["action"], e["target"].get("mediaType", ""), e["target"].get("tag", ""))
                           for e in received if e["target"].get("digest") or e["target"].get("tag"))
    assert len(ids) == len(set(ids))  # no event twice, though both lanes post to the same URL
    assert [m for m in manifests if m[0] == "push"] == sorted(
        [("push", OCI_INDEX, "1.0"), ("push", OCI_MANIFEST, ""), ("push", OCI_MANIFEST, ""),
         ("push", OCI_MANIFEST, "2.0")])
    assert len(seen("delete", after)) == 1
