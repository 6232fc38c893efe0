"""Secrets at rest (an import's source credentials): Fernet tokens, keys derived from SECRET_KEY.

`secret_seal` encrypts and authenticates with `cryptography`'s Fernet under a key derived from
SECRET_KEY; `secret_open` tries SECRET_KEY and then each of SECRET_KEY_FALLBACKS (MultiFernet),
so rotating SECRET_KEY with the old key kept in the fallbacks leaves queued secrets readable.
"""
import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

# Namespaces the derived keys: no other use of SECRET_KEY yields the same bytes.
KEY_SALT = "replication.secret_box"


class SecretUnreadable(ValueError):
    """A sealed secret that no current key opens: altered, or sealed under a key since removed."""


def _fernet_key(secret: str) -> bytes:
    digest = salted_hmac(KEY_SALT, "fernet-key", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest)  # Fernet wants 32 bytes, url-safe base64


def _box() -> MultiFernet:
    # Built per call: settings (and so the keys) can change while the process runs, e.g. in tests.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_fernet_key(secret)) for secret in secrets])


def secret_seal(text: str) -> str:
    """Encrypt and authenticate text under the current SECRET_KEY; the token is safe to store."""
    return _box().encrypt(text.encode()).decode()


def secret_open(token: str) -> str:
    """The text sealed by secret_seal; SecretUnreadable when altered or no current key opens it."""
    try:
        return _box().decrypt(token.encode()).decode()
    except (InvalidToken, AttributeError, UnicodeError) as error:
        raise SecretUnreadable(
            "the sealed secret cannot be opened: it was altered, or sealed under a SECRET_KEY that is "
            "neither the current one nor in SECRET_KEY_FALLBACKS"
        ) from error
