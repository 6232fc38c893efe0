"""A strict little OCI registry with a bearer-token server, on http.server, for what
Distribution 2.8 cannot show: tokens checked per scope, relative Location headers, and
tag lists that page (Distribution 2.8 ignores `n` on tags/list).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs|tags)/(?P<rest>.*)$")


def _access(scopes: list[str]) -> set[tuple[str, str]]:
    """`repository:a/b:pull,push` -> {("repository:a/b", "pull"), ("repository:a/b", "push")}: a token grants
    actions, so one to push and pull also serves a pull, as with Distribution."""
    pairs = set()
    for scope in " ".join(scopes).split():
        resource, _, actions = scope.rpartition(":")
        pairs.update((resource, action) for action in actions.split(","))
    return pairs


class FakeRegistry:
    def __init__(self, *, username: str | None = None, password: str | None = None, service: str = "fake-registry",
                 uploads_at: "FakeRegistry | None" = None):
        """uploads_at: another fake where this one opens its uploads (an absolute Location there), as a global
        endpoint opens them in a region."""
        self.username, self.password, self.service = username, password, service
        self.uploads_at = uploads_at
        self.authorizations: list[str] = []  # every Authorization header a request brought (token requests too)
        self.tokens: dict[str, set[tuple[str, str]]] = {}  # token -> (resource, action) pairs it grants
        self.token_requests: list[dict] = []  # what each token request asked for
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of registry requests
        self.unauthorized = 0  # registry requests answered with a challenge
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}  # (repo, reference) -> (body, type)
        self.tags: dict[str, list[str]] = {}
        self.uploads: dict[str, str] = {}  # upload id -> state secret
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "FakeRegistry":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                registry._dispatch(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        return Handler

    # ---- HTTP plumbing --------------------------------------------------------------------

    @staticmethod
    def _body(handler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(handler.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    handler.rfile.readline()
                    return bytes(data)
                data += handler.rfile.read(size)
                handler.rfile.readline()
        return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))

    @staticmethod
    def _send(handler, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _error(self, handler, status: int, code: str, headers: dict | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}).encode()
        self._send(handler, status, body, {"Content-Type": "application/json", **(headers or {})})

    # ---- token server and auth ------------------------------------------------------------

    def _token(self, handler, query: dict) -> None:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        given = handler.headers.get("Authorization", "")
        with self._lock:
            self.token_requests.append(
                {"service": query.get("service", [""])[0], "scopes": query.get("scope", []), "authorization": given}
            )
        if self.username is not None and given != f"Basic {expected}":
            return self._error(handler, 401, "UNAUTHORIZED")
        token = secrets.token_hex(8)
        with self._lock:
            self.tokens[token] = _access(query.get("scope", []))
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        self._send(handler, 200, body, {"Content-Type": "application/json"})

    def _authorized(self, handler, scope: str | None) -> bool:
        header = handler.headers.get("Authorization", "")
        granted = self.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if granted is not None and (scope is None or _access([scope]) <= granted):
            return True
        with self._lock:
            self.unauthorized += 1
        challenge = f'Bearer realm="{self.url}/token",service="{self.service}"' + (f',scope="{scope}"' if scope else "")
        self._error(handler, 401, "UNAUTHORIZED", {"WWW-Authenticate": challenge})
        return False

    # ---- the registry -----------------------------------------------------------------------

    def _dispatch(self, handler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        body = self._body(handler) if handler.command in ("POST", "PUT", "PATCH") else b""
        if "Authorization" in handler.headers:
            with self._lock:
                self.authorizations.append(handler.headers["Authorization"])
        if url.path == "/token":
            return self._token(handler, query)
        with self._lock:
            self.requests.append((handler.command, handler.path))
        if url.path == "/v2/":
            if self._authorized(handler, None):
                self._send(handler, 200, b"{}", {"Content-Type": "application/json"})
            return
        match = _PATH.match(url.path)
        if not match:
            return self._error(handler, 404, "NOT_FOUND")
        name, kind, rest = match["name"], match["kind"], match["rest"]
        action = "pull" if handler.command in ("GET", "HEAD") else "pull,push"
        if not self._authorized(handler, f"repository:{name}:{action}"):
            return
        if kind == "tags":
            return self._tags(handler, name, query)
        if kind == "manifests":
            return self._manifest(handler, name, rest, body)
        return self._blob(handler, name, rest, query, body)

    def _tags(self, handler, name: str, query: dict) -> None:
        tags = sorted(self.tags.get(name, []))
        if not tags:
            return self._error(handler, 404, "NAME_UNKNOWN")
        n = int(query.get("n", ["100"])[0])
        last = query.get("last", [""])[0]
        page = [tag for tag in tags if tag > last][:n]
        headers = {"Content-Type": "application/json"}
        if page and page[-1] != tags[-1]:
            headers["Link"] = f'</v2/{name}/tags/list?{urlencode({"n": n, "last": page[-1]})}>; rel="next"'
        self._send(handler, 200, json.dumps({"name": name, "tags": page}).encode(), headers)

    def _manifest(self, handler, name: str, reference: str, body: bytes) -> None:
        if handler.command == "PUT":
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            media_type = handler.headers.get("Content-Type", "")
            with self._lock:
                self.manifests[(name, reference)] = self.manifests[(name, digest)] = (body, media_type)
                if not reference.startswith("sha256:"):
                    self.tags.setdefault(name, []).append(reference)
            headers = {"Docker-Content-Digest": digest, "Location": f"/v2/{name}/manifests/{digest}"}
            return self._send(handler, 201, headers=headers)
        stored = self.manifests.get((name, reference))
        if stored is None:
            return self._error(handler, 404, "MANIFEST_UNKNOWN")
        digest = "sha256:" + hashlib.sha256(stored[0]).hexdigest()
        self._send(handler, 200, stored[0], {"Content-Type": stored[1], "Docker-Content-Digest": digest})

    def _blob(self, handler, name: str, rest: str, query: dict, body: bytes) -> None:
        if handler.command == "POST" and rest == "uploads/":
            upload_id, state = secrets.token_hex(8), secrets.token_hex(8)
            (self.uploads_at or self).uploads[upload_id] = state
            # A relative Location with its own query, as the spec allows: the client must keep _state.
            location = f"/v2/{name}/blobs/uploads/{upload_id}?_state={state}"
            if self.uploads_at is not None:
                location = self.uploads_at.url + location
            return self._send(handler, 202, headers={"Location": location})
        if handler.command == "PUT" and rest.startswith("uploads/"):
            upload_id = rest.removeprefix("uploads/")
            if self.uploads.get(upload_id) != query.get("_state", [None])[0]:
                return self._error(handler, 404, "BLOB_UPLOAD_INVALID")
            digest = query.get("digest", [""])[0]
            if digest != "sha256:" + hashlib.sha256(body).hexdigest():
                return self._error(handler, 400, "DIGEST_INVALID")
            self.blobs[digest] = body
            headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
            return self._send(handler, 201, headers=headers)
        if handler.command in ("GET", "HEAD") and rest in self.blobs:
            return self._send(handler, 200, self.blobs[rest], {"Content-Type": "application/octet-stream"})
        self._error(handler, 404, "BLOB_UNKNOWN")
