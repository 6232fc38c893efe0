"""secret_box: secrets at rest under Fernet, keys derived from SECRET_KEY and its fallbacks."""
import base64

import pytest

from replication.secret_box import SecretUnreadable, secret_open, secret_seal

TEXT = '{"username": "alice", "password": "hunter2-very-secret"}'


def test_a_sealed_secret_opens_to_the_same_text_and_does_not_show_it(settings):
    token = secret_seal(TEXT)
    assert "hunter2" not in token and "hunter2" not in base64.urlsafe_b64decode(token).decode("latin-1")
    assert secret_open(token) == TEXT


def test_two_seals_of_one_text_differ(settings):
    assert secret_seal(TEXT) != secret_seal(TEXT)  # a fresh IV each time: equal secrets do not look equal


def test_a_secret_sealed_under_the_old_key_opens_once_that_key_is_a_fallback(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-old-key-" * 4, []
    token = secret_seal(TEXT)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-key-" * 4, ["the-old-key-" * 4]
    assert secret_open(token) == TEXT
    assert secret_open(secret_seal(TEXT)) == TEXT  # new seals use the new key


def test_a_secret_sealed_under_a_key_no_longer_kept_is_refused_clearly(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-old-key-" * 4, []
    token = secret_seal(TEXT)
    settings.SECRET_KEY = "the-new-key-" * 4
    with pytest.raises(SecretUnreadable, match="SECRET_KEY_FALLBACKS"):
        secret_open(token)


@pytest.mark.parametrize("tamper", [
    lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # the MAC
    lambda raw: raw[:30] + bytes([raw[30] ^ 1]) + raw[31:],  # the ciphertext
    lambda raw: raw[:20],  # truncated
])
def test_a_tampered_secret_is_refused(settings, tamper):
    raw = base64.urlsafe_b64decode(secret_seal(TEXT))
    with pytest.raises(SecretUnreadable):
        secret_open(base64.urlsafe_b64encode(tamper(raw)).decode())


def test_garbage_is_refused_as_unreadable(settings):
    with pytest.raises(SecretUnreadable):
        secret_open("not a token at all")
