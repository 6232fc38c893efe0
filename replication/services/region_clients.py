"""Clients of the regional registries as the replication engine: it authenticates like any client,
through the token flow, with credentials minted for exactly the copy at hand."""
import threading
import time

from django.conf import settings

from ..models import Region
from ..oci.client import BearerTokens, RegistryClient
from ..retry import registry_http_retry
from ..token_service.tokens import registry_token_sign
from .token_service import registry_token_issue, replication_credentials


def region_client(region: Region, *, prefix: str | None = None, repositories=(), actions=("pull",),
                  catalog: bool = False) -> RegistryClient:
    """A client of the region's registry as the replication engine, able to reach exactly what is asked:

    the repositories under `prefix` (a registry's "name/") and/or the named `repositories`, with
    `actions`, and the catalog if `catalog`. With none of them (a probe) it may only ping.
    """
    username, password = replication_credentials(prefix=prefix, repositories=repositories, actions=actions,
                                                 catalog=catalog)

    def issue_in_process(challenge: dict[str, str]) -> tuple[str, int]:
        # What the realm would answer these credentials (the same checks, the same signing key), without
        # the round trip to the portal: a copy job needs a token per repository and action.
        issued = registry_token_issue(service=challenge.get("service"), scopes=challenge.get("scope", "").split(),
                                      username=username, password=password)
        return issued.token, issued.expires_in

    return RegistryClient(region.endpoint, username=username, password=password,
                          timeout=settings.REGISTRY_HTTP_TIMEOUT, retry=registry_http_retry(),
                          token_issuer=issue_in_process, tokens=_engine_tokens(region.endpoint))


# The engine's bearer tokens per registry endpoint, for this process's life: a burst's copy jobs into one region
# ask for the same repositories, and each new job's first request per repository and action used to be a 401
# and a token. A cached token grants only the scope it was issued for; a client only sends it to that scope.
_tokens_by_endpoint: dict[str, BearerTokens] = {}
_tokens_by_endpoint_lock = threading.Lock()


def _engine_tokens(endpoint: str) -> BearerTokens:
    with _tokens_by_endpoint_lock:
        return _tokens_by_endpoint.setdefault(endpoint, BearerTokens())


_pull_tokens = BearerTokens()  # by repository


def region_pull_token(*, repository: str) -> str:
    """A registry token of the replication engine that may pull exactly `repository` (a data endpoint's).

    Signed here rather than fetched from the portal's realm: the token flow without its round trip,
    and a data endpoint keeps serving while the portal restarts. Kept until shortly before it expires.
    """
    token, valid_until = _pull_tokens.get(repository)
    if token and valid_until > time.monotonic():
        return token
    issued = registry_token_sign(subject=settings.REPLICATION_IDENTITY,
                                 access=[{"type": "repository", "name": repository, "actions": ["pull"]}])
    _pull_tokens.put(repository, issued.token, time.monotonic() + max(issued.expires_in - 30, 1))
    return issued.token
