"""Region health: probes record each region's state; reads use the record and never the network.

Beat runs `region_health_probe` every REGION_HEALTH_INTERVAL seconds; the write rules that need a
region to answer re-check that one region with `region_health_check`.
"""
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.conf import settings
from django.db.models import Case, F, Value, When
from django.utils import timezone

from ..choices import HEALTH_STATE_BY_PROBE, HealthState, RegionHealthState, ReplicaDisplayState, ReplicaStatus
from ..models import Region, RegionHealth, Replica

PROBE_USER_AGENT = "georegistry-health/1.0"
MAX_PROBE_THREADS = 16
LAST_ERROR_LENGTH = RegionHealth._meta.get_field("last_error").max_length


@dataclass(frozen=True)
class ProbeResult:
    state: RegionHealthState
    error: str = ""


def region_is_deployed(region: Region) -> bool:
    """A data plane is deployed there: the region is enabled and has an endpoint. Only those are probed."""
    return bool(region.enabled and region.endpoint)


def _probe(endpoint: str) -> ProbeResult:
    # Any answer below 500 means the registry serves (401 is a registry that wants a token).
    try:
        response = httpx.get(endpoint.rstrip("/") + "/v2/", timeout=settings.REGION_HEALTH_TIMEOUT,
                             headers={"User-Agent": PROBE_USER_AGENT})
    except httpx.HTTPError as error:
        return ProbeResult(RegionHealthState.DOWN, f"{type(error).__name__}: {error}"[:LAST_ERROR_LENGTH])
    if response.status_code >= 500:
        return ProbeResult(RegionHealthState.DOWN, f"GET /v2/ answered {response.status_code}")
    return ProbeResult(RegionHealthState.UP)


def _record(region: Region, result: ProbeResult, *, now) -> None:
    """One UPDATE; `since` moves only when the state changes, so it says how long the region has been so."""
    failures = F("consecutive_failures") + 1 if result.state == RegionHealthState.DOWN else Value(0)
    # Guarded by the probed endpoint: a probe that raced a change of endpoint records nothing.
    RegionHealth.objects.filter(region_id=region.pk, region__endpoint=region.endpoint, region__enabled=True).update(
        state=result.state,
        since=Case(When(state=result.state, then=F("since")), default=Value(now)),
        checked_at=now,
        last_error=result.error,
        consecutive_failures=failures,
    )


def region_health_probe(*, regions: Iterable[Region] | None = None) -> dict[int, RegionHealthState]:
    """Probe every deployed region (or those given) concurrently and record what each answered.

    Regions without an endpoint or disabled are recorded `unknown` without a probe.
    Returns {region id: state}.
    """
    regions = list(Region.objects.only("pk", "enabled", "endpoint") if regions is None else regions)
    deployed = [r for r in regions if region_is_deployed(r)]
    not_deployed = [r.pk for r in regions if not region_is_deployed(r)]
    now = timezone.now()
    if not_deployed:
        RegionHealth.objects.filter(region_id__in=not_deployed).exclude(state=RegionHealthState.UNKNOWN).update(
            state=RegionHealthState.UNKNOWN, since=now, checked_at=now, last_error="", consecutive_failures=0)
    states = {pk: RegionHealthState.UNKNOWN for pk in not_deployed}
    if not deployed:
        return states
    RegionHealth.objects.bulk_create([RegionHealth(region_id=r.pk, since=now) for r in deployed],
                                     ignore_conflicts=True)
    # The probes run in threads; the records are written here, on this thread's database connection.
    with ThreadPoolExecutor(max_workers=min(MAX_PROBE_THREADS, len(deployed))) as pool:
        results = list(pool.map(lambda region: _probe(region.endpoint), deployed))
    now = timezone.now()
    for region, result in zip(deployed, results):
        _record(region, result, now=now)
        states[region.pk] = result.state
    return states


def region_health_check(region: Region) -> bool:
    """Probe this one region now, record the result, and say whether it is available (deployed and up)."""
    return region_health_probe(regions=[region])[region.pk] == RegionHealthState.UP


def region_health_reset(*, region: Region) -> None:
    """Forget what was seen of the region's registry (e.g. its endpoint changed): unknown until probed."""
    RegionHealth.objects.update_or_create(region_id=region.pk, defaults={
        "state": RegionHealthState.UNKNOWN, "since": timezone.now(), "checked_at": None, "last_error": "",
        "consecutive_failures": 0,
    })


# ---- what people and the API are told (reads of the record only) --------------------------


@dataclass(frozen=True)
class HealthView:
    """A region's recorded health as the API's `health` object: state, since, checked_at, error."""

    state: HealthState
    since: datetime | None
    checked_at: datetime | None
    error: str

    def as_dict(self) -> dict:
        return {"state": self.state.value, "since": self.since, "checked_at": self.checked_at, "error": self.error}


def recorded_health(region: Region) -> RegionHealth | None:
    """The region's record (select_related("health") or "region__health" avoids a query); None if never probed."""
    try:
        return region.health
    except RegionHealth.DoesNotExist:
        return None


def region_health_view(region: Region) -> HealthView:
    record = recorded_health(region)
    if record is None:
        return HealthView(HealthState.UNKNOWN, None, None, "")
    return HealthView(HEALTH_STATE_BY_PROBE[RegionHealthState(record.state)], record.since, record.checked_at,
                      record.last_error)


@dataclass(frozen=True)
class ReplicaDisplay:
    """How a replica is shown in every table, badge, list and popup (and the API's `display_state`)."""

    state: ReplicaDisplayState
    message: str  # the status line: why it is unreachable, else the replica's own status message
    health: HealthView

    @property
    def colour(self) -> str:
        return self.state.colour

    @property
    def label(self) -> str:
        return self.state.label

    @property
    def unreachable(self) -> bool:
        return self.state == ReplicaDisplayState.UNREACHABLE


def unreachable_message(region: Region, health: HealthView) -> str:
    since = f" since {health.since:%H:%M:%S} UTC" if health.since else ""
    error = f": {health.error}" if health.error else ""
    return f"Region {region.name} is unreachable{since}{error}"


def replica_display_state(replica: Replica) -> ReplicaDisplay:
    """The one rule: a replica whose region's last probe failed is shown unreachable, whatever its status says
    (a deleting one stays deleting: its status message says it waits for the region)."""
    health = region_health_view(replica.region)
    status = ReplicaStatus(replica.status)
    if health.state == HealthState.UNREACHABLE and status != ReplicaStatus.DELETING:
        message = unreachable_message(replica.region, health)
        if replica.status_message:
            message += f". Last status ({status.label.lower()}): {replica.status_message}"
        return ReplicaDisplay(ReplicaDisplayState.UNREACHABLE, message, health)
    return ReplicaDisplay(ReplicaDisplayState(status.value), replica.status_message, health)
