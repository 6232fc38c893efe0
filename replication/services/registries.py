import re

from django.db import IntegrityError, transaction

from ..choices import ANONYMOUS_PULL_SKUS, ActivityAction, RegistryRole, ReplicaStatus, SkuTier
from ..exceptions import Conflict, InvalidInput, NotFound
from ..dispatch import job_record
from ..job_specs import PurgeSpec
from ..models import Region, Registry, Replica, RoleAssignment, Sku
from .activity import activity_record
from .health import region_health_check
from .regions import region_get
from .webhooks import webhook_check_sku_limit

REGISTRY_NAME_RE = re.compile(r"^[A-Za-z0-9]{5,50}$")


def registry_not_found(*, name: str) -> NotFound:
    """The one answer for a registry that does not exist, or that the caller may not see."""
    return NotFound(f"Registry '{name}' does not exist.")


def registry_get(*, name: str) -> Registry:
    try:
        return Registry.objects.select_related("sku", "home_region").get(name__iexact=str(name))
    except Registry.DoesNotExist:
        raise registry_not_found(name=name) from None


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
    """The owner is also the actor of the record: whoever creates a registry owns it (None: the system)."""
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
            activity_record(registry=registry, actor=owner, action=ActivityAction.REGISTRY_CREATE, target=region.name,
                            detail={"sku": sku_obj.name, "home_region": region.name})
    except IntegrityError:
        raise Conflict(f"A registry named '{name}' already exists.", field="name") from None
    return registry


def registry_sku_change_check(*, registry: Registry, sku: str) -> Sku:
    """The SKU a change would move the registry to, or the refusal the change itself would give; writes
    nothing (the page's confirmation step asks it before showing the new cost)."""
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
    registry_check_anonymous_pull_sku(sku=new_sku, anonymous_pull=registry.anonymous_pull)
    return new_sku


def registry_change_sku(*, registry: Registry, sku: str, actor=None) -> Registry:
    new_sku = registry_sku_change_check(registry=registry, sku=sku)
    rows = Registry.objects.filter(pk=registry.pk)
    if new_sku.name not in ANONYMOUS_PULL_SKUS:
        rows = rows.filter(anonymous_pull=False)  # so a concurrent switch-on cannot slip past the check
    with transaction.atomic():
        if not rows.update(sku=new_sku):
            if Registry.objects.filter(pk=registry.pk).exists():
                registry_check_anonymous_pull_sku(sku=new_sku, anonymous_pull=True)
            raise NotFound(f"Registry '{registry.name}' does not exist.")
        if new_sku.pk != registry.sku_id:
            activity_record(registry=registry, actor=actor, action=ActivityAction.REGISTRY_SKU_CHANGE,
                            detail={"sku": {"from": registry.sku.name, "to": new_sku.name}})
    registry.sku = new_sku
    return registry


def _anonymous_pull_skus() -> str:
    return " or ".join(tier.value for tier in SkuTier if tier in ANONYMOUS_PULL_SKUS)


def registry_check_anonymous_pull_sku(*, sku: Sku, anonymous_pull: bool) -> None:
    if anonymous_pull and sku.name not in ANONYMOUS_PULL_SKUS:
        raise Conflict(f"Cannot change SKU to {sku.name}: anonymous pull is on and the {sku.name} SKU does not "
                       f"offer it. Turn anonymous pull off first.", field="sku")


def registry_set_anonymous_pull(*, registry: Registry, enabled: bool, actor=None) -> Registry:
    if enabled and registry.sku.name not in ANONYMOUS_PULL_SKUS:
        raise Conflict(f"Anonymous pull is not available on the {registry.sku.name} SKU; "
                       f"change the registry to {_anonymous_pull_skus()} first.", field="anonymous_pull")
    rows = Registry.objects.filter(pk=registry.pk)
    if enabled:
        rows = rows.filter(sku__name__in=ANONYMOUS_PULL_SKUS)  # so a concurrent downgrade cannot slip past
    with transaction.atomic():
        was_enabled = Registry.objects.filter(pk=registry.pk).values_list("anonymous_pull", flat=True).first()
        if not rows.update(anonymous_pull=enabled):
            current = Registry.objects.select_related("sku").filter(pk=registry.pk).first()
            if current is None:
                raise registry_not_found(name=registry.name)
            # Its SKU changed meanwhile.
            return registry_set_anonymous_pull(registry=current, enabled=enabled, actor=actor)
        if was_enabled != enabled:
            activity_record(registry=registry, actor=actor, action=ActivityAction.REGISTRY_ANONYMOUS_PULL,
                            detail={"anonymous_pull": {"from": was_enabled, "to": enabled}})
    registry.anonymous_pull = enabled
    return registry


def registry_update(*, registry: Registry, sku: str | None = None, anonymous_pull: bool | None = None,
                    actor=None) -> Registry:
    """A PATCH of several settings: all of them or none (turning anonymous pull off first lets a
    single request also move the registry to Basic)."""
    with transaction.atomic():
        if anonymous_pull is False:
            registry = registry_set_anonymous_pull(registry=registry, enabled=False, actor=actor)
        if sku is not None:
            registry = registry_change_sku(registry=registry, sku=sku, actor=actor)
        if anonymous_pull is True:
            registry = registry_set_anonymous_pull(registry=registry, enabled=True, actor=actor)
    return registry


def registry_delete(*, registry: Registry, actor=None) -> None:
    """Delete the registry and purge its repositories in every region that has a data plane.

    Every deployed region, not only those that held a replica: content pushed straight into a
    region's registry (or left by a replica deleted long ago) must not outlive the registry.
    The purge jobs are recorded before the row goes, and keep their history without it; so does
    the activity log (its records keep the registry's name).
    """
    prefix = registry.repository_prefix
    with transaction.atomic():
        replicas = sorted(registry.replicas.values_list("region__name", flat=True))
        activity_record(registry=registry, actor=actor, action=ActivityAction.REGISTRY_DELETE,
                        detail={"sku": registry.sku.name, "replicas": replicas})
        for region in Region.objects.exclude(endpoint=""):
            job_record(spec=PurgeSpec(repository_prefix=prefix), registry=registry, region=region)
        registry.delete()
