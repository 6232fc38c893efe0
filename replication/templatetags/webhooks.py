"""Template helpers for the webhooks panel: rows for a registry, and delivery state badges."""
import json
from datetime import datetime

from django import template
from django.utils.html import format_html

from ..choices import WebhookDeliveryState
from ..services.webhooks import webhook_panel, webhook_service_uri_host

register = template.Library()


@register.simple_tag
def registry_webhooks(registry, deliveries_per_webhook=5):
    """[WebhookPanelRow(webhook, deliveries)], so the panel needs nothing but `registry` in its context."""
    return webhook_panel(registry=registry, deliveries_per_webhook=deliveries_per_webhook)


@register.filter
def service_uri_host(webhook) -> str:
    return webhook_service_uri_host(webhook)


@register.simple_tag
def delivery_badge(state):
    choice = WebhookDeliveryState(state)
    colour = choice.colour
    text = "#1f2328" if choice == WebhookDeliveryState.PENDING else "#ffffff"
    return format_html('<span class="badge status-{}" style="--badge-colour: {}; color: {}">{}</span>',
                       choice.value, colour, text, choice.label)


@register.filter
def json_pretty(value) -> str:
    """A delivery's stored JSON (body, headers) indented for reading; escaped by the template like any text."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def attempt_time(value) -> str:
    """An attempt log's ISO time as 'YYYY-MM-DD HH:MM:SS' (UTC as stored); the text unchanged if it is not one."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return str(value)
