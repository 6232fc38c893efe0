"""Who may do what with a registry: the one place that turns roles into permissions.

Staff may do everything. Anyone else has the union of the permissions of their roles on the
registry (choices.ROLE_PERMISSIONS); without a role they do not even see it (404, not 403,
so registry names do not leak). Views, the API and the token service all ask here.
"""
import re
import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..choices import REPOSITORY_ACTIONS, ROLE_PERMISSIONS, ActivityAction, RegistryPermission, RegistryRole
from ..exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from ..models import Registry, RegistryToken, ReplicationJob, RoleAssignment
from ..oci.reference import REPOSITORY_MAX_LENGTH, REPOSITORY_PATTERN
from .activity import activity_record
from .registries import registry_get, registry_not_found


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


# Checks: the API's permission class and the pages' views both call these.


def registry_require(*, user, registry: Registry, permission: RegistryPermission,
                     unseen: NotFound | None = None) -> Registry:
    """The registry if the user holds `permission` on it; NotFound (`unseen`, else the unknown
    registry's answer) without any role, PermissionDenied with a role too small."""
    granted = registry_permissions(user=user, registry=registry)
    if RegistryPermission.READ not in granted:
        raise unseen or registry_not_found(name=registry.name)
    if permission not in granted:
        raise PermissionDenied(f"Your role on registry '{registry.name}' does not allow this: it needs the "
                               f"'{permission.value}' permission ({permission.label.lower()}).")
    return registry


def registry_get_for(*, user, name: str, permission: RegistryPermission) -> Registry:
    registry = registry_get(name=name)
    # The name as the caller spelled it, so an invisible registry reads exactly like an unknown one.
    return registry_require(user=user, registry=registry, permission=permission, unseen=registry_not_found(name=name))


def job_get_for(*, user, job_id: int, permission: RegistryPermission = RegistryPermission.READ) -> ReplicationJob:
    """A job follows its registry: invisible with it, and answered like an unknown job."""
    unknown = NotFound(f"Job {job_id} does not exist.")
    job = ReplicationJob.objects.select_related("registry", "region").filter(pk=job_id).first()
    if job is None:
        raise unknown
    registry_require(user=user, registry=job.registry, permission=permission, unseen=unknown)
    return job


# Role assignments


def role_assignment_list(*, registry: Registry):
    return RoleAssignment.objects.filter(registry=registry).select_related("user", "registry")


def role_assignment_get(*, registry: Registry, assignment_id) -> RoleAssignment:
    try:
        return role_assignment_list(registry=registry).get(pk=int(assignment_id))
    except (RoleAssignment.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"Role assignment '{assignment_id}' does not exist on registry '{registry.name}'.") from None


def role_assignment_create(*, registry: Registry, username: str, role: str, actor=None) -> RoleAssignment:
    if role not in RegistryRole.values:
        raise InvalidInput(f"Role '{role}' does not exist; choose one of: {', '.join(RegistryRole.values)}.",
                           field="role")
    user = get_user_model().objects.filter(username=str(username), is_active=True).first()
    if user is None:
        raise InvalidInput(f"User '{username}' does not exist.", field="user")
    duplicate = Conflict(f"User '{user.username}' already has the role '{role}' on registry '{registry.name}'.",
                         field="role")
    if RoleAssignment.objects.filter(registry=registry, user=user, role=role).exists():
        raise duplicate
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(registry=registry, user=user, role=role)
            activity_record(registry=registry, actor=actor, action=ActivityAction.ROLE_ASSIGN, target=user.username,
                            detail={"role": role})
            return assignment
    except IntegrityError:  # the same assignment created meanwhile
        raise duplicate from None


def role_assignment_delete(*, assignment: RoleAssignment, actor=None) -> None:
    with transaction.atomic():
        # Lock the registry row (PostgreSQL) so two owners cannot remove each other at once.
        Registry.objects.select_for_update().filter(pk=assignment.registry_id).first()
        if assignment.role == RegistryRole.OWNER:
            others = RoleAssignment.objects.filter(registry_id=assignment.registry_id, role=RegistryRole.OWNER)
            if not others.exclude(pk=assignment.pk).exists():
                raise Conflict(f"'{assignment.user.username}' is the last owner of registry "
                               f"'{assignment.registry.name}'; make someone else owner first.", field="role")
        deleted, _ = RoleAssignment.objects.filter(pk=assignment.pk).delete()
        if deleted:  # not already removed by someone else
            activity_record(registry=assignment.registry, actor=actor, action=ActivityAction.ROLE_REMOVE,
                            target=assignment.user.username, detail={"role": assignment.role})


# Registry tokens

TOKEN_NAME_RE = re.compile(r"^[A-Za-z0-9-]{5,50}$")
# A repository inside the registry, a prefix with everything under it ("apps/*"), or every repository ("*").
TOKEN_REPOSITORY_RE = re.compile(rf"^(?:\*|{REPOSITORY_PATTERN}(?:/\*)?)$")


def registry_token_username(token: RegistryToken) -> str:
    return f"{token.registry.name}/{token.name}"


def registry_token_validate_name(name) -> str:
    name = str(name or "")
    if not TOKEN_NAME_RE.match(name):
        raise InvalidInput("Token name must be 5 to 50 characters long and contain only letters, digits and "
                           "dashes.", field="name")
    return name


def registry_token_validate_scope(*, registry: Registry, scope) -> list[dict]:
    """[{"repository", "actions"}] with known actions in a fixed order; repositories are inside the registry."""
    if not isinstance(scope, list) or not scope:
        raise InvalidInput('Scope must be a non-empty list of {"repository", "actions"}.', field="scope")
    allowed = [action.value for action in REPOSITORY_ACTIONS]
    validated, seen = [], set()
    for entry in scope:
        if not isinstance(entry, dict) or set(entry) != {"repository", "actions"}:
            raise InvalidInput('Each scope entry is {"repository": ..., "actions": [...]}.', field="scope")
        repository, actions = entry["repository"], entry["actions"]
        full_length = len(registry.repository_prefix) + len(str(repository))
        if (not isinstance(repository, str) or not TOKEN_REPOSITORY_RE.match(repository)
                or full_length > REPOSITORY_MAX_LENGTH):
            raise InvalidInput(f"'{repository}' is not a repository name (lower-case path components such as "
                               f"'apps/web'), a prefix such as 'apps/*', or '*'.", field="scope")
        if repository in seen:
            raise InvalidInput(f"Repository '{repository}' appears twice in the scope.", field="scope")
        seen.add(repository)
        if (not isinstance(actions, list) or not actions
                or not all(isinstance(action, str) and action in allowed for action in actions)):
            raise InvalidInput(f"Actions of '{repository}' must be a non-empty list of: {', '.join(allowed)}.",
                               field="scope")
        validated.append({"repository": repository, "actions": [a for a in allowed if a in actions]})
    return validated


def registry_token_list(*, registry: Registry):
    return RegistryToken.objects.filter(registry=registry).select_related("registry")


def registry_token_get(*, registry: Registry, name: str) -> RegistryToken:
    try:
        return registry_token_list(registry=registry).get(name__iexact=str(name))
    except RegistryToken.DoesNotExist:
        raise NotFound(f"Token '{name}' does not exist on registry '{registry.name}'.") from None


def registry_token_create(*, registry: Registry, name, scope, expires_at: datetime | None = None,
                          created_by=None) -> tuple[RegistryToken, str]:
    """The new token and its password, which exists only in this return value: only its hash is stored.
    created_by is also the actor of the activity record."""
    name = registry_token_validate_name(name)
    scope = registry_token_validate_scope(registry=registry, scope=scope)
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at must be in the future.", field="expires_at")
    duplicate = Conflict(f"A token named '{name}' already exists on registry '{registry.name}'.", field="name")
    if RegistryToken.objects.filter(registry=registry, name__iexact=name).exists():
        raise duplicate
    password = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = RegistryToken.objects.create(registry=registry, name=name, scope=scope, expires_at=expires_at,
                                                 password_hash=make_password(password), created_by=created_by)
            activity_record(registry=registry, actor=created_by, action=ActivityAction.TOKEN_CREATE, target=name,
                            detail={"scope": scope, "expires_at": expires_at.isoformat() if expires_at else None})
    except IntegrityError:  # the same name created meanwhile
        raise duplicate from None
    return token, password


def registry_token_delete(*, token: RegistryToken, actor=None) -> None:
    """Revoke: the row goes, so the token service finds nothing to check the password against."""
    with transaction.atomic():
        deleted, _ = RegistryToken.objects.filter(pk=token.pk).delete()
        if deleted:  # not already revoked by someone else
            activity_record(registry=token.registry, actor=actor, action=ActivityAction.TOKEN_DELETE,
                            target=token.name)
