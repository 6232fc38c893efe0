"""Registry tokens of the OCI token flow: ES256 JWTs that CNCF Distribution's auth.token accepts.

Distribution 2.8 finds the verification key by the header's `kid` (the libtrust fingerprint of a
certificate in its rootcertbundle), wants `aud` as a plain string equal to its `service`, `iss`
equal to its `issuer`, and reads what is allowed from `access`.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import jwt
from django.conf import settings

from .keys import STATE_NAME, active_signing_key, libtrust_key_id, signing_dir, trusted_certificates


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: dt.datetime

    def as_response(self) -> dict:
        """The body of the token endpoint (both names: `token` for Docker, `access_token` for OAuth2 clients)."""
        issued_at = self.issued_at.isoformat().replace("+00:00", "Z")
        return {"token": self.token, "access_token": self.token, "expires_in": self.expires_in, "issued_at": issued_at}


def registry_token_sign(*, subject: str, access: list[dict], now: dt.datetime | None = None) -> IssuedToken:
    """Sign a token for `subject` granting `access` ([{"type", "name", "actions"}]) for one token lifetime."""
    now = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    lifetime = int(settings.REGISTRY_TOKEN_LIFETIME)
    key = active_signing_key()
    claims = {
        "iss": settings.TOKEN_ISSUER,
        "sub": subject,
        "aud": settings.TOKEN_SERVICE_NAME,
        "exp": int(now.timestamp()) + lifetime,
        "nbf": int(now.timestamp()),
        "iat": int(now.timestamp()),
        "jti": secrets.token_urlsafe(16),
        "access": access,
    }
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    return IssuedToken(token=token, expires_in=lifetime, issued_at=now)


class InvalidToken(Exception):
    """A bearer the registries would refuse: unknown key, bad signature, wrong audience or issuer, expired."""


_verification_keys: dict[tuple, dict] = {}


def _trusted_public_keys() -> dict:
    """{kid: public key} of every trusted certificate, re-read only when a rotation changes the state file."""
    state_path = signing_dir() / STATE_NAME
    active_signing_key()  # creates the first key when there is none
    cache_key = (str(state_path), state_path.stat().st_mtime_ns)
    keys = _verification_keys.get(cache_key)
    if keys is None:
        keys = {libtrust_key_id(cert.public_key()): cert.public_key() for cert in trusted_certificates()}
        _verification_keys.clear()
        _verification_keys[cache_key] = keys
    return keys


def registry_token_verify(token: str) -> dict:
    """The claims of a registry token, checked as a regional registry checks them (kid, signature,
    `aud`, `iss`, `exp`, `nbf`); raises InvalidToken otherwise."""
    try:
        kid = jwt.get_unverified_header(token).get("kid", "")
        key = _trusted_public_keys().get(kid)
        if key is None:
            raise InvalidToken("signed by an untrusted key")
        return jwt.decode(token, key, algorithms=["ES256"], audience=settings.TOKEN_SERVICE_NAME,
                          issuer=settings.TOKEN_ISSUER, options={"require": ["exp", "aud", "iss"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None


def token_grants(claims: dict, *, repository: str, action: str) -> bool:
    """True when the token's `access` allows `action` on `repository`."""
    return any(entry.get("type") == "repository" and entry.get("name") == repository
               and action in (entry.get("actions") or []) for entry in claims.get("access") or [])
