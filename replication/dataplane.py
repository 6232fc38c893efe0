"""Local CNCF Distribution registries: one `docker-registry serve` process per region.

Pure Python (no Django) so the portal, the tests and the operator's CLI can all start one.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from .oci.constants import IMAGE_MEDIA_TYPES, INDEX_MEDIA_TYPES

DISTRIBUTION_BINARY = "/usr/bin/docker-registry"
# The media type of Distribution's blob events (its uploads and mounts): never replicated one by one.
BLOB_EVENTS_MEDIA_TYPE = "application/octet-stream"


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_answers(url: str, timeout: float = 2.0, *, http: httpx.Client | None = None) -> bool:
    """True when `GET /v2/` answers like a registry (200, or 401 asking for credentials)."""
    try:
        if http is None:
            response = httpx.get(url.rstrip("/") + "/v2/", timeout=timeout)
        else:
            response = http.get(url.rstrip("/") + "/v2/", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code in (200, 401)


def token_auth(*, realm: str, service: str, issuer: str, rootcertbundle: str | os.PathLike) -> dict:
    """Distribution's `auth:` section for the OCI token flow: only tokens signed by a trusted cert get in."""
    return {"token": {"realm": realm, "service": service, "issuer": issuer, "rootcertbundle": str(rootcertbundle)}}


def notification_lane(name: str, url: str, headers: dict[str, list[str]], *, ignored_media_types=(),
                      ignored_actions: tuple[str, ...] = ("pull",)) -> dict:
    """One of Distribution's `notifications.endpoints`: never blob events, nor the types and actions given."""
    return {"name": name, "url": url, "headers": {key: list(values) for key, values in headers.items()},
            "timeout": "2s", "threshold": 5, "backoff": "1s",
            "ignoredmediatypes": [BLOB_EVENTS_MEDIA_TYPE, *sorted(ignored_media_types)],
            "ignore": {"actions": list(ignored_actions)}}


def notification_endpoints(url: str, headers: dict[str, list[str]]) -> list[dict]:
    """Distribution's `notifications.endpoints`: two lanes to the same portal URL.

    Distribution sends an endpoint's events one at a time, each after the answer to the one before. A
    multi-platform push notifies its platforms' manifests first, then its index (the tag): in one lane a burst's
    tags queue behind every platform manifest pushed before them. So indexes and deletes take one lane and image
    manifests the other (neither: blobs and pulls; both: a manifest of a type the portal does not replicate, which
    it ignores twice). The portal orders events by their own timestamps, not by arrival (event_superseded), so
    the two lanes need no order between them.
    """
    return [notification_lane("portal", url, headers, ignored_media_types=IMAGE_MEDIA_TYPES),
            # A delete has no media type: only the first lane sends it.
            notification_lane("portal-images", url, headers, ignored_media_types=INDEX_MEDIA_TYPES,
                              ignored_actions=("pull", "delete"))]


class DistributionProcess:
    """One Distribution registry listening on 127.0.0.1:port, storing under storage_dir."""

    def __init__(
        self,
        name: str,
        *,
        port: int,
        storage_dir: str | os.PathLike,
        http_secret: str,
        notifications_url: str | None = None,
        notifications_headers: dict[str, list[str]] | None = None,
        log_path: str | os.PathLike | None = None,
        auth: dict | None = None,
        binary: str = DISTRIBUTION_BINARY,
        host: str = "127.0.0.1",
        command_prefix: list[str] | None = None,
    ):
        self.name = name
        self.port = port
        self.storage_dir = Path(storage_dir)
        self.http_secret = http_secret
        self.notifications_url = notifications_url
        self.notifications_headers = notifications_headers or {}
        self.log_path = Path(log_path) if log_path else self.storage_dir.parent / f"{name}.log"
        self.config_path = self.storage_dir.parent / f"{name}.yml"
        self.auth = auth  # Distribution's `auth:` section as is (htpasswd, token, silly)
        self.binary = binary
        self.host = host
        # Run the binary through e.g. `ip netns exec NS` (fleet_hosts.py puts each region on a host of its own).
        self.command_prefix = list(command_prefix or [])
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def config(self) -> dict:
        config = {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
            },
            # A fixed secret, or upload sessions break across restarts.
            "http": {"addr": f"{self.host}:{self.port}", "secret": self.http_secret},
        }
        if self.auth:
            config["auth"] = self.auth
        if self.notifications_url:
            config["notifications"] = {"endpoints": notification_endpoints(self.notifications_url,
                                                                           self.notifications_headers)}
        return config

    def write_config(self) -> Path:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        return self.config_path

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start the process and wait until `GET /v2/` answers; raise with the log tail if not."""
        if self.is_running():
            return
        if not Path(self.binary).exists():
            raise RuntimeError(f"{self.binary} is missing: install the Debian package docker-registry")
        self.write_config()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [*self.command_prefix, self.binary, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the parent's terminal is ours to forward
            )
        deadline = time.monotonic() + timeout
        with httpx.Client() as http:  # one client: building one per poll costs more than the poll
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"registry {self.name} exited with {self._process.returncode}:\n{self.log_tail()}"
                    )
                if registry_answers(self.url, timeout=0.5, http=http):
                    return
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"registry {self.name} did not answer on {self.url} within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within timeout."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crashed host would; start() brings it back on the same storage."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "DistributionProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DistributionProcess({self.name!r}, url={self.url!r})"
