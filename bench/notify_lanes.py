"""`python -m bench notify-lanes`: how long a registry's notifications wait in its queue under a burst of pushes,
in one lane (one endpoint) and in the two lanes the portal configures (replication.dataplane.notification_endpoints).

Distribution sends an endpoint's events one at a time, each after the answer to the one before, so under a
burst an event waits for the answers to every event queued before it. This measures that wait alone: one real
registry, skopeo pushers, and in place of the portal a trivial endpoint that answers every notification after
`--answer-ms` (what the portal's answer costs; 0: at once). No workers and no copies share the machine, as on
separate hosts. Each round runs both layouts on a fresh registry, alternating which goes first, and prints the
lag of each event (arrival at the endpoint minus the event's own timestamp) for indexes (the tags of
multi-platform pushes) and image manifests (their platforms).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.push_stages import free_port

LAYOUTS = ("one lane", "two lanes")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench notify-lanes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--answer-ms", type=float, nargs="+", default=[0, 25],
                        help="the endpoint's answer time per notification (one run per value)")
    parser.add_argument("--pushers", type=int, default=10, help="concurrent skopeo pushers")
    parser.add_argument("--images", type=int, default=50, help="two-platform index images pushed in the burst")
    parser.add_argument("--layer-kib", type=int, default=256, help="each platform image's own layer")
    parser.add_argument("--rounds", type=int, default=2)
    return parser.parse_args(argv)


class Endpoint:
    """Records (arrival, event) for every manifest event posted to it; answers after `answer_seconds`."""

    def __init__(self, answer_seconds: float):
        self.arrivals: list[tuple[float, dict]] = []
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.time()
                with lock:
                    arrivals.extend((now, event) for event in json.loads(body)["events"])
                time.sleep(answer_seconds)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def one_lane(url: str, headers: dict) -> list[dict]:
    """The layout before the lanes: one endpoint for every manifest event."""
    from replication.dataplane import notification_lane

    return [notification_lane("portal", url, headers)]


def trial(layout: str, answer_seconds: float, args, source_url: str, images: list[tuple[str, str]],
          directory: Path) -> dict:
    from django.utils.dateparse import parse_datetime

    from replication.dataplane import DistributionProcess, notification_endpoints
    from replication.oci.constants import INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES

    endpoint = Endpoint(answer_seconds)
    endpoints = (one_lane if layout == "one lane" else notification_endpoints)(endpoint.url, {})

    class Registry(DistributionProcess):
        def config(self) -> dict:
            config = super().config()
            config["notifications"] = {"endpoints": endpoints}
            return config

    registry = Registry("home", port=free_port(), storage_dir=directory / layout.replace(" ", "-"),
                        http_secret="notify-lanes", notifications_url=endpoint.url)
    registry.start()
    try:
        lanes: dict[str, list[str]] = {}
        for repository, tag in images:
            lanes.setdefault(repository, []).append(tag)

        errors = []

        def pusher(repository: str, tags: list[str]) -> None:
            source_host, target_host = source_url.removeprefix("http://"), registry.url.removeprefix("http://")
            try:
                for tag in tags:
                    subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                                    "--dest-tls-verify=false", f"docker://{source_host}/{repository}:{tag}",
                                    f"docker://{target_host}/{repository}:{tag}"],
                                   check=True, capture_output=True, timeout=300)
            except Exception as exc:  # noqa: BLE001 - raised below, not left to wait for events that never come
                errors.append(exc)

        started = time.time()
        threads = [threading.Thread(target=pusher, args=item) for item in lanes.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pushed = time.time() - started
        if errors:
            raise errors[0]
        expected = 3 * len(images)  # two platforms and the index of each
        deadline = time.time() + 120
        manifests = []
        while time.time() < deadline:
            manifests = [(arrival, event) for arrival, event in list(endpoint.arrivals)
                         if event["action"] == "push" and event["target"].get("mediaType") in MANIFEST_MEDIA_TYPES]
            if len(manifests) >= expected:
                break
            time.sleep(0.05)
        lags: dict[str, list[float]] = {"index": [], "image manifest": []}
        for arrival, event in manifests:
            kind = "index" if event["target"]["mediaType"] in INDEX_MEDIA_TYPES else "image manifest"
            lags[kind].append(arrival - parse_datetime(event["timestamp"]).timestamp())
        ids = [event["id"] for _, event in endpoint.arrivals]
        return {"pushing": pushed, "lags": lags, "events": len(manifests), "expected": expected,
                "duplicates": len(ids) - len(set(ids)),
                "last": max((arrival for arrival, _ in manifests), default=started) - started}
    finally:
        registry.stop()
        endpoint.close()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from replication.dataplane import DistributionProcess
    from replication.oci.client import RegistryClient
    from replication.oci.corpus import KiB, build_corpus, push_corpus

    directory = Path(tempfile.mkdtemp(prefix="notify-lanes-"))
    source = DistributionProcess("source", port=free_port(), storage_dir=directory / "source", http_secret="source")
    source.start()
    try:
        repositories = max(1, min(args.images, args.pushers))
        corpus = build_corpus(503, repositories=repositories, tags_per_repo=-(-args.images // repositories),
                              multi_platform_repositories=repositories, shared_base_layers=1,
                              base_layer_size=64 * KiB, unique_layer_size=args.layer_kib * KiB)
        with RegistryClient(source.url) as client:
            pushed = push_corpus(client, corpus, "lanes/", concurrency=8)
        images = sorted(key for key in pushed if key[1] != "latest")[:args.images]
        results = {(answer, layout): [] for answer in args.answer_ms for layout in LAYOUTS}
        for answer in args.answer_ms:
            for round_number in range(args.rounds):
                order = LAYOUTS if round_number % 2 == 0 else tuple(reversed(LAYOUTS))
                for layout in order:
                    results[(answer, layout)].append(trial(layout, answer / 1000, args, source.url, images,
                                                           directory / f"{answer}-{round_number}"))
        print(f"Notification lanes: {args.images} two-platform index images pushed by {args.pushers} skopeo "
              f"processes into one registry; {args.rounds} round(s) per layout, alternating order; lag = arrival at "
              "the endpoint minus the event's timestamp, in ms")
        print(f"{'answer':>6} | {'layout':<9} | {'pushing s':>9} | {'index lag median':>16} | {'worst':>6} | "
              f"{'manifest lag median':>19} | {'worst':>6} | {'all in after s':>14} | events")
        for (answer, layout), runs in results.items():
            index = [lag for run in runs for lag in run["lags"]["index"]]
            image = [lag for run in runs for lag in run["lags"]["image manifest"]]
            print(f"{answer:>6.0f} | {layout:<9} | {statistics.median(r['pushing'] for r in runs):>9.1f} | "
                  f"{statistics.median(index) * 1000:>16.0f} | {max(index) * 1000:>6.0f} | "
                  f"{statistics.median(image) * 1000:>19.0f} | {max(image) * 1000:>6.0f} | "
                  f"{statistics.median(r['last'] for r in runs):>14.1f} | "
                  f"{sum(r['events'] for r in runs)} of {sum(r['expected'] for r in runs)}, "
                  f"{sum(r['duplicates'] for r in runs)} twice")
    finally:
        source.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return 0
