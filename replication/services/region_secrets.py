"""Each region's events secret: the bearer its registry sends with every notification.

Random (never derived from settings), created the first time the region needs one (its endpoint
is recorded or its registry's config is written), stored sealed (secret_box, Fernet), and
rotatable: after `region_events_secret_rotate` the previous secret is still accepted until
`region_events_secret_retire`, so a registry keeps delivering while it restarts with the new one.
"""
import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Region, RegionEventsSecret
from ..secret_box import SecretUnreadable, secret_open, secret_seal


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def region_events_secret(*, region: Region) -> str:
    """The region's current events secret, created on first use."""
    record = RegionEventsSecret.objects.filter(region=region).first()
    if record is None:
        try:
            with transaction.atomic():
                record = RegionEventsSecret.objects.create(region=region, current=secret_seal(_new_secret()))
        except IntegrityError:  # created meanwhile by another process: use theirs
            record = RegionEventsSecret.objects.get(region=region)
    return secret_open(record.current)


def region_events_secret_rotate(*, region: Region) -> str:
    """A new current secret; the old one stays accepted until retired. Returns the new secret."""
    region_events_secret(region=region)
    new = _new_secret()
    with transaction.atomic():
        record = RegionEventsSecret.objects.select_for_update().get(region=region)
        record.previous, record.current, record.rotated_at = record.current, secret_seal(new), timezone.now()
        record.save(update_fields=["previous", "current", "rotated_at"])
    return new


def region_events_secret_retire(*, region: Region) -> bool:
    """Stop accepting the previous secret; False when there was none."""
    return bool(RegionEventsSecret.objects.filter(region=region).exclude(previous="").update(previous=""))


def region_events_authenticate(*, region_name: str, authorization: str | None) -> Region | None:
    """The region, when `Authorization: Bearer <secret>` matches its current (or not yet retired previous)
    secret; None otherwise. One query: the intake answers a registry that waits for it."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not region_name:
        return None
    record = (RegionEventsSecret.objects.select_related("region")
              .filter(region__name=str(region_name).lower()).first())
    if record is None:
        return None
    accepted = []
    for sealed in (record.current, record.previous):
        if sealed:
            try:
                accepted.append(secret_open(sealed))
            except SecretUnreadable:
                continue  # sealed under a key that is gone: that secret can no longer be checked
    # Compare with every accepted secret, so the time taken does not say which one matched.
    matches = [hmac.compare_digest(token.encode(), secret.encode()) for secret in accepted]
    return record.region if any(matches) else None
