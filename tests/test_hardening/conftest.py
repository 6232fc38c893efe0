"""Hardening tests: the cache that counts failed sign-ins is emptied around each test, so no count leaks."""
import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_sign_in_counts(db):
    cache.clear()
    yield
    cache.clear()
