"""The retry policies of the project's work, from settings named the same way for each purpose.

`<PURPOSE>_MAX_RETRIES`, `<PURPOSE>_RETRY_BACKOFF` (first wait, s), `<PURPOSE>_RETRY_BACKOFF_MAX`
(cap, s), and `RETRY_JITTER` for all: replication jobs (REPLICATION_), webhook deliveries
(WEBHOOK_), event fan-out (EVENTS_). One formula for all: `oci.retry.RetryPolicy`.
"""
from django.conf import settings

from .oci.retry import RetryPolicy


def retry_policy(purpose: str) -> RetryPolicy:
    return RetryPolicy(
        max_retries=getattr(settings, f"{purpose}_MAX_RETRIES"),
        backoff=getattr(settings, f"{purpose}_RETRY_BACKOFF"),
        backoff_max=getattr(settings, f"{purpose}_RETRY_BACKOFF_MAX"),
        jitter=settings.RETRY_JITTER,
    )


def registry_http_retry() -> RetryPolicy:
    """In-request retries of the engine's HTTP calls to registries."""
    return retry_policy("REGISTRY_HTTP")
