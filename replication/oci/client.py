"""A client for the OCI Distribution API (any registry: Distribution, ACR, Harbor, ...).

One `RegistryClient` per registry endpoint, shared by every thread of a copy: httpx pools
the connections, and the bearer tokens are cached per scope behind a lock (BearerTokens, which
clients of one registry may share).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, NamedTuple
from urllib.parse import urlencode

import httpcore._sync.http11
import httpx

from .constants import MANIFEST_ACCEPT, MAX_PAGE_SIZE
from .outbound import OutboundGuard, guarded_transport
from .reference import is_digest, parse_digest
from .retry import HTTP_REQUEST_RETRY, RetryPolicy

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)
USER_AGENT = "georegistry-replication/0.1"
TOKEN_LIFETIME = 60  # seconds, when the token server does not say (the token spec's default)
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
READ_SIZE = 256 * 1024  # socket read size that tune_socket_reads() sets


def tune_socket_reads() -> None:
    """Make httpcore read the socket READ_SIZE bytes at a time; call it where a copying process starts.

    httpcore reads 64 KiB at a time, and every read is a trip through h11 and httpx: 256 KiB
    reads cut the engine's CPU per blob byte by a third or more. It is a class attribute, so it
    applies to every httpcore connection in the process (it only sizes recv buffers): hence an
    explicit call by the process's entry point, not a side effect of importing the engine.
    """
    connection = httpcore._sync.http11.HTTP11Connection
    if getattr(connection, "READ_NUM_BYTES", READ_SIZE) < READ_SIZE:
        connection.READ_NUM_BYTES = READ_SIZE


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~150 ms; every client in the process shares one context."""
    return httpx.create_ssl_context() if hasattr(httpx, "create_ssl_context") else ssl.create_default_context()


_AUTH_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
# /v2/<name>/<endpoint>: the repository name is what precedes the endpoint suffix.
_REPOSITORY_PATH = re.compile(r"^/v2/(?P<name>.+)/(?:manifests/[^/]+|blobs/uploads/[^/]*|blobs/[^/]+|tags/list)$")


ENOSPC = 28
STORAGE_FULL = "the registry's storage is full: no space left on device"


def storage_full(errors: list[dict]) -> bool:
    """Whether a registry's errors say its storage ran out of space. Distribution answers a 500 "UNKNOWN:
    unknown error" then, the cause only in `detail`: the OS error as text ("write …: no space left on
    device") or its filesystem driver's error as an object ({"Enclosed": {"Op": "write", "Err": 28}})."""
    for error in errors:
        detail = error.get("detail") if isinstance(error, dict) else None
        if isinstance(detail, str) and "no space left on device" in detail.lower():
            return True
        if isinstance(detail, dict):
            enclosed = detail.get("Enclosed")
            if isinstance(enclosed, dict) and enclosed.get("Err") == ENOSPC:
                return True
            if "no space left on device" in str(detail).lower():
                return True
    return False


class RegistryError(Exception):
    """A registry refused a request; `errors` holds its OCI error codes and messages."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[dict] | None = None,
        method: str | None = None,
        url: str | None = None,
    ):
        self.status_code = status_code
        self.errors = errors or []
        self.method = method
        self.url = url
        super().__init__(message)

    @property
    def codes(self) -> list[str]:
        return [error.get("code", "") for error in self.errors]

    @property
    def storage_full(self) -> bool:
        return storage_full(self.errors)

    @classmethod
    def from_response(cls, response: httpx.Response, action: str) -> "RegistryError":
        errors = []
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            pass
        if errors:
            reason = "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors)
        else:
            reason = response.reason_phrase or "no reason given"
        if storage_full(errors):
            reason += f" ({STORAGE_FULL})"
        return cls(
            f"{action} failed with {response.status_code}: {reason}",
            status_code=response.status_code,
            errors=errors,
            method=response.request.method,
            url=str(response.request.url),
        )


class DigestMismatchError(RegistryError):
    """Content read from a registry does not hash to the digest it was asked for."""


@dataclass(frozen=True)
class Descriptor:
    digest: str
    media_type: str
    size: int


class Manifest(NamedTuple):
    body: bytes
    media_type: str
    digest: str


def new_hasher(digest: str):
    """A hashlib object for the algorithm of `digest` (sha256:..., sha512:...); InvalidDigest otherwise."""
    return hashlib.new(parse_digest(digest).algorithm)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="..",service="..",scope=".."` -> ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _AUTH_PARAM.finditer(rest)}
    return scheme.lower(), params


class BearerTokens:
    """Bearer tokens by scope key (region_pull_token: by repository), one token request per scope at a time;
    thread-safe.

    Each client has its own unless given one: the portal's engine gives every client of one regional registry
    the same (services.region_clients), so a worker's next copy job does not ask again for what its last one
    got. A token only grants what its scope asked for, and one that no longer works is answered with a 401,
    which replaces it.
    """

    MAX_SCOPES = 4096  # then expired tokens are dropped, or all if none has (many repositories in a worker's life)

    def __init__(self):
        self._lock = threading.Lock()
        self._by_scope: dict[str, tuple[str, float]] = {}  # scope key -> (token, expires at: monotonic)
        self.challenge: dict[str, str] | None = None  # realm and service of the registry's last bearer challenge
        self._scope_locks: dict[str, threading.Lock] = {}

    def __bool__(self) -> bool:
        return bool(self._by_scope)

    def get(self, key: str) -> tuple[str | None, float]:
        with self._lock:
            return self._by_scope.get(key, (None, 0.0))

    def put(self, key: str, token: str, expires_at: float) -> None:
        with self._lock:
            if len(self._by_scope) >= self.MAX_SCOPES:
                now = time.monotonic()
                for stale in [k for k, (_, until) in self._by_scope.items() if until <= now]:
                    del self._by_scope[stale]
                    self._scope_locks.pop(stale, None)
                if len(self._by_scope) >= self.MAX_SCOPES:  # all still valid: start over (a 401 gets one again)
                    self._by_scope.clear()
            self._by_scope[key] = (token, expires_at)

    def scope_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(key, threading.Lock())


class RegistryClient:
    """OCI Distribution API over one pooled httpx.Client; safe to share across threads."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        http: httpx.Client | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = HTTP_REQUEST_RETRY,
        outbound_guard: OutboundGuard | None = None,
        token_issuer: Callable[[dict[str, str]], tuple[str, int]] | None = None,
        tokens: BearerTokens | None = None,
    ):
        """outbound_guard: for a registry a user chose (an import's source), every connection (redirects and
        token realms included) goes only to addresses the guard allows (oci/outbound.py)."""
        if "://" not in base_url:
            base_url = "https://" + base_url
        self.base_url = base_url.rstrip("/")
        self.retry = retry  # for idempotent requests that failed on the wire or with a transient status
        self._base = httpx.URL(self.base_url)
        # Sent when the registry asks for basic auth, and to the token realm of a bearer challenge.
        self._basic_header = None
        if username is not None:
            self._basic_header = "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        self._owns_http = http is None
        if http is not None and outbound_guard is not None:
            raise ValueError("give outbound_guard or http, not both: a client passed in is not guarded")
        transport = None
        if outbound_guard is not None:
            transport = guarded_transport(outbound_guard, limits=DEFAULT_LIMITS, verify=shared_ssl_context())
        self._http = http or httpx.Client(
            timeout=timeout, limits=DEFAULT_LIMITS, headers={"User-Agent": USER_AGENT}, verify=shared_ssl_context(),
            transport=transport,
        )
        self._tokens = tokens if tokens is not None else BearerTokens()
        self._basic = False  # the registry asked for basic auth once: send it up front from now on
        # (token, lifetime) for a bearer challenge without asking its realm over HTTP: the portal's own engine
        # issues its tokens in process (services.region_clients); None: the token flow's GET to the realm.
        self._token_issuer = token_issuer
        # (scheme, host, port) of a host elsewhere that an upload's Location named -> whether it takes our tokens.
        self._hosts_elsewhere: dict[tuple, bool] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the API -----------------------------------------------------------------------

    def ping(self) -> bool:
        """True when /v2/ answers 200 (after any auth dance)."""
        try:
            self._request("GET", self._url("/v2/"), retries=0, action="ping")  # answer fast, e.g. for the map
        except (RegistryError, httpx.HTTPError):
            return False
        return True

    def catalog(self, prefix: str = "", *, page_size: int = MAX_PAGE_SIZE) -> Iterator[str]:
        """Every repository whose name starts with prefix, page by page."""
        # The catalog API has no prefix filter, and registries order names differently
        # ('/' sorts first in Distribution), so filter here rather than guess a start point.
        for name in self._paginate("/v2/_catalog", "repositories", page_size, action="list repositories"):
            if name.startswith(prefix):
                yield name

    def tags(self, repository: str, *, page_size: int = MAX_PAGE_SIZE) -> list[str]:
        """Every tag of repository; an unknown repository has none."""
        try:
            action = f"list tags of {repository}"
            return list(self._paginate(f"/v2/{repository}/tags/list", "tags", page_size, action=action))
        except RegistryError as error:
            if error.status_code == 404:
                return []
            raise

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor, or None when the registry does not have it."""
        response = self._request(
            "HEAD",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            headers={"Accept": MANIFEST_ACCEPT},
            expected=(200, 404),
            action=f"HEAD manifest {repository}:{reference}",
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest") or (reference if is_digest(reference) else None)
        if digest is None:  # some registries omit the header on HEAD: read the manifest instead
            manifest = self.get_manifest(repository, reference)
            return Descriptor(manifest.digest, manifest.media_type, len(manifest.body))
        return Descriptor(digest, _media_type(response), int(response.headers.get("Content-Length", 0)))

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest bytes exactly as stored, their media type and their verified digest."""
        action = f"GET manifest {repository}:{reference}"
        response = self._request(
            "GET",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            headers={"Accept": MANIFEST_ACCEPT},
            action=action,
        )
        body = response.content
        expected = reference if is_digest(reference) else response.headers.get("Docker-Content-Digest")
        if expected:
            hasher = new_hasher(expected)
            hasher.update(body)
            actual = f"{hasher.name}:{hasher.hexdigest()}"
            if actual != expected:
                raise DigestMismatchError(
                    f"{action}: the registry sent {len(body)} bytes hashing to {actual}, not {expected}",
                    method="GET",
                    url=str(response.url),
                )
            digest = expected
        else:
            digest = digest_of(body)
        media_type = _media_type(response) or _body_media_type(body)
        return Manifest(body, media_type, digest)

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store body byte for byte under reference (a tag or its digest); returns its digest."""
        self._request(
            "PUT",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            headers={"Content-Type": media_type},
            content=body,
            expected=(201,),
            action=f"PUT manifest {repository}:{reference}",
        )
        return digest_of(body)

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest (and with it every tag pointing at it); False if it was not there."""
        response = self._request(
            "DELETE",
            self._url(f"/v2/{repository}/manifests/{digest}"),
            expected=(202, 200, 204, 404),
            action=f"DELETE manifest {repository}@{digest}",
        )
        return response.status_code != 404

    def head_blob(self, repository: str, digest: str) -> Descriptor | None:
        response = self._request(
            "HEAD",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            expected=(200, 404),
            follow_redirects=True,
            action=f"HEAD blob {repository}@{digest}",
        )
        if response.status_code == 404:
            return None
        return Descriptor(digest, _media_type(response), int(response.headers.get("Content-Length", 0)))

    def delete_blob(self, repository: str, digest: str) -> bool:
        """Unlink a blob from a repository (Distribution keeps its stored bytes until garbage collection);
        False if the repository did not have it."""
        response = self._request(
            "DELETE",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            expected=(202, 200, 204, 404),
            action=f"DELETE blob {repository}@{digest}",
        )
        return response.status_code != 404

    def blob_exists(self, repository: str, digest: str) -> bool:
        return self.head_blob(repository, digest) is not None

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[httpx.Response]:
        """A streaming response for the blob; read it with `iter_raw()`."""
        response = self._request(
            "GET",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            headers={"Accept-Encoding": "identity"},  # the bytes as stored, which the digest covers
            stream=True,
            follow_redirects=True,  # registries on object storage redirect blob reads
            action=f"GET blob {repository}@{digest}",
        )
        try:
            yield response
        finally:
            response.close()

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount inside this registry; False when the registry declined."""
        location = self.begin_upload(repository, mount=(digest, from_repository))
        if location is None:
            return True
        self.cancel_upload(location)  # the session the registry opened instead: do not leave it dangling
        return False

    def begin_upload(self, repository: str, *, mount: tuple[str, str] | None = None) -> str | None:
        """Open an upload session and return its location.

        With mount=(digest, from repository) the registry is asked to mount that blob from there instead: None
        when it did (201); when it cannot it opens the session (202, as the OCI spec says), which upload_blob
        then fills, so a refused mount costs no second POST. Mounting from the repository itself asks whether
        the blob is already there, in the one request a HEAD would cost, and starts its upload if not.
        """
        params = {"mount": mount[0], "from": mount[1]} if mount else None
        response = self._request(
            "POST",
            self._url(f"/v2/{repository}/blobs/uploads/", params),
            expected=(201, 202) if mount else (202,),
            action=f"mount blob {mount[0]} from {mount[1]} into {repository}" if mount
            else f"start an upload to {repository}",
        )
        return None if response.status_code == 201 else _location(response)

    def upload_blob(self, repository: str, digest: str, chunks: Iterable[bytes], size: int | None = None, *,
                    location: str | None = None) -> str:
        """Monolithic upload: one PUT whose body streams from chunks, into the session at `location` (one
        begin_upload opened) or, without it, into one opened here.

        Memory does not grow with the blob: httpx sends each chunk as it comes. The registry
        checks the content against `digest` and refuses the blob if it differs.
        """
        action = f"upload blob {digest} to {repository}"
        location = location or self.begin_upload(repository)
        # String surgery, not copy_merge_params: httpx re-parses the long _state query per call.
        put_url = httpx.URL(f"{location}{'&' if '?' in location else '?'}{urlencode({'digest': digest})}")
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)  # httpx then sends the stream without chunked encoding
        try:
            self._request(
                "PUT",
                put_url,
                headers=headers,
                content=chunks if isinstance(chunks, bytes) else iter(chunks),
                expected=(201, 204),
                action=action,
            )
        except BaseException:
            self.cancel_upload(location)
            raise
        return digest

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload bytes already in memory; returns their digest."""
        digest = digest_of(data)
        return self.upload_blob(repository, digest, data, len(data))

    # ---- plumbing ----------------------------------------------------------------------

    def _url(self, path: str, params: dict | None = None) -> httpx.URL:
        # Concatenate and parse once: URL.join costs three times as much, on every request.
        return httpx.URL(self.base_url + path, params=params)

    def _paginate(self, path: str, key: str, page_size: int, *, action: str) -> Iterator[str]:
        url = self._url(path, {"n": max(1, min(page_size, MAX_PAGE_SIZE))})
        seen = set()
        while url is not None and str(url) not in seen:
            seen.add(str(url))
            response = self._request("GET", url, action=action)
            yield from response.json().get(key) or []
            match = _LINK_NEXT.search(response.headers.get("Link", ""))
            # The next link is usually relative (</v2/_catalog?last=a&n=1>).
            url = response.url.join(match[1]) if match else None

    def cancel_upload(self, location: str) -> None:
        """Close an upload session that will not be filled; the registry purges one we cannot reach later."""
        try:
            self._request("DELETE", httpx.URL(location), expected=(200, 202, 204, 404), action="cancel upload")
        except (RegistryError, httpx.HTTPError):
            pass  # an abandoned session is purged by the registry later

    def _request(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict | None = None,
        content: bytes | Iterable[bytes] | None = None,
        expected: tuple[int, ...] = (200,),
        stream: bool = False,
        follow_redirects: bool = False,
        retries: int | None = None,
        action: str,
    ) -> httpx.Response:
        """Send with auth; answer one 401 challenge; retry idempotent requests on transient errors."""
        replayable = content is None or isinstance(content, bytes)
        retries = self.retry.max_retries if retries is None else retries
        attempts = 1 + (retries if replayable and method in ("GET", "HEAD", "PUT", "DELETE") else 0)
        challenged = False
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(method, url, headers=headers, content=content)
            self._authorize(request)
            try:
                response = self._http.send(request, stream=True, follow_redirects=follow_redirects)
            except httpx.TransportError:
                if attempt < attempts:
                    time.sleep(self.retry.countdown(attempt - 1))
                    continue
                raise
            if response.status_code == 401 and not challenged and replayable:
                response.read()  # small: the error body, kept for the message if we give up
                response.close()
                challenged = True
                self._answer_challenge(response, request)
                attempt -= 1  # the challenge round trip is not a failed attempt
                continue
            if response.status_code in TRANSIENT_STATUSES and attempt < attempts:
                response.close()
                time.sleep(self.retry.countdown(attempt - 1))
                continue
            if response.status_code not in expected:
                response.read()
                response.close()
                raise RegistryError.from_response(response, action)
            if not stream:
                response.read()
                response.close()
            return response

    def _scope_key(self, request: httpx.Request) -> str:
        """What a request needs access to, as a cache key for its token."""
        path = request.url.path
        if path == "/v2/_catalog":
            return "registry:catalog:*"
        match = _REPOSITORY_PATH.match(path)
        if not match:
            return "registry"
        action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(request.method, "pull,push")
        mounted_from = request.url.params.get("from")
        also = f" repository:{mounted_from}:pull" if mounted_from and mounted_from != match["name"] else ""
        return f"repository:{match['name']}:{action}{also}"

    def _elsewhere(self, url: httpx.URL) -> bool:
        return url.host != self._base.host or url.port != self._base.port

    def _challenge_of(self, params: dict[str, str]) -> dict[str, str]:
        return {name: params[name] for name in ("realm", "service") if name in params}

    def _our_token_service(self, scheme: str, params: dict[str, str]) -> bool:
        """Whether a challenge names the realm and service of this registry's own challenges."""
        known = self._tokens.challenge
        return bool(known) and scheme == "bearer" and self._challenge_of(params) == known

    def _takes_our_tokens(self, url: httpx.URL) -> bool:
        """Whether a host elsewhere answers to this registry's token service: its /v2/ challenge names the same realm
        and service. An upload's Location may name one (a global endpoint opens uploads in a region); only then does
        it get our bearer tokens, and it never gets our username and password. Asked once per host, before the
        first request there (an upload's body may be a stream, which a 401 could not replay)."""
        if not self._tokens.challenge:
            return False
        origin = (url.scheme, url.host, url.port)
        if origin not in self._hosts_elsewhere:
            try:
                response = self._http.get(url.copy_with(path="/v2/", query=None, fragment=None))
            except httpx.HTTPError:
                return False  # asked again next time
            scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            self._hosts_elsewhere[origin] = response.status_code == 401 and self._our_token_service(scheme, params)
        return self._hosts_elsewhere[origin]

    def _authorize(self, request: httpx.Request) -> None:
        elsewhere = self._elsewhere(request.url)
        if elsewhere and not self._takes_our_tokens(request.url):
            return  # never hand our credentials to a redirect or upload host elsewhere
        if not self._tokens and not self._basic:
            return  # an anonymous registry so far: spare every request the scope lookup
        key = self._scope_key(request)
        token, expires_at = self._tokens.get(key)
        if key.endswith(":pull") and not (token and expires_at > time.monotonic()):
            token, expires_at = self._tokens.get(key + ",push")  # a token to push may pull too
        if not (token and expires_at > time.monotonic()) and key.startswith("repository:"):
            token, expires_at = self._token_ahead(key)
        if token and expires_at > time.monotonic():
            request.headers["Authorization"] = f"Bearer {token}"
        elif self._basic and not elsewhere:
            request.headers["Authorization"] = self._basic_header

    def _answer_challenge(self, response: httpx.Response, request: httpx.Request) -> None:
        """Turn a 401 into credentials for the next attempt, or raise saying why we cannot."""
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        where = f"{request.method} {request.url.path}"
        if self._elsewhere(request.url) and not self._our_token_service(scheme, params):
            # A host elsewhere that names a realm of its own would be sent our username and password there.
            raise RegistryError.from_response(
                response, f"{where} at {request.url.host} (another host, which does not take this registry's tokens)")
        if scheme == "basic":
            if not self._basic_header:
                raise RegistryError.from_response(response, f"{where} (the registry wants a username and password)")
            self._basic = True
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError.from_response(response, f"{where} (unsupported auth challenge {scheme!r})")
        self._tokens.challenge = self._challenge_of(params)
        key = self._scope_key(request)
        with self._tokens.scope_lock(key):
            cached, expires_at = self._tokens.get(key)
            sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if cached and cached != sent and expires_at > time.monotonic():
                return  # another thread (or client sharing the tokens) fetched a fresh one while we waited
            token, lifetime = self._fetch_token(params)
            self._tokens.put(key, token, time.monotonic() + max(lifetime - 5, 1))

    def _token_ahead(self, key: str) -> tuple[str | None, float]:
        """The token for a scope this registry has not challenged yet, asked of the realm its earlier challenges
        named, so the request goes out with it rather than to a 401 first (a copy meets a new repository and
        action at every step). None if no challenge was seen yet, or if the realm refused: the request then
        meets the 401 and the challenge's own answer, which says why."""
        challenge = self._tokens.challenge
        if not challenge:
            return None, 0.0
        with self._tokens.scope_lock(key):
            token, expires_at = self._tokens.get(key)
            if token and expires_at > time.monotonic():
                return token, expires_at  # another thread got it while we waited
            try:
                token, lifetime = self._fetch_token({**challenge, "scope": key})
            except (RegistryError, httpx.HTTPError, ValueError):
                return None, 0.0
            expires_at = time.monotonic() + max(lifetime - 5, 1)
            self._tokens.put(key, token, expires_at)
            return token, expires_at

    def _fetch_token(self, challenge: dict[str, str]) -> tuple[str, int]:
        if self._token_issuer is not None:
            return self._token_issuer(challenge)
        params = [("service", challenge["service"])] if challenge.get("service") else []
        params += [("scope", scope) for scope in challenge.get("scope", "").split() if scope]
        # Merge, not replace: a realm may carry its own query string.
        response = self._http.get(
            httpx.URL(challenge["realm"]).copy_merge_params(params),
            headers={"Authorization": self._basic_header} if self._basic_header else None,
        )
        if response.status_code != 200:
            raise RegistryError.from_response(response, f"token request to {challenge['realm']}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"token server {challenge['realm']} answered without a token", status_code=200)
        return token, int(body.get("expires_in") or TOKEN_LIFETIME)


def _location(response: httpx.Response) -> str:
    """The upload session URL, absolute; registries may answer with a relative Location."""
    location = response.headers.get("Location")
    if not location:
        request = response.request
        raise RegistryError(f"{request.method} {request.url} answered {response.status_code} without a Location")
    return location if "://" in location else str(response.url.join(location))


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _body_media_type(body: bytes) -> str:
    try:
        return json.loads(body).get("mediaType", "")
    except (ValueError, AttributeError):
        return ""
