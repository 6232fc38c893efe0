import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from ..exceptions import NotFound
from ..models import Region
from ..oci.client import RegistryClient
from .token_service import replication_credentials


def region_get(*, name: str) -> Region:
    try:
        return Region.objects.get(name=str(name).lower())
    except Region.DoesNotExist:
        raise NotFound(f"Region '{name}' does not exist.", field="region") from None


def region_client(region: Region, *, prefix: str | None = None, repositories=(), actions=("pull",),
                  catalog: bool = False) -> RegistryClient:
    """A client of the region's registry as the replication engine, able to reach exactly what is asked:

    the repositories under `prefix` (a registry's "name/") and/or the named `repositories`, with
    `actions`, and the catalog if `catalog`. With none of them (a probe) it may only ping.
    """
    username, password = replication_credentials(prefix=prefix, repositories=repositories, actions=actions,
                                                 catalog=catalog)
    return RegistryClient(region.endpoint, username=username, password=password,
                          timeout=settings.REGISTRY_HTTP_TIMEOUT)


def _endpoint_answers(endpoint: str) -> bool:
    username, password = replication_credentials()  # no scope: a probe may only ping, through the token flow
    client = RegistryClient(endpoint, username=username, password=password, timeout=settings.REGION_HEALTH_TIMEOUT)
    try:
        return client.ping()
    except Exception:
        return False
    finally:
        client.close()


def region_availability(regions) -> dict[int, bool]:
    """A region is available when it is enabled, has a data plane endpoint, and that endpoint answers."""
    regions = list(regions)
    deployed = [r for r in regions if r.enabled and r.endpoint]
    result = {r.pk: False for r in regions}
    if deployed:
        with ThreadPoolExecutor(max_workers=min(8, len(deployed))) as pool:
            for region, answers in zip(deployed, pool.map(lambda r: _endpoint_answers(r.endpoint), deployed)):
                result[region.pk] = answers
    return result


def region_is_available(region: Region) -> bool:
    return region_availability([region])[region.pk]


def region_events_token(region_name: str) -> str:
    """The shared secret a region's registry sends with its event notifications (derived, never stored)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"registry-events:{region_name}".encode(), hashlib.sha256).hexdigest()


def region_set_endpoint(*, name: str, endpoint: str) -> Region:
    region = region_get(name=name)
    Region.objects.filter(pk=region.pk).update(endpoint=endpoint)
    region.endpoint = endpoint
    return region
