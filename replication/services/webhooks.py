"""Regional webhooks, like Azure Container Registry's: rules, event matching and signed delivery.

A webhook belongs to a registry and is bound to one region where the registry has a replica;
events (push, delete, replicated) that happen in that region are POSTed to its service URI.

Scope: '' matches every repository; "repo:tag" one tag; "repo:*" (or just "repo") every tag of
the repository, and pushes by digest. Repository names in scopes, and in the body sent, are the
names users see inside the registry, i.e. WITHOUT the registry's prefix: an event for
"contoso/public/web:1.2" in registry contoso is matched and sent as repository "public/web", tag "1.2".

Each delivery is `POST service_uri` with `Content-Type: application/json`, the webhook's custom
headers, and `X-Signature-SHA256: sha256=<hex HMAC-SHA256 of the raw request body, keyed with the
webhook's secret (UTF-8)>`. The body is compact JSON with sorted keys:
    {"action", "id", "region", "request"?, "target": {"digest", "mediaType", "repository", "size",
     "tag"}, "timestamp"}
Retries of one delivery send the same body (same "id"), so receivers can de-duplicate on it.
A 2xx answer is success; timeouts, connection errors, 408, 429 and 5xx are retried with
the project's retry policy (replication/retry.py: WEBHOOK_RETRY_BACKOFF * 2**n s with full jitter, capped at
WEBHOOK_RETRY_BACKOFF_MAX, at most WEBHOOK_MAX_RETRIES retries); any
other answer fails at once. Redirects are followed only for 307/308 to the same scheme, host and
port; any other redirect fails the delivery, so a receiver cannot bounce signed events elsewhere.

Service URIs are user input: the outbound guard (replication/outbound.py) refuses loopback, private
and other non-public addresses when the URI is given and again on every connection, so a rebinding
name or a redirect hop cannot reach them either; such a delivery fails at once with the reason and
keeps no response. Changing the service URI drops the custom headers and needs the secret again, so
credentials meant for one receiver never go to another. The delivery log keeps the status and at
most RESPONSE_EXCERPT_CHARS characters of the answer, without control characters.
"""
import hashlib
import hmac
import json
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import metrics
from ..choices import (
    WEBHOOK_SUBSCRIBABLE_ACTIONS,
    ActivityAction,
    ReplicaStatus,
    WebhookAction,
    WebhookDeliveryState,
)
from ..exceptions import Conflict, InvalidInput, NotFound
from ..log_context import current_request_id, log_context
from ..models import Registry, Replica, Sku, Webhook, WebhookDelivery
from ..dispatch import DELIVER_WEBHOOK_TASK, task_send_on_commit
from ..oci.reference import is_repository, is_tag
from ..retry import retry_policy
from ..queues import region_queue
from ..oci.outbound import OutboundAddressRefused, guarded_transport
from ..outbound import outbound_guard, outbound_url_check
from .activity import activity_record, url_origin
from .regions import region_get

WEBHOOK_NAME_RE = re.compile(r"^[A-Za-z0-9]{5,50}$")
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# Headers the delivery itself sets; a custom header may not replace them.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "user-agent", "x-signature-sha256",
                              "transfer-encoding", "connection"})
MAX_CUSTOM_HEADERS = 20
MAX_HEADER_VALUE = 4096
SECRET_MIN, SECRET_MAX = 16, 200
SIGNATURE_HEADER = "X-Signature-SHA256"
USER_AGENT = "georegistry-webhook/1.0"
REDACTED = "<redacted>"
RESPONSE_EXCERPT_CHARS = 200
MAX_REDIRECTS = 3
_UNSET = object()


# --- reads ---------------------------------------------------------------------------------------

def webhook_list(*, registry: Registry):
    return Webhook.objects.filter(registry=registry).select_related("registry", "region").order_by("name")


def webhook_get(*, registry: Registry, name: str) -> Webhook:
    try:
        return Webhook.objects.select_related("registry__sku", "region").get(registry=registry,
                                                                             name__iexact=str(name))
    except Webhook.DoesNotExist:
        raise NotFound(f"Registry '{registry.name}' has no webhook named '{name}'.") from None


def webhook_delivery_list(*, webhook: Webhook, limit: int = 100):
    return webhook.deliveries.order_by("-created_at", "-id")[:limit]


@dataclass
class WebhookPanelRow:
    webhook: Webhook
    deliveries: list = field(default_factory=list)


def webhook_panel(*, registry: Registry, deliveries_per_webhook: int = 5) -> list[WebhookPanelRow]:
    """The registry page's webhooks, each with its most recent deliveries."""
    return [WebhookPanelRow(webhook, list(webhook_delivery_list(webhook=webhook, limit=deliveries_per_webhook)))
            for webhook in webhook_list(registry=registry)]


def webhook_service_uri_host(webhook: Webhook) -> str:
    """What the API and the page show instead of the write-only service URI: scheme and host[:port]."""
    return url_origin(webhook.service_uri)


# --- validation ----------------------------------------------------------------------------------

def webhook_validate_name(name) -> str:
    name = str(name or "")
    if not WEBHOOK_NAME_RE.match(name):
        raise InvalidInput("Webhook name must be 5 to 50 characters long and contain only letters and digits.",
                           field="name")
    return name


def webhook_validate_service_uri(uri) -> str:
    uri = str(uri or "").strip()
    if len(uri) > 2000:
        raise InvalidInput("Service URI must be at most 2000 characters long.", field="service_uri")
    try:
        URLValidator(schemes=["http", "https"])(uri)
    except ValidationError:
        raise InvalidInput("Service URI must be an absolute http:// or https:// URL.", field="service_uri") from None
    outbound_url_check(uri, field="service_uri", label="Service URI")
    return uri


def http_field_value(value: str) -> str | None:
    """The value trimmed, if it is a valid HTTP field value here (printable ASCII and tab); else None.

    httpx can only send ASCII (latin-1 at best): anything else would fail every delivery in the worker.
    """
    value = value.strip(" \t")
    return value if all(c == "\t" or " " <= c <= "~" for c in value) else None


def webhook_validate_actions(actions) -> list[str]:
    allowed = [str(a) for a in WEBHOOK_SUBSCRIBABLE_ACTIONS]
    if isinstance(actions, str) or not isinstance(actions, (list, tuple)):
        raise InvalidInput(f"Actions must be a list of: {', '.join(allowed)}.", field="actions")
    unknown = [str(a) for a in actions if a not in allowed]
    if unknown:
        raise InvalidInput(f"Unknown action(s) {', '.join(unknown)}; choose from: {', '.join(allowed)}.",
                           field="actions")
    if not actions:
        raise InvalidInput(f"Choose at least one action: {', '.join(allowed)}.", field="actions")
    return [a for a in allowed if a in actions]


def webhook_normalize_scope(scope) -> str:
    """'' (all), "repo:tag" or "repo:*"; a bare "repo" means "repo:*"."""
    if scope is None:
        return ""
    if not isinstance(scope, str):
        raise InvalidInput("Scope must be a string such as 'web:1.2' or 'web:*'.", field="scope")
    scope = scope.strip()
    if not scope:
        return ""
    repository, colon, tag = scope.partition(":")
    tag = tag if colon else "*"
    if not is_repository(repository):
        raise InvalidInput(f"Scope '{scope}': '{repository}' is not a valid repository name (lowercase letters, "
                           "digits, separators . _ - and /).", field="scope")
    if tag != "*" and not is_tag(tag):
        raise InvalidInput(f"Scope '{scope}': '{tag}' is not a valid tag; use a tag or '*'.", field="scope")
    return f"{repository}:{tag}"


def webhook_validate_custom_headers(headers) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise InvalidInput("Custom headers must be an object of header names to string values.",
                           field="custom_headers")
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise InvalidInput(f"At most {MAX_CUSTOM_HEADERS} custom headers are allowed.", field="custom_headers")
    seen, cleaned = set(), {}
    for name, value in headers.items():
        name = name.strip(" \t") if isinstance(name, str) else name
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            raise InvalidInput(f"'{name}' is not a valid HTTP header name.", field="custom_headers")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidInput(f"Header '{name}' is set by the delivery itself and cannot be customised.",
                               field="custom_headers")
        if name.lower() in seen:
            raise InvalidInput(f"Header '{name}' is given twice.", field="custom_headers")
        seen.add(name.lower())
        if not isinstance(value, str) or len(value) > MAX_HEADER_VALUE:
            raise InvalidInput(f"Header '{name}' must have a string value of at most {MAX_HEADER_VALUE} characters.",
                               field="custom_headers")
        cleaned[name] = http_field_value(value)
        if cleaned[name] is None:
            raise InvalidInput(f"Header '{name}' must have a value of printable ASCII characters (and tabs) only.",
                               field="custom_headers")
    return cleaned


def webhook_validate_secret(secret) -> str:
    if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise InvalidInput(f"Secret must be {SECRET_MIN} to {SECRET_MAX} characters long.", field="secret")
    # Refused, not trimmed: a silently changed secret would break every signature the receiver checks.
    if http_field_value(secret) != secret or "\t" in secret:
        raise InvalidInput("Secret must be printable ASCII characters without leading or trailing spaces.",
                           field="secret")
    return secret


def webhook_validate_enabled(enabled) -> bool:
    if not isinstance(enabled, bool):
        raise InvalidInput("Enabled must be true or false.", field="enabled")
    return enabled


def webhook_resolve_region(*, registry: Registry, region):
    """The webhook's region: it must exist (400) and hold a replica of the registry that is not being deleted (409)."""
    try:
        region_obj = region_get(name=str(region or ""))
    except NotFound as exc:
        raise InvalidInput(exc.message, field="region") from None
    replica = Replica.objects.filter(registry=registry, region=region_obj).first()
    if replica is None or replica.status == ReplicaStatus.DELETING:
        raise Conflict(f"Registry '{registry.name}' has no replica in '{region_obj.name}'; a webhook can only be "
                       "bound to a region where the registry is replicated.", field="region")
    return region_obj


def webhook_check_sku_limit(*, registry: Registry, sku: Sku, adding: int = 0) -> None:
    """Refuse (409) when the registry would have more webhooks than the SKU allows.

    webhook_create calls it with adding=1; a SKU change can call it to refuse a downgrade.
    """
    count = Webhook.objects.filter(registry=registry).count()
    if count + adding > sku.max_webhooks:
        noun = "webhook" if sku.max_webhooks == 1 else "webhooks"
        if adding:
            message = (f"Registry '{registry.name}' is on the {sku.name} SKU, which allows {sku.max_webhooks} "
                       f"{noun}; it has {count}. Delete a webhook or upgrade the SKU.")
        else:
            message = (f"The {sku.name} SKU allows {sku.max_webhooks} {noun}; registry '{registry.name}' has "
                       f"{count}. Delete webhooks first.")
        raise Conflict(message, field="name" if adding else "sku")


# --- writes --------------------------------------------------------------------------------------

# The one check of each editable field, shared by create and update.
WEBHOOK_FIELD_VALIDATORS = {
    "service_uri": webhook_validate_service_uri,
    "actions": webhook_validate_actions,
    "scope": webhook_normalize_scope,
    "custom_headers": webhook_validate_custom_headers,
    "secret": webhook_validate_secret,
    "enabled": webhook_validate_enabled,
}


def webhook_create(*, registry: Registry, name, region, service_uri, actions, secret, scope="",
                   custom_headers=None, enabled=True, actor=None) -> Webhook:
    name = webhook_validate_name(name)
    given = {"service_uri": service_uri, "actions": actions, "scope": scope, "custom_headers": custom_headers,
             "secret": secret, "enabled": enabled}
    fields = {field: WEBHOOK_FIELD_VALIDATORS[field](value) for field, value in given.items()}
    region_obj = webhook_resolve_region(registry=registry, region=region)
    try:
        with transaction.atomic():
            # Lock the registry row so two concurrent creates cannot both pass the SKU limit.
            locked = Registry.objects.select_for_update().select_related("sku").filter(pk=registry.pk).first()
            if locked is None:
                raise NotFound(f"Registry '{registry.name}' does not exist.")
            if Webhook.objects.filter(registry=registry, name__iexact=name).exists():
                raise Conflict(f"Registry '{registry.name}' already has a webhook named '{name}'.", field="name")
            webhook_check_sku_limit(registry=locked, sku=locked.sku, adding=1)
            webhook = Webhook.objects.create(registry=locked, name=name, region=region_obj, **fields)
            activity_record(registry=locked, actor=actor, action=ActivityAction.WEBHOOK_CREATE, target=name,
                            detail=webhook_activity_values(webhook))
            return webhook
    except IntegrityError:
        raise Conflict(f"Registry '{registry.name}' already has a webhook named '{name}'.", field="name") from None


def webhook_update(*, webhook: Webhook, region=_UNSET, service_uri=_UNSET, actions=_UNSET, scope=_UNSET,
                   custom_headers=_UNSET, secret=_UNSET, enabled=_UNSET, actor=None) -> Webhook:
    """Change any of the given fields; the name is the webhook's identity and cannot change.

    A new service URI drops the custom headers (often credentials for the old receiver) unless they are
    given again, and needs the secret again: neither may go to a receiver they were not given for.
    """
    given = {"service_uri": service_uri, "actions": actions, "scope": scope, "custom_headers": custom_headers,
             "secret": secret, "enabled": enabled}
    changes = {name: WEBHOOK_FIELD_VALIDATORS[name](value) for name, value in given.items() if value is not _UNSET}
    if changes.get("service_uri", webhook.service_uri) != webhook.service_uri:
        if "secret" not in changes:
            raise InvalidInput("Changing the service URI needs the secret again in the same request (the custom "
                               "headers too, if the new receiver should get them: they are dropped otherwise).",
                               field="secret")
        changes.setdefault("custom_headers", {})
    if region is not _UNSET:
        changes["region"] = webhook_resolve_region(registry=webhook.registry, region=region)
    before = webhook_activity_values(webhook)
    secret_changed = changes.get("secret", webhook.secret) != webhook.secret
    for name, value in changes.items():
        setattr(webhook, name, value)
    if changes:
        with transaction.atomic():
            webhook.save(update_fields=[*changes, "updated_at"])
            after = webhook_activity_values(webhook)
            detail = {key: {"from": before[key], "to": after[key]} for key in after if after[key] != before[key]}
            if secret_changed:
                detail["new_secret"] = True  # that it changed, never the value
            if detail:
                activity_record(registry=webhook.registry, actor=actor, action=ActivityAction.WEBHOOK_UPDATE,
                                target=webhook.name, detail=detail)
    return webhook


def webhook_activity_values(webhook: Webhook) -> dict:
    """What the activity log may keep of a webhook: no secret, no header values, the service URI's origin only."""
    return {"region": webhook.region.name, "service_uri_host": webhook_service_uri_host(webhook),
            "actions": list(webhook.actions), "scope": webhook.scope, "enabled": webhook.enabled,
            "custom_header_names": sorted(webhook.custom_headers)}


def webhook_delete(*, webhook: Webhook, actor=None) -> None:
    """Delete the webhook and its delivery log; queued attempts find no row and do nothing."""
    with transaction.atomic():
        activity_record(registry=webhook.registry, actor=actor, action=ActivityAction.WEBHOOK_DELETE,
                        target=webhook.name, detail={"region": webhook.region.name})
        webhook.delete()


def webhook_ping(*, webhook: Webhook, actor=None) -> WebhookDelivery:
    """Queue a ping delivery (sent even when the webhook is disabled: it tests the receiver)."""
    with transaction.atomic():
        delivery = _delivery_queue(webhook, event_id=uuid.uuid4(), action=WebhookAction.PING,
                                   timestamp=timezone.now(), target={})
        activity_record(registry=webhook.registry, actor=actor, action=ActivityAction.WEBHOOK_PING,
                        target=webhook.name, detail={"delivery": delivery.pk})
        return delivery


def webhook_delivery_get(*, webhook: Webhook, delivery_id) -> WebhookDelivery:
    try:
        return webhook.deliveries.get(pk=int(delivery_id))
    except (TypeError, ValueError, OverflowError, WebhookDelivery.DoesNotExist):
        raise NotFound(f"Webhook '{webhook.name}' has no delivery {delivery_id}.") from None


def webhook_redeliver(*, delivery: WebhookDelivery, actor=None) -> WebhookDelivery:
    """Send a finished delivery again as a new delivery (its own attempts and log), with the same body and
    event id, so a receiver that de-duplicates on "id" sees the same event. It goes to the webhook's current
    service URI, signed with its current secret, even when the webhook is disabled (it was asked for)."""
    if delivery.state == WebhookDeliveryState.PENDING:
        raise Conflict(f"Delivery {delivery.pk} is still being attempted; redeliver it once it has succeeded "
                       "or failed.", field="delivery")
    webhook = delivery.webhook
    with transaction.atomic():
        body = delivery.request_body
        again = WebhookDelivery.objects.create(
            webhook=webhook, event_id=delivery.event_id, action=delivery.action, request_body=body,
            request_headers=webhook_logged_headers(webhook, webhook_request_headers(webhook, webhook_raw_body(body))),
            redelivery_of=delivery,
        )
        task_send_on_commit(DELIVER_WEBHOOK_TASK, kwargs={"delivery_id": again.pk},
                            queue=region_queue(webhook.region.name))
        activity_record(registry=webhook.registry, actor=actor, action=ActivityAction.WEBHOOK_REDELIVER,
                        target=webhook.name, detail={"delivery": again.pk, "redelivery_of": delivery.pk})
    return again


def webhook_scope_matches(scope: str, *, repository: str, tag: str | None) -> bool:
    """Does a normalised scope cover this repository (without the registry prefix) and tag?"""
    if not scope:
        return True
    scope_repository, _, scope_tag = scope.partition(":")
    if scope_repository != repository:
        return False
    return scope_tag == "*" or (bool(tag) and scope_tag == tag)


def webhook_notify(*, registry_id: int, region_name: str, action: str, target: dict,
                   request: dict | None = None) -> list[WebhookDelivery]:
    """Queue a delivery for every enabled webhook of the registry bound to region_name whose actions include
    `action` ("push", "delete", "replicated") and whose scope matches target["repository"]/target.get("tag").
    Sent on commit.

    target is as Distribution reports it (repository WITH the registry prefix, tag, digest, mediaType,
    size); the prefix is stripped for matching and in the body. An optional `request` dict is passed
    through as the body's "request". Returns the deliveries created (one event id shared by all).
    """
    if action not in WEBHOOK_SUBSCRIBABLE_ACTIONS:
        raise InvalidInput(f"Unknown webhook action '{action}'.", field="action")
    # The webhooks first, with their registry: called for every copy that lands, and most registries have none.
    candidates = list(Webhook.objects.filter(registry_id=registry_id, region__name=region_name, enabled=True)
                      .select_related("region", "registry"))
    if not candidates:
        return []
    repository = str(target.get("repository") or "")
    prefix = candidates[0].registry.repository_prefix
    if not repository.lower().startswith(prefix):
        return []  # not this registry's repository
    repository = repository[len(prefix):]
    tag = target.get("tag") or None
    webhooks = [webhook for webhook in candidates
                if action in webhook.actions and webhook_scope_matches(webhook.scope, repository=repository, tag=tag)]
    if not webhooks:
        return []
    body_target = {"mediaType": target.get("mediaType"), "size": target.get("size"), "digest": target.get("digest"),
                   "repository": repository, "tag": tag}
    event_id, now = uuid.uuid4(), timezone.now()
    with transaction.atomic():
        return [_delivery_queue(webhook, event_id=event_id, action=action, timestamp=now, target=body_target,
                                request=request) for webhook in webhooks]


def _delivery_queue(webhook: Webhook, *, event_id, action, timestamp, target, request=None) -> WebhookDelivery:
    body = {"id": str(event_id), "timestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "action": str(action), "target": target, "region": webhook.region.name}
    if request:
        body["request"] = request
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event_id=event_id, action=action, request_body=body,
        request_headers=webhook_logged_headers(webhook, webhook_request_headers(webhook, webhook_raw_body(body))),
        request_id=current_request_id(),
    )
    task_send_on_commit(DELIVER_WEBHOOK_TASK, kwargs={"delivery_id": delivery.pk},
                        queue=region_queue(webhook.region.name))
    return delivery


# --- delivery ------------------------------------------------------------------------------------

def webhook_raw_body(body: dict) -> bytes:
    """The exact bytes sent and signed: compact JSON with sorted keys, so every retry signs the same bytes."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def webhook_request_headers(webhook: Webhook, raw_body: bytes) -> dict[str, str]:
    return {**webhook.custom_headers, "Content-Type": "application/json", "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: webhook_signature(webhook.secret, raw_body)}


def webhook_logged_headers(webhook: Webhook, headers: dict[str, str]) -> dict[str, str]:
    """Headers as the delivery log keeps them: custom header values (often credentials) redacted."""
    return {name: REDACTED if name in webhook.custom_headers else value for name, value in headers.items()}


@dataclass
class _Answer:
    status: int | None = None
    body: str = ""
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def response_excerpt(data: bytes) -> str:
    """What the delivery log keeps of an answer: at most RESPONSE_EXCERPT_CHARS characters, line breaks and
    tabs as spaces, other control and format characters (bidi overrides included) removed."""
    text = data.decode("utf-8", "replace")
    kept = []
    for char in text:
        if char in "\t\r\n":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(char)
        if len(kept) >= RESPONSE_EXCERPT_CHARS:
            break
    return "".join(kept).strip()


def _read_excerpt(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= RESPONSE_EXCERPT_CHARS * 4:
            break
    return response_excerpt(data[:RESPONSE_EXCERPT_CHARS * 4])


def _post(url: str, raw_body: bytes, headers: dict[str, str]) -> _Answer:
    try:
        url = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return _Answer(error=f"The service URI cannot be used: {exc}")
    # Every connection, the first and each redirect hop, goes through the outbound guard.
    transport = guarded_transport(outbound_guard())
    with httpx.Client(timeout=settings.WEBHOOK_HTTP_TIMEOUT, follow_redirects=False, transport=transport) as http:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with http.stream("POST", url, content=raw_body, headers=headers) as response:
                    status, excerpt, location = response.status_code, _read_excerpt(response), \
                        response.headers.get("location")
            except OutboundAddressRefused as refused:
                return _Answer(error=f"Not sent: {refused}.")  # no response to keep, and nothing to retry
            except (UnicodeEncodeError, httpx.LocalProtocolError) as exc:
                # Headers stored before they were checked as HTTP field values: no retry can send them.
                return _Answer(error=f"The request cannot be sent: {exc}")
            except httpx.TimeoutException as exc:
                return _Answer(error=f"Timed out after {settings.WEBHOOK_HTTP_TIMEOUT:g} s: {exc or type(exc).__name__}",
                               retryable=True)
            except httpx.HTTPError as exc:
                return _Answer(error=f"Cannot reach {url.host}: {exc or type(exc).__name__}", retryable=True)
            if 300 <= status < 400 and location:
                target = url.join(location)
                if status in (307, 308) and _same_origin(target, url):
                    url = target
                    continue
                return _Answer(status=status, body=excerpt, error=(
                    f"The receiver redirected ({status}) to {target.scheme}://{target.host}; not followed: only "
                    "307/308 redirects to the same scheme, host and port are."))
            if 200 <= status < 300:
                return _Answer(status=status, body=excerpt)
            return _Answer(status=status, body=excerpt, error=f"The receiver answered {status}.",
                           retryable=status in (408, 429) or status >= 500)
    return _Answer(status=status, body=excerpt, error=f"More than {MAX_REDIRECTS} redirects.")


def webhook_delivery_attempt(*, delivery_id: int) -> float | None:
    """Make one attempt at a pending delivery and log it on the row.

    Returns the seconds to wait before the next attempt, or None when the delivery is finished
    (succeeded, failed for good, gone, or another worker is making this attempt).
    """
    delivery = WebhookDelivery.objects.select_related("webhook__region").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != WebhookDeliveryState.PENDING:
        return None
    attempt = delivery.attempts + 1
    started_at = timezone.now()
    # Compare-and-swap on the attempt counter: a duplicated task message cannot make the same attempt twice.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=WebhookDeliveryState.PENDING, attempts=delivery.attempts,
    ).update(attempts=F("attempts") + 1, last_attempt_at=started_at, next_attempt_at=None)
    if not claimed:
        return None
    webhook = delivery.webhook
    raw_body = webhook_raw_body(delivery.request_body)
    headers = webhook_request_headers(webhook, raw_body)
    clock = time.monotonic()
    # A resent delivery (the recovery sweep) runs outside its request: its row says which one it was.
    with log_context(request_id=delivery.request_id, region=webhook.region.name):
        answer = _post(webhook.service_uri, raw_body, headers)
    duration_ms = int((time.monotonic() - clock) * 1000)

    countdown = None
    policy = retry_policy("WEBHOOK")
    if answer.ok:
        state = WebhookDeliveryState.SUCCEEDED
    elif answer.retryable and policy.may_retry(attempt - 1):
        state = WebhookDeliveryState.PENDING
        countdown = policy.countdown(attempt - 1)
    else:
        state = WebhookDeliveryState.FAILED
    error = answer.error
    if countdown is not None:
        error = f"{error} Attempt {attempt} of {policy.max_retries + 1}; retrying in {countdown:.3g} s."
    elif state == WebhookDeliveryState.FAILED and answer.retryable:
        error = f"{error} Gave up after {attempt} attempts."
    log_entry = {"attempt": attempt, "at": started_at.isoformat(), "status": answer.status,
                 "duration_ms": duration_ms, "error": answer.error}
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        state=state, response_status=answer.status, response_body=answer.body, error=error,
        duration_ms=duration_ms, attempt_log=[*delivery.attempt_log, log_entry],
        request_headers=webhook_logged_headers(webhook, headers),
        delivered_at=timezone.now() if state == WebhookDeliveryState.SUCCEEDED else None,
        next_attempt_at=started_at + timedelta(seconds=countdown) if countdown is not None else None,
    )
    outcome = "retrying" if countdown is not None else state
    metrics.webhook_deliveries.labels(region=webhook.region.name, outcome=outcome).inc()
    return countdown
