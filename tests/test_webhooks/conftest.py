"""Fixtures for webhook tests: a registry with replicas in two regions, and a real local receiver."""
import hashlib
import hmac

import pytest

from .receiver import WebhookReceiver

SECRET = "s3cret-for-signing-0123456789"


def expected_signature(secret: str, body: bytes) -> str:
    """Computed here independently of the service: HMAC-SHA256 of the raw body, hex, prefixed 'sha256='."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@pytest.fixture
def receiver(local_receivers_allowed):
    """A receiver on 127.0.0.1, which the outbound guard then allows (and only then)."""
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def contoso(registry_with_replicas):
    """Premium, home westus, with a ready replica in eastus (written directly: no sync needed here)."""
    return registry_with_replicas(name="contoso", replicas=("eastus",))


def webhook_args(**overrides):
    args = {"name": "hookone", "region": "westus", "service_uri": "https://hooks.example.com/acr?x=1",
            "actions": ["push"], "secret": SECRET}
    args.update(overrides)
    return args
