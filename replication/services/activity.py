"""The activity log of a registry: who changed its roles, tokens, webhooks, SKU, replicas, and when.

Every service that makes such a change calls `activity_record` inside the transaction of the change,
so a refused or rolled-back change leaves no record. Details hold old and new values, never a secret:
`activity_record` refuses the keys that would carry one, so a careless caller fails in the tests.
"""
from urllib.parse import urlsplit

from django.db import transaction

from ..choices import ActivityAction, ActivityActorKind
from ..models import ActivityRecord, Registry

# Keys whose values are credentials or could embed them (a service URI's path and query can hold a token).
SECRET_DETAIL_KEYS = frozenset({"password", "secret", "credentials", "custom_headers", "service_uri", "username",
                                "token"})


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a record may keep of a user's URL (no path, query or userinfo)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def _refuse_secret_keys(value) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).lower() in SECRET_DETAIL_KEYS:
                raise ValueError(f"An activity record may not hold '{key}': it can carry a secret.")
            _refuse_secret_keys(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            _refuse_secret_keys(inner)


def activity_record(*, registry: Registry, actor, action: ActivityAction, target: str = "",
                    detail: dict | None = None) -> ActivityRecord:
    """Record one change; call it inside the change's transaction. actor: a user, or None for the system."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("activity_record belongs inside the transaction of the change it records.")
    detail = detail or {}
    _refuse_secret_keys(detail)
    is_user = actor is not None and actor.is_authenticated
    return ActivityRecord.objects.create(
        registry=registry, registry_name=registry.name, action=ActivityAction(action), target=str(target)[:200],
        detail=detail, actor=actor if is_user else None, actor_name=actor.get_username() if is_user else "",
        actor_kind=ActivityActorKind.USER if is_user else ActivityActorKind.SYSTEM,
    )


def activity_summary(record: ActivityRecord) -> str:
    """One line of the detail for the page: "from → to" for each changed value, else "key: value"."""
    parts = []
    for key, value in record.detail.items():
        label = key.replace("_", " ")
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            parts.append(f"{label}: {_text(value['from'])} → {_text(value['to'])}")
        else:
            parts.append(f"{label}: {_text(value)}")
    return "; ".join(parts)


def _text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_text(inner)}" for key, inner in value.items())
    return "—" if value in (None, "") else str(value)
