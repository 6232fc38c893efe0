"""Who may call which route: one DRF permission, installed for every API view in settings.

A view serving registries/{name}/... declares `registry_permissions`, the permission each HTTP
method needs; the check itself is services.access (the pages call the same functions). A view
that serves a registry's data but declares nothing is refused with a 500 at the first request
rather than left open.
"""
from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from ..choices import RegistryPermission
from ..services import access

# Methods that only read, whatever the view declares for GET.
_READ_ONLY_METHODS = ("HEAD", "OPTIONS")


class RegistryAccess(BasePermission):
    def has_permission(self, request, view):
        declared = getattr(view, "registry_permissions", None)
        if declared is None:
            if "registries/<str:name>/" in request.resolver_match.route:
                raise ImproperlyConfigured(f"{type(view).__name__} serves a registry but declares no "
                                           "registry_permissions.")
            return True  # not about one registry: regions, SKUs, the registry list and create
        if request.method in _READ_ONLY_METHODS:
            permission: RegistryPermission | None = RegistryPermission.READ
        else:
            permission = declared.get(request.method)
        if permission is None:
            if hasattr(view, request.method.lower()):
                raise ImproperlyConfigured(f"{type(view).__name__}.registry_permissions has no entry for "
                                           f"{request.method}.")
            return True  # DRF answers 405 for a method the view does not serve
        check = getattr(view, "check_registry_access", None)
        if check is not None:  # a route that reaches its registry through another object (a job)
            check(request=request, permission=permission)
        else:
            view.registry = access.registry_get_for(user=request.user, name=view.kwargs["name"],
                                                    permission=permission)
        return True
