"""The one retry policy of the project: exponential backoff with full jitter and a cap.

Used for HTTP requests inside the engine (here, without Django), and by the jobs layer for
Celery task retries and webhook deliveries (`replication/retry.py` builds the policies
from settings). The formula is Celery's `retry_backoff` / `retry_jitter` one
(`celery.utils.time.get_exponential_backoff_interval`), kept in floats so that sub-second
backoffs (tests, in-request retries) are not rounded up to whole seconds.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int  # retries after the first attempt
    backoff: float  # seconds before the first retry (before jitter)
    backoff_max: float  # no wait is longer than this
    jitter: bool = True  # full jitter: spread retries of many clients over [0, wait]

    def may_retry(self, retries_done: int) -> bool:
        return retries_done < self.max_retries

    def countdown(self, retries_done: int) -> float:
        """Seconds to wait before retry number retries_done + 1."""
        wait = min(self.backoff_max, self.backoff * (2 ** retries_done))
        return random.uniform(0, wait) if self.jitter else wait


# Idempotent requests that failed on the wire or with a 502/503/504/429: two quick retries.
HTTP_REQUEST_RETRY = RetryPolicy(max_retries=2, backoff=0.2, backoff_max=2.0)
