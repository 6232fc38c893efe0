"""Import tests copy from registries on 127.0.0.1: the worker's outbound guard must allow loopback for them."""
import pytest


@pytest.fixture
def celery_worker_process(local_receivers_allowed, celery_worker_process):
    """The shared worker, started after loopback is allowed (it reads the allow-list from its environment)."""
    return celery_worker_process
