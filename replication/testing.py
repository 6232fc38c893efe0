"""Support for tests and benchmarks, as `django.test` is for Django's: importable without pytest or
Django settings, so `bench/` and `tests/` poll the same way."""
import time


def wait_until(predicate, *, timeout: float, interval: float, message: str):
    """Call predicate() every `interval` seconds until it returns something truthy, and return that.

    A predicate may raise to stop early (a replica that failed, a process that exited). After
    `timeout` seconds: TimeoutError naming `message`, what was waited for.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
