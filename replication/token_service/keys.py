"""The token service's signing keys: ECDSA P-256 key pairs with self-signed certificates.

Everything lives under settings.TOKEN_SIGNING_DIR (0700; files 0600):

    state.json            {"active": ID, "staged": ID | null, "keys": {ID: {"created_at", "activated_at"}}}
    ID.key / ID.crt       one key pair and its certificate per ID
    rootcertbundle.pem    every trusted certificate: what each regional registry's auth.token trusts

Rotation is staged so that no registry ever sees a token it cannot verify:
stage (new cert joins the bundle; registries reload it) → activate (sign with it; the old cert
stays trusted) → retire (after a token lifetime, drop the certs no longer used for signing).
"""
from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

from ..exceptions import Conflict

BUNDLE_NAME = "rootcertbundle.pem"
STATE_NAME = "state.json"
CERTIFICATE_YEARS = 10


@dataclass(frozen=True)
class SigningKey:
    key_id: str  # the file name stem
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> str:
        """The JWT header `kid` Distribution looks up in its rootcertbundle."""
        return libtrust_key_id(self.certificate.public_key())


def libtrust_key_id(public_key) -> str:
    """Docker libtrust's key ID: base32 of the first 240 bits of sha256(DER SubjectPublicKeyInfo), 12 groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i:i + 4] for i in range(0, 48, 4))


def signing_dir() -> Path:
    return Path(settings.TOKEN_SIGNING_DIR)


def root_bundle_path() -> Path:
    return signing_dir() / BUNDLE_NAME


# ---- reading ----------------------------------------------------------------------------

_cache: dict[tuple, SigningKey] = {}


def active_signing_key() -> SigningKey:
    """The key tokens are signed with now; created (with the bundle) on first use."""
    state_path = signing_dir() / STATE_NAME
    if not state_path.exists():
        with _locked_state() as state:
            if state["active"] is None:
                state["active"] = _new_key_pair(state, activated=True)
    # Keyed on the state file's mtime, so a rotation by the command reaches a running portal.
    cache_key = (str(state_path), state_path.stat().st_mtime_ns)
    key = _cache.get(cache_key)
    if key is None:
        key = _load_key(_read_state()["active"])
        _cache.clear()
        _cache[cache_key] = key
    return key


def trusted_certificates() -> list[x509.Certificate]:
    """Every certificate the registries must trust: the active key's, a staged one's, and older ones not retired yet."""
    active_signing_key()  # make sure there is at least one
    state = _read_state()
    return [_load_certificate(key_id) for key_id in sorted(state["keys"], key=lambda k: state["keys"][k]["created_at"])]


def root_bundle_write() -> Path:
    """(Re)write the bundle from the trusted certificates; registries read it when they start."""
    certificates = trusted_certificates()
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    path = root_bundle_path()
    _write_private(path, pem)
    return path


def signing_key_status() -> dict:
    """What `rotate_signing_key` prints: active, staged and trusted IDs with their kids."""
    active_signing_key()
    state = _read_state()
    kids = {key_id: libtrust_key_id(_load_certificate(key_id).public_key()) for key_id in state["keys"]}
    return {"active": state["active"], "staged": state["staged"], "keys": state["keys"], "kids": kids,
            "bundle": str(root_bundle_path())}


# ---- rotation ---------------------------------------------------------------------------


def signing_key_stage() -> str:
    """Create the next key; its certificate joins the bundle while signing continues with the current key."""
    active_signing_key()
    with _locked_state() as state:
        if state["staged"]:
            raise Conflict(f"Key {state['staged']} is already staged: activate it first.")
        state["staged"] = _new_key_pair(state, activated=False)
        staged = state["staged"]
    return staged


def signing_key_activate() -> str:
    """Sign with the staged key from now on; the previous key's certificate stays trusted."""
    with _locked_state() as state:
        if not state["staged"]:
            raise Conflict("No key is staged: stage one first (and restart the registries with the new bundle).")
        state["active"], state["staged"] = state["staged"], None
        state["keys"][state["active"]]["activated_at"] = _now().isoformat()
        active = state["active"]
    return active


def signing_key_retire(*, force: bool = False) -> list[str]:
    """Drop the certificates of keys that no longer sign, once no token they signed can still be valid."""
    active_signing_key()
    with _locked_state() as state:
        activated_at = dt.datetime.fromisoformat(state["keys"][state["active"]]["activated_at"])
        wait = activated_at + dt.timedelta(seconds=settings.REGISTRY_TOKEN_LIFETIME) - _now()
        retired = [k for k in state["keys"] if k not in (state["active"], state["staged"])]
        if retired and wait.total_seconds() > 0 and not force:
            # Tokens the old key signed just before the switch are valid for one more token lifetime.
            raise Conflict(f"The active key signs since {activated_at:%H:%M:%S} UTC; tokens of the old key stay "
                           f"valid for {int(wait.total_seconds()) + 1} s more. Retire after that.")
        for key_id in retired:
            del state["keys"][key_id]
            for suffix in (".key", ".crt"):
                (signing_dir() / f"{key_id}{suffix}").unlink(missing_ok=True)
    return retired


# ---- files ------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _read_state() -> dict:
    return json.loads((signing_dir() / STATE_NAME).read_text())


@contextmanager
def _locked_state():
    """The state under an exclusive file lock (portal, worker and the command may race on first use)."""
    directory = signing_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / STATE_NAME
        state = json.loads(path.read_text()) if path.exists() else {"active": None, "staged": None, "keys": {}}
        yield state
        _write_bundle_from(state)  # before the state, so a reader never sees a key the bundle lacks
        _write_private(path, json.dumps(state, indent=2).encode())


def _write_bundle_from(state: dict) -> None:
    keys = sorted(state["keys"], key=lambda k: state["keys"][k]["created_at"])
    pem = b"".join(_load_certificate(k).public_bytes(serialization.Encoding.PEM) for k in keys)
    _write_private(signing_dir() / BUNDLE_NAME, pem)


def _new_key_pair(state: dict, *, activated: bool) -> str:
    now = _now()
    key_id = f"key-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"georegistry token signing {key_id}")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    _write_private(signing_dir() / f"{key_id}.key", private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write_private(signing_dir() / f"{key_id}.crt", certificate.public_bytes(serialization.Encoding.PEM))
    state["keys"][key_id] = {"created_at": now.isoformat(), "activated_at": now.isoformat() if activated else None}
    return key_id


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the start (never world-readable, even for a moment)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def _load_certificate(key_id: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((signing_dir() / f"{key_id}.crt").read_bytes())


def _load_key(key_id: str) -> SigningKey:
    private_key = serialization.load_pem_private_key((signing_dir() / f"{key_id}.key").read_bytes(), password=None)
    return SigningKey(key_id=key_id, private_key=private_key, certificate=_load_certificate(key_id))
