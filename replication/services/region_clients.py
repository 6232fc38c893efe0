"""Clients of the regional registries as the replication engine: it authenticates like any client,
through the token flow, with credentials minted for exactly the copy at hand."""
from django.conf import settings

from ..models import Region
from ..oci.client import RegistryClient
from ..retry import registry_http_retry
from .token_service import replication_credentials


def region_client(region: Region, *, prefix: str | None = None, repositories=(), actions=("pull",),
                  catalog: bool = False) -> RegistryClient:
    """A client of the region's registry as the replication engine, able to reach exactly what is asked:

    the repositories under `prefix` (a registry's "name/") and/or the named `repositories`, with
    `actions`, and the catalog if `catalog`. With none of them (a probe) it may only ping.
    """
    username, password = replication_credentials(prefix=prefix, repositories=repositories, actions=actions,
                                                 catalog=catalog)
    return RegistryClient(region.endpoint, username=username, password=password,
                          timeout=settings.REGISTRY_HTTP_TIMEOUT, retry=registry_http_retry())
