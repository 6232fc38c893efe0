from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.utils.crypto import salted_hmac

from ..exceptions import NotFound
from ..retry import registry_http_retry
from ..models import Region
from ..oci.client import RegistryClient


def region_get(*, name: str) -> Region:
    try:
        return Region.objects.get(name=str(name).lower())
    except Region.DoesNotExist:
        raise NotFound(f"Region '{name}' does not exist.", field="region") from None


def region_client(region: Region) -> RegistryClient:
    return RegistryClient(region.endpoint, timeout=settings.REGISTRY_HTTP_TIMEOUT, retry=registry_http_retry())


def _endpoint_answers(endpoint: str) -> bool:
    client = RegistryClient(endpoint, timeout=settings.REGION_HEALTH_TIMEOUT)
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


def region_events_token(region_name: str, *, secret: str | None = None) -> str:
    """The shared secret a region's registry sends with its event notifications (derived, never stored).

    Derived from SECRET_KEY, or from `secret` (one of SECRET_KEY_FALLBACKS, while a rotation is under way).
    """
    return salted_hmac("replication.region_events_token", region_name, secret=secret, algorithm="sha256").hexdigest()


def region_set_endpoint(*, name: str, endpoint: str) -> Region:
    region = region_get(name=name)
    Region.objects.filter(pk=region.pk).update(endpoint=endpoint)
    region.endpoint = endpoint
    return region
