"""Sign-in throttling: failed sign-ins counted per user name and per client address, refused with 429.

Every way in by password goes through `sign_in_attempt` instead of `authenticate`: the portal's sign-in
page and the admin's (`replication/accounts.py`), API tokens (`replication/api/auth.py`), and registry
tokens (`/oauth2/token`). The counts live in Django's default cache, which every process of the
portal shares (the database cache by default, Redis with CACHE_URL; see settings). Each count is a
sliding window: the times of the last failures, kept for SIGN_IN_FAILURE_WINDOW_SECONDS.
"""
import functools
import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.http import JsonResponse

from .client_address import request_client_address
from .exceptions import TooManyAttempts


def _failure_keys(*, username: str, address: str) -> dict[str, tuple[str, int]]:
    """{cache key: limit} for the user name's count and the address's count."""
    def key(kind: str, value: str) -> str:
        return f"sign-in-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"

    return {
        key("username", username.strip().casefold()): settings.SIGN_IN_FAILURES_PER_USERNAME,
        key("address", address): settings.SIGN_IN_FAILURES_PER_ADDRESS,
    }


def _seconds_until_allowed(*, failure_times: list[float], limit: int, now: float) -> int:
    recent = [t for t in failure_times if t > now - settings.SIGN_IN_FAILURE_WINDOW_SECONDS]
    if len(recent) < limit:
        return 0
    # Allowed again when the oldest of the last `limit` failures leaves the window.
    return max(1, math.ceil(recent[-limit] + settings.SIGN_IN_FAILURE_WINDOW_SECONDS - now))


def sign_in_wait_seconds(*, username: str, address: str) -> int:
    """0 when a sign-in may be tried now; else how many seconds until it may."""
    now = time.time()
    keys = _failure_keys(username=username, address=address)
    stored = cache.get_many(list(keys))
    return max(_seconds_until_allowed(failure_times=stored.get(key, []), limit=limit, now=now)
               for key, limit in keys.items())


def sign_in_failure_record(*, username: str, address: str) -> None:
    # Read-modify-write: parallel failures may lose a count or two; the limit still holds within that slack.
    now = time.time()
    window = settings.SIGN_IN_FAILURE_WINDOW_SECONDS
    keys = _failure_keys(username=username, address=address)
    stored = cache.get_many(list(keys))
    cache.set_many({key: ([t for t in stored.get(key, []) if t > now - window] + [now])[-limit:]
                    for key, limit in keys.items()}, timeout=window)


def sign_in_success_record(*, username: str) -> None:
    """A successful sign-in clears the user name's count (not the address's: one valid account must not
    let an address go on guessing the passwords of others)."""
    cache.delete_many([key for key in _failure_keys(username=username, address="") if ":username:" in key])


def sign_in_attempt(*, request, username: str, password: str):
    """`authenticate` behind the throttle: the user, or None for wrong credentials.

    Raises TooManyAttempts (429, with retry_after) without checking the password while the user name
    or the client address is over its limit, so a locked-out guesser learns nothing.
    """
    address = request_client_address(request)
    wait = sign_in_wait_seconds(username=username, address=address)
    if wait:
        raise TooManyAttempts(f"Too many failed sign-ins. Try again in {wait} seconds.", retry_after=wait)
    user = authenticate(request, username=username, password=password)
    if user is None:
        sign_in_failure_record(username=username, address=address)
    else:
        sign_in_success_record(username=username)
    return user


def too_many_attempts_response(exc: TooManyAttempts) -> JsonResponse:
    response = JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    response["Retry-After"] = str(exc.retry_after)
    return response


def refuse_when_throttled(view):
    """For plain Django views that call `sign_in_attempt` (the registry token service): TooManyAttempts
    becomes a JSON 429 with Retry-After. DRF views need nothing: the API's exception handler does it."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except TooManyAttempts as exc:
            return too_many_attempts_response(exc)

    return wrapper
