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

from .keys import active_signing_key


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
