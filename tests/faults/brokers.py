"""Brokers of a fault case's own, on 127.0.0.1: the machine's Redis and RabbitMQ serve other sessions and are
never restarted. A private broker can be killed hard (SIGKILL: what it held in memory is gone) and started
again on the same port, and the case points its fleet (and this test process's Celery app) at it."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # /usr/sbin's wrappers `su` to the rabbitmq user; we stay root


def port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class PrivateBroker:
    kind = ""

    def __init__(self, root: Path, port: int):
        self.root, self.port = Path(root), port
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / f"{self.kind}.log"
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict:
        return dict(os.environ)

    def answers(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 90.0) -> float:
        """Start it and wait until it answers; returns the seconds that took."""
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv(), cwd=self.root, env=self.env(), stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.popen.poll() is not None:
                break
            if self.answers():
                return time.monotonic() - started
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.kill()
        raise RuntimeError(f"private {self.kind} on port {self.port} did not start:\n{tail}")

    def kill(self) -> None:
        """SIGKILL to its process group, as a crashed host would."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        self.kill()


class PrivateRedis(PrivateBroker):
    """redis-server with nothing on disk: a restart starts empty, so every queued message is lost."""

    kind = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                "no", "--dir", str(self.root)]

    def answers(self) -> bool:
        import redis

        with contextlib.suppress(redis.RedisError):
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        return False


class PrivateRabbitMQ(PrivateBroker):
    """A RabbitMQ node of its own (name, ports, Mnesia, logs and config in the case's folder).

    Its durable queues and persistent messages are on disk, so a restart keeps what it had fsynced."""

    kind = "rabbitmq"

    def __init__(self, root: Path, port: int, *, dist_port: int, node: str):
        super().__init__(root, port)
        self.dist_port, self.node = dist_port, node
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\n"
                                                 "loopback_users = none\n")
        (self.root / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict:
        return {**os.environ, "HOME": str(self.root),  # its own Erlang cookie
                "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"), "RABBITMQ_LOG_BASE": str(self.root / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins")}

    def argv(self) -> list[str]:
        return [str(RABBITMQ_BIN / "rabbitmq-server")]

    def answers(self) -> bool:
        from kombu import Connection

        if not port_answers(self.port):
            return False
        try:
            with Connection(self.url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "stop"], env=self.env(),
                           capture_output=True, timeout=60)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


@contextlib.contextmanager
def app_broker(url: str):
    """Point this process's Celery app (what services send tasks with) at `url`, and back afterwards.

    Celery reads the CELERY_BROKER_URL environment variable before its configuration, so that changes too."""
    from django.conf import settings
    from kombu import Connection

    from portal.celery import app

    def reset():
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    previous, previous_setting = app.conf.broker_url, settings.CELERY_BROKER_URL
    previous_environment = os.environ.get("CELERY_BROKER_URL")
    reset()
    app.conf.broker_url = settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"] = url
    try:
        assert app.connection_for_write().as_uri() == Connection(url).as_uri(), "the app still uses another broker"
        yield
    finally:
        reset()
        app.conf.broker_url, settings.CELERY_BROKER_URL = previous, previous_setting
        if previous_environment is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_environment
