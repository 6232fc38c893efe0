"""Sign-in throttling and routing name the caller the same way: a forged X-Forwarded-For counts for nothing."""
from django.test import RequestFactory

from replication.client_address import request_client_address


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = "192.0.2.0/24"
    forged = RequestFactory().post("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    proxied = RequestFactory().post("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.99")
    assert request_client_address(forged) == "198.51.100.7"
    assert request_client_address(proxied) == "203.0.113.9"
