"""Who may do what with a registry: the one place that turns roles into permissions.

Staff may do everything. Anyone else has the union of the permissions of their roles on the
registry (choices.ROLE_PERMISSIONS); without a role they do not even see it (404, not 403,
so registry names do not leak). Views, the API and the token service all ask here.
"""
from ..choices import ROLE_PERMISSIONS, RegistryPermission, RegistryRole
from ..models import Registry, RoleAssignment


def registry_permissions(*, user, registry: Registry) -> frozenset[RegistryPermission]:
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_staff:
        return frozenset(RegistryPermission)
    roles = RoleAssignment.objects.filter(registry=registry, user=user).values_list("role", flat=True)
    granted: set[RegistryPermission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[RegistryRole(role)]
    return frozenset(granted)


def registry_has_permission(*, user, registry: Registry, permission: RegistryPermission) -> bool:
    return permission in registry_permissions(user=user, registry=registry)


def registries_visible_to(*, user, queryset=None):
    """The registries a user may see: all for staff, those they hold a role on otherwise."""
    queryset = Registry.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_staff:
        return queryset
    return queryset.filter(pk__in=RoleAssignment.objects.filter(user=user).values("registry"))
