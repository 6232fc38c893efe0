"""Template helpers for the portal: status badges and money, with colours read from choices.py."""
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from ..choices import (
    IMAGE_REPLICATION_STATUS_COLOURS,
    JOB_STATE_COLOURS,
    REGION_STATE_COLOURS,
    REPLICA_DISPLAY_STATE_COLOURS,
    REPLICA_STATUS_COLOURS,
    WEBHOOK_DELIVERY_STATE_COLOURS,
    ImageReplicationStatus,
    JobState,
    RegionState,
    ReplicaDisplayState,
    ReplicaStatus,
    WebhookDeliveryState,
)
from ..services.activity import activity_summary as _activity_summary

register = template.Library()

# The enumerations whose values can be shown as a badge, in the order a value is looked up.
_BADGE_CHOICES = [(ReplicaStatus, REPLICA_STATUS_COLOURS), (RegionState, REGION_STATE_COLOURS),
                  (JobState, JOB_STATE_COLOURS), (ImageReplicationStatus, IMAGE_REPLICATION_STATUS_COLOURS),
                  (WebhookDeliveryState, WEBHOOK_DELIVERY_STATE_COLOURS),
                  (ReplicaDisplayState, REPLICA_DISPLAY_STATE_COLOURS)]
_DARK_TEXT, _LIGHT_TEXT = "#1f2328", "#ffffff"


def _choice_and_colour(value) -> tuple[str, str] | None:
    for choices, colours in _BADGE_CHOICES:
        if value in choices.values:
            choice = choices(value)
            return choice.label, colours[choice]
    return None


def _readable_text_colour(background: str) -> str:
    """Dark text on light fills (amber, yellow), white on dark ones, so every badge stays legible."""
    red, green, blue = (int(background.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))

    def linear(channel):
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # White wins when its contrast ratio (1.05 / (L + 0.05)) beats black's ((L + 0.05) / 0.05).
    return _LIGHT_TEXT if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else _DARK_TEXT


@register.simple_tag
def status_badge(value):
    """A coloured badge for a replica status, region state or job state."""
    found = _choice_and_colour(str(value))
    if found is None:
        return format_html('<span class="badge">{}</span>', value)
    label, colour = found
    return format_html(
        '<span class="badge status-{}" data-state="{}" style="--badge-colour: {}; color: {}">{}</span>',
        value, value, colour, _readable_text_colour(colour), label,
    )


@register.filter
def usd(amount) -> str:
    """'$1,234.56' from a Decimal or its string; the input unchanged when it is not a number."""
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return amount
    places = 3 if amount != amount.quantize(Decimal("0.01")) else 2
    return f"${amount:,.{places}f}"


@register.filter
def signed_usd(amount) -> str:
    """'+$16.02' or '−$16.02' for a change in cost."""
    amount = Decimal(str(amount))
    return ("+" if amount >= 0 else "−") + usd(abs(amount))


@register.filter
def ago(moment) -> str:
    """'3 minutes ago', or 'just now' inside the first minute (rather than '0 minutes ago')."""
    if not moment:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def activity_summary(record) -> str:
    """The record's old → new values as one line of plain text (escaped by the template)."""
    return _activity_summary(record)


@register.inclusion_tag("replication/_home_outage_banner.html")
def home_outage_banner(registry):
    """The banner every page of a registry shows while its home region is unreachable (recorded health only)."""
    from ..selectors import registry_home_outage

    return {"outage": registry_home_outage(registry=registry), "registry": registry}

@register.filter
def rough_duration(seconds) -> str:
    """An estimate in words: "under 1 s", "about 40 s", "about 12 min", "about 2.5 h"."""
    if seconds is None or seconds == "":
        return ""
    seconds = float(seconds)
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
