from django.db import transaction

from ..choices import RegionHealthState
from ..exceptions import NotFound
from ..models import Region, RegionHealth
from .health import region_health_check, region_health_reset, region_is_deployed
from .region_secrets import region_events_secret


def region_get(*, name: str) -> Region:
    try:
        return Region.objects.get(name=str(name).lower())
    except Region.DoesNotExist:
        raise NotFound(f"Region '{name}' does not exist.", field="region") from None


def region_availability(regions) -> dict[int, bool]:
    """Available: enabled, with an endpoint, and its last recorded probe says up. One query, no network."""
    regions = list(regions)
    deployed = [r.pk for r in regions if region_is_deployed(r)]
    up = set(RegionHealth.objects.filter(region_id__in=deployed, state=RegionHealthState.UP)
             .values_list("region_id", flat=True)) if deployed else set()
    return {r.pk: r.pk in up for r in regions}


def region_set_endpoint(*, name: str, endpoint: str, storage_root: str = "") -> Region:
    """Record the region's endpoint (giving it an events secret if it has none) and probe it at once,
    so it shows available without waiting for beat. storage_root: the registry's storage folder as the
    region's worker sees it, when it can (lets a scrub repair corrupted blobs); blank: unknown."""
    region = region_get(name=name)
    storage_root = str(storage_root)
    with transaction.atomic():
        Region.objects.filter(pk=region.pk).update(endpoint=endpoint, storage_root=storage_root)
        region.endpoint = endpoint
        region.storage_root = storage_root
        region_health_reset(region=region)
        region_events_secret(region=region)
    region_health_check(region)
    return region


def region_set_data_endpoint(*, name: str, data_endpoint: str) -> Region:
    """Record where the region's data endpoint answers (blank: none, the global endpoint relays its blobs)."""
    region = region_get(name=name)
    Region.objects.filter(pk=region.pk).update(data_endpoint=data_endpoint)
    region.data_endpoint = data_endpoint
    return region
