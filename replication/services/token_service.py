"""The rules of the token service: who is asking, and what each requested scope grants them.

Principals: a portal user, a registry token ("<registry>/<name>"), the replication engine's
internal identity (credentials minted per copy, below), or anonymous. Denied scopes are dropped,
never an error (the token spec); only wrong credentials (401) and a wrong service (400) are.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..choices import REPOSITORY_ACTIONS, SkuTier
from ..exceptions import InvalidInput, TooManyAttempts, Unauthorized
from ..models import Registry, RegistryToken
from ..throttling import sign_in_failure_record, sign_in_wait_seconds
from ..token_service.tokens import IssuedToken, registry_token_sign
from .access import registry_permissions

ALL_ACTIONS = frozenset(str(action) for action in REPOSITORY_ACTIONS)  # pull, push, delete
CATALOG_SCOPE = ("registry", "catalog")
ANONYMOUS_PULL_TIERS = frozenset({SkuTier.STANDARD, SkuTier.PREMIUM})
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # one UPDATE a minute per token, not one per pull
REPLICATION_CREDENTIALS_SALT = "replication.token_service.engine-credentials"


@dataclass(frozen=True)
class ResourceScope:
    type: str
    name: str
    actions: frozenset[str]


@dataclass
class Principal:
    """Who asked: exactly one of user / registry_token / engine_grant is set, or none for anonymous."""

    subject: str = ""
    user: object = None
    registry_token: RegistryToken | None = None
    engine_grant: dict | None = None
    _registries: dict = field(default_factory=dict)


def scopes_parse(scopes: list[str]) -> list[ResourceScope]:
    """`repository:contoso/app:pull,push` (space-separated, repeatable) -> ResourceScopes; junk is dropped."""
    parsed = []
    for item in (part for scope in scopes for part in scope.split()):
        resource_type, _, rest = item.partition(":")
        name, _, actions = rest.rpartition(":")  # a name may hold ':' (host:port/...), actions never do
        resource_type = resource_type.split("(")[0]  # repository(plugin) is still a repository
        if resource_type and name and actions:
            parsed.append(ResourceScope(resource_type, name, frozenset(a for a in actions.split(",") if a)))
    return parsed


# ---- the engine's identity --------------------------------------------------------------


def replication_credentials(*, prefix: str | None = None, repositories=(), actions=("pull",),
                            catalog: bool = False) -> tuple[str, str]:
    """(username, password) for one copy: exactly the repositories under `prefix` (a registry's "name/")
    and/or the named `repositories`, with `actions`, and the catalog if `catalog`.

    The password is a signed, timestamped payload, so the token service needs no database row to
    trust it; here we make sure it never reaches outside a registry's prefix.
    """
    prefix = prefix.lower() if prefix else None
    if prefix is not None and (prefix.count("/") != 1 or not prefix.endswith("/") or prefix == "/"):
        raise InvalidInput(f"'{prefix}' is not a registry's repository prefix ('name/').")
    names = sorted({name.lower() for name in repositories})
    if any(not name.partition("/")[2] for name in names):
        raise InvalidInput("Every repository the engine may reach lives under a registry's prefix.")
    unknown = set(actions) - ALL_ACTIONS
    if unknown:
        raise InvalidInput(f"Unknown repository actions: {', '.join(sorted(unknown))}.")
    payload = {"p": [prefix] if prefix else [], "r": names, "a": sorted(set(actions)), "c": bool(catalog)}
    password = signing.TimestampSigner(salt=REPLICATION_CREDENTIALS_SALT).sign_object(payload, compress=True)
    return settings.REPLICATION_IDENTITY, password


def _engine_grant(password: str) -> dict:
    try:
        return signing.TimestampSigner(salt=REPLICATION_CREDENTIALS_SALT).unsign_object(
            password, max_age=settings.REPLICATION_CREDENTIALS_MAX_AGE)
    except signing.SignatureExpired:
        raise Unauthorized("The replication credentials have expired.") from None
    except signing.BadSignature:
        raise Unauthorized("Invalid username or password.") from None


# ---- principals -------------------------------------------------------------------------


def token_principal_authenticate(*, username: str | None, password: str | None) -> Principal:
    """The principal behind the credentials; no credentials is anonymous; wrong ones raise Unauthorized."""
    if not username:
        return Principal()
    password = password or ""
    if username == settings.REPLICATION_IDENTITY:
        return Principal(subject=username, engine_grant=_engine_grant(password))
    if "/" in username:  # "/" never occurs in a portal username: this is a registry token
        registry_name, _, token_name = username.partition("/")
        token = (RegistryToken.objects.select_related("registry__sku")
                 .filter(registry__name__iexact=registry_name, name__iexact=token_name).first())
        # A deleted (revoked) token and a wrong password look the same to the caller.
        if token is None or not _password_matches(password, token.password_hash):
            raise Unauthorized("Invalid username or password.")
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthorized(f"The registry token '{username}' has expired.")
        RegistryToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)).update(last_used_at=now)
        return Principal(subject=f"{token.registry.name}/{token.name}", registry_token=token)
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is not None and user.is_active:
        # What ModelBackend.authenticate checks for an active user, against the very hash the answer is kept under.
        if not _password_verified(password, user.password, check=lambda: user.check_password(password)):
            raise Unauthorized("Invalid username or password.")
        return Principal(subject=user.get_username(), user=user)
    # No such user, or an inactive one: authenticate still hashes, so the time taken does not tell which.
    user = authenticate(username=username, password=password)
    if user is None:
        raise Unauthorized("Invalid username or password.")
    _remember_verified(password, user.password)
    return Principal(subject=user.get_username(), user=user)


# A password hash costs ~0.3 s of CPU by design, and a client asks for a token per repository and
# action: remember for a minute since its last use that this password matched this hash (a pusher that keeps
# pushing hashes it once). The row is still read on every request, so a deleted token, an inactive user or a
# changed password take effect at once.
VERIFIED_FOR_SECONDS = 60
# A token request renews the memory only once it is this old: one cache write per half minute, not per request
# (the embedded cache is a database table, whose writes wait for SQLite's one lock).
VERIFIED_RENEWED_AFTER_SECONDS = VERIFIED_FOR_SECONDS / 2


def _verified_key(password: str, password_hash: str) -> str:
    return "token-service:verified:" + salted_hmac("token-service-verified", f"{password_hash}\0{password}",
                                                   algorithm="sha256").hexdigest()


def _recently_verified(password: str, password_hash: str) -> bool:
    if not password_hash:
        return False
    key = _verified_key(password, password_hash)
    remembered_at = cache.get(key)
    if remembered_at is None:
        return False
    if not isinstance(remembered_at, float) or time.time() - remembered_at >= VERIFIED_RENEWED_AFTER_SECONDS:
        _remember(key)
    return True


def _remember_verified(password: str, password_hash: str) -> None:
    _remember(_verified_key(password, password_hash))


def _remember(key: str) -> None:
    cache.set(key, time.time(), VERIFIED_FOR_SECONDS)


# The checks running in this process, by _verified_key: a burst of pushes with the same credentials asks for
# tokens all at once (skopeo: one per repository and action), and each would hash the password while the others
# do, ~0.3 s of CPU apiece on both cores, before any of them is remembered. They wait for the first one instead.
_checks_in_flight: dict[str, Future] = {}
_checks_lock = threading.Lock()


def _password_verified(password: str, password_hash: str, *, check: Callable[[], bool]) -> bool:
    """Whether `check()` (the password against this hash) holds: remembered for VERIFIED_FOR_SECONDS once it
    does, and run by one thread of this process at a time; the others asking meanwhile get its answer."""
    if _recently_verified(password, password_hash):
        return True
    key = _verified_key(password, password_hash)
    with _checks_lock:
        answer = _checks_in_flight.get(key)
        mine = answer is None
        if mine:
            answer = _checks_in_flight[key] = Future()
    if mine:
        try:
            matched = check()
            if matched:
                _remember_verified(password, password_hash)
            answer.set_result(matched)
        except BaseException as error:  # noqa: BLE001 - raised below, to every thread that asked
            answer.set_exception(error)
        finally:
            with _checks_lock:
                del _checks_in_flight[key]
    return answer.result()


def _password_matches(password: str, password_hash: str) -> bool:
    return _password_verified(password, password_hash, check=lambda: check_password(password, password_hash))


# ---- grants -----------------------------------------------------------------------------


def token_access_grant(*, principal: Principal, scopes: list[ResourceScope]) -> list[dict]:
    """The `access` claim: each requested scope narrowed to what the principal may do; empty ones dropped."""
    granted: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        if (scope.type, scope.name) == CATALOG_SCOPE:
            actions = {"*"} if _may_list_catalog(principal) else set()
        elif scope.type == "repository":
            requested = ALL_ACTIONS if "*" in scope.actions else scope.actions & ALL_ACTIONS
            actions = requested & _repository_actions(principal, scope.name)
        else:
            actions = set()
        if actions:
            granted.setdefault((scope.type, scope.name), set()).update(actions)
    return [{"type": type_, "name": name, "actions": sorted(actions)} for (type_, name), actions in granted.items()]


def _may_list_catalog(principal: Principal) -> bool:
    if principal.engine_grant is not None:
        return bool(principal.engine_grant["c"])
    return principal.user is not None and principal.user.is_staff


def _repository_actions(principal: Principal, name: str) -> frozenset[str]:
    registry_name, slash, inner = name.partition("/")
    if not slash or not inner:
        return frozenset()  # nothing outside a registry's prefix, ever
    if principal.engine_grant is not None:
        grant = principal.engine_grant
        lowered = name.lower()
        if lowered in grant["r"] or any(lowered.startswith(p) for p in grant["p"]):
            return frozenset(grant["a"])
        return frozenset()
    registry = _registry(principal, registry_name)
    if registry is None:
        return frozenset()
    if principal.user is not None:
        return frozenset(str(p) for p in registry_permissions(user=principal.user, registry=registry)) & ALL_ACTIONS
    if principal.registry_token is not None:
        if principal.registry_token.registry_id != registry.pk:
            return frozenset()
        return _scope_map_actions(principal.registry_token.scope, inner)
    if registry.anonymous_pull and registry.sku.name in ANONYMOUS_PULL_TIERS:
        return frozenset({"pull"})
    return frozenset()


def _scope_map_actions(scope_map: list[dict], inner_name: str) -> frozenset[str]:
    """A registry token's scope map: patterns inside the registry (exact name, `prefix/*`, or `*`)."""
    actions: set[str] = set()
    for entry in scope_map or []:
        pattern = entry.get("repository", "")
        if pattern == "*" or pattern == inner_name or (
                pattern.endswith("/*") and inner_name.startswith(pattern[:-1])):
            actions |= set(entry.get("actions", []))
    return frozenset(actions) & ALL_ACTIONS


def _registry(principal: Principal, name: str) -> Registry | None:
    key = name.lower()
    if key not in principal._registries:
        principal._registries[key] = Registry.objects.select_related("sku").filter(name__iexact=key).first()
    return principal._registries[key]


# ---- the whole request --------------------------------------------------------------------


def registry_token_issue(*, service: str | None, scopes: list[str], username: str | None,
                         password: str | None, client_address: str = "") -> IssuedToken:
    """One token request of the OCI token flow, from the query (or form) to the signed token.

    Wrong credentials count against the user name and the client address like a failed sign-in
    (throttling.py); past the limit the request is refused (429) before any password is checked.
    The engine's signed credentials are not throttled: they are checked without a password hash.
    """
    if service and service != settings.TOKEN_SERVICE_NAME:
        raise InvalidInput(f"Unknown service '{service}': this token service serves '{settings.TOKEN_SERVICE_NAME}'.",
                           field="service")
    throttled = bool(username) and username != settings.REPLICATION_IDENTITY
    if throttled:
        wait = sign_in_wait_seconds(username=username, address=client_address)
        if wait:
            raise TooManyAttempts(f"Too many failed sign-ins. Try again in {wait} seconds.", retry_after=wait)
    try:
        principal = token_principal_authenticate(username=username, password=password)
    except Unauthorized:
        if throttled:
            sign_in_failure_record(username=username, address=client_address)
        raise
    access = token_access_grant(principal=principal, scopes=scopes_parse(scopes))
    return registry_token_sign(subject=principal.subject, access=access)
