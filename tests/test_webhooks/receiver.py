"""A real HTTP receiver for webhook deliveries: http.server on 127.0.0.1 in a thread, recording every request."""
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Answers each request with the next scripted (status, headers[, body]) for its path, then 200; records them all."""

    def __init__(self):
        self.requests: list[ReceivedRequest] = []
        self.script: dict[str, list[tuple]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(ReceivedRequest("POST", self.path, dict(self.headers.items()), body))
                    queued = receiver.script.get(self.path) or []
                    status, headers, *body = queued.pop(0) if queued else (200, {})
                answer = body[0] if body else b'{"ok": true}' if status < 300 else f"status {status}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *responses: int | tuple) -> None:
        """Script the next answers for `path`: status codes, (status, headers) or (status, headers, body bytes)."""
        with self._lock:
            self.script.setdefault(path, []).extend(r if isinstance(r, tuple) else (r, {}) for r in responses)

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
