import re

from django.db import IntegrityError, transaction

from ..choices import RegistryRole, ReplicaStatus
from ..exceptions import Conflict, InvalidInput, NotFound
from ..dispatch import job_record
from ..job_specs import PurgeSpec
from ..models import Region, Registry, Replica, RoleAssignment, Sku
from .health import region_health_check
from .regions import region_get
from .webhooks import webhook_check_sku_limit

REGISTRY_NAME_RE = re.compile(r"^[A-Za-z0-9]{5,50}$")


def registry_get(*, name: str) -> Registry:
    try:
        return Registry.objects.select_related("sku", "home_region").get(name__iexact=str(name))
    except Registry.DoesNotExist:
        raise NotFound(f"Registry '{name}' does not exist.") from None


def sku_get(*, name: str) -> Sku:
    try:
        return Sku.objects.get(name__iexact=str(name))
    except Sku.DoesNotExist:
        names = ", ".join(Sku.objects.values_list("name", flat=True))
        raise InvalidInput(f"SKU '{name}' does not exist; choose one of: {names}.", field="sku") from None


def registry_validate_name(name) -> str:
    name = str(name or "")
    if not REGISTRY_NAME_RE.match(name):
        raise InvalidInput(
            "Registry name must be 5 to 50 characters long and contain only letters and digits.",
            field="name",
        )
    return name.lower()


def registry_create(*, name: str, sku: str, home_region: str, owner=None) -> Registry:
    name = registry_validate_name(name)
    sku_obj = sku_get(name=sku)
    try:
        region = region_get(name=home_region)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="home_region") from None
    if Registry.objects.filter(name__iexact=name).exists():
        raise Conflict(f"A registry named '{name}' already exists.", field="name")
    if not region_health_check(region):
        raise Conflict(
            f"Region '{region.name}' has no available data plane; choose an available home region.",
            field="home_region",
        )
    try:
        with transaction.atomic():
            registry = Registry.objects.create(name=name, sku=sku_obj, home_region=region, owner=owner)
            if owner is not None:
                # The creator owns it: every permission on it, including roles and tokens.
                RoleAssignment.objects.create(registry=registry, user=owner, role=RegistryRole.OWNER)
            # The home replica holds the registry's first copy: nothing to sync into it.
            Replica.objects.create(registry=registry, region=region, status=ReplicaStatus.READY)
    except IntegrityError:
        raise Conflict(f"A registry named '{name}' already exists.", field="name") from None
    return registry


def registry_change_sku(*, registry: Registry, sku: str) -> Registry:
    new_sku = sku_get(name=sku)
    if not new_sku.geo_replication:
        extra = registry.replicas.exclude(region=registry.home_region).select_related("region")
        regions = sorted(r.region.name for r in extra)
        if regions:
            raise Conflict(
                f"Cannot change SKU to {new_sku.name}: geo-replication needs Premium. "
                f"Delete the replicas in {', '.join(regions)} first.",
                field="sku",
            )
    webhook_check_sku_limit(registry=registry, sku=new_sku)
    updated = Registry.objects.filter(pk=registry.pk).update(sku=new_sku)
    if not updated:
        raise NotFound(f"Registry '{registry.name}' does not exist.")
    registry.sku = new_sku
    return registry


def registry_delete(*, registry: Registry) -> None:
    """Delete the registry and purge its repositories in every region that has a data plane.

    Every deployed region, not only those that held a replica: content pushed straight into a
    region's registry (or left by a replica deleted long ago) must not outlive the registry.
    The purge jobs are recorded before the row goes, and keep their history without it.
    """
    prefix = registry.repository_prefix
    with transaction.atomic():
        for region in Region.objects.exclude(endpoint=""):
            job_record(spec=PurgeSpec(repository_prefix=prefix), registry=registry, region=region)
        registry.delete()
