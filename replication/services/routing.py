"""The global endpoint's rules: which region a client is in, which replicas take its traffic, in what
order, which digest a tag stands for, and the counters of what was decided.

Everything here reads recorded state (replica status, `RegionHealth`, events); nothing probes the
network, so a dead region costs a routing decision nothing.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from ..choices import (
    RegionHealthState,
    RegistryEventAction,
    ReplicaStatus,
    RoutingDecision,
    RoutingExclusion,
)
from ..client_address import ip_address_or_none, networks_parse
from ..exceptions import InvalidInput, NotFound
from ..models import (
    Region,
    RegionHealth,
    Registry,
    RegistryEvent,
    Replica,
    RoutedPush,
    RoutingCounter,
)

EARTH_RADIUS_KM = 6371.0
ROUTABLE_STATUSES = frozenset({ReplicaStatus.READY, ReplicaStatus.DEGRADED})


# ---- the client's region --------------------------------------------------------------------


@lru_cache(maxsize=8)
def client_networks(text: str) -> tuple:
    """CLIENT_NETWORKS parsed, most specific network first (so 10.1.0.0/16 beats 10.0.0.0/8)."""
    return tuple(sorted(networks_parse(text, with_region=True), key=lambda entry: -entry[0].prefixlen))


def client_region_name(*, address: str) -> str:
    """The region of CLIENT_NETWORKS that holds `address`, else CLIENT_DEFAULT_REGION (may be empty)."""
    ip = ip_address_or_none(address)
    if ip is not None:
        for network, region in client_networks(settings.CLIENT_NETWORKS):
            if ip.version == network.version and ip in network:
                return region
    return settings.CLIENT_DEFAULT_REGION


# ---- which replicas take traffic ------------------------------------------------------------


def great_circle_km(a: Region, b: Region) -> float:
    """Haversine distance between two regions' coordinates."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class ReplicaRoute:
    replica: Replica
    distance_km: float
    takes_traffic: bool
    reason: str  # a RoutingExclusion value, or "" (degraded replicas take traffic and say "catching up")

    @property
    def region(self) -> Region:
        return self.replica.region

    @property
    def cooling_down(self) -> bool:
        return self.reason == RoutingExclusion.COOLING_DOWN


def replica_route_state(replica: Replica, *, now: dt.datetime) -> tuple[bool, str]:
    """(takes traffic, why not / note) for one replica, from its recorded status and its region's health."""
    region = replica.region
    if not replica.region_endpoint_enabled or not region.endpoint or not region.enabled:
        return False, RoutingExclusion.ROUTING_OFF
    if replica.status not in ROUTABLE_STATUSES:
        return False, RoutingExclusion.NOT_READY
    health = _recorded_health(region)
    if health is None or health.state != RegionHealthState.UP:
        return False, RoutingExclusion.UNHEALTHY
    if now - health.since < dt.timedelta(seconds=settings.ROUTING_FAILBACK_COOLDOWN):
        return False, RoutingExclusion.COOLING_DOWN
    if replica.status == ReplicaStatus.DEGRADED:
        return True, RoutingExclusion.CATCHING_UP
    return True, ""


def _recorded_health(region: Region) -> RegionHealth | None:
    try:
        return region.health
    except RegionHealth.DoesNotExist:
        return None


def registry_for_repository(repository: str) -> Registry:
    """The registry a repository belongs to: its first path segment, case-insensitive."""
    name = repository.partition("/")[0]
    registry = Registry.objects.filter(name__iexact=name).select_related("home_region").first()
    if registry is None or "/" not in repository:
        raise NotFound(f"Repository '{repository}' is in no registry.")
    return registry


def registry_routes(*, registry: Registry, client_region: str = "", now: dt.datetime | None = None) -> list[ReplicaRoute]:
    """Every replica of the registry with its routing state, nearest to `client_region` first.

    An unknown or empty client region counts as the registry's home region.
    """
    now = now or timezone.now()
    replicas = list(Replica.objects.filter(registry=registry).select_related("region", "region__health"))
    origin = next((r.region for r in replicas if r.region.name == client_region), None)
    if origin is None and client_region:
        origin = Region.objects.filter(name=client_region).first()
    origin = origin or registry.home_region
    routes = []
    for replica in replicas:
        takes_traffic, reason = replica_route_state(replica, now=now)
        routes.append(ReplicaRoute(replica=replica, distance_km=great_circle_km(origin, replica.region),
                                   takes_traffic=takes_traffic, reason=reason))
    routes.sort(key=lambda route: (route.distance_km, route.region.name))
    return routes


def routing_candidates(routes: list[ReplicaRoute]) -> list[ReplicaRoute]:
    """The replicas a request may use, in order: those that take traffic, nearest first; when none does,
    those only cooling down (a region back up too recently beats no answer at all)."""
    routable = [route for route in routes if route.takes_traffic]
    return routable or [route for route in routes if route.cooling_down]


# ---- never stale: which digest a tag stands for ---------------------------------------------


@dataclass(frozen=True)
class TagHead:
    digest: str
    region_id: int
    pushed_at: dt.datetime


def tag_latest_push(*, registry: Registry, repository: str, tag: str) -> TagHead | None:
    """The digest of the tag's latest user push (a registry event, or a push this endpoint forwarded,
    whichever is later), or None when it is unknown or a later delete removed that digest."""
    return _tag_states(registry=registry, repository=repository, tag=tag).get(tag)


def _tag_states(*, registry: Registry, repository: str, tag: str = "") -> dict[str, TagHead | None]:
    """{tag: its latest known state} for one tag, or every tag of the repository when `tag` is empty: the
    TagHead of its latest user push, or None when a later user delete removed that digest. Tags with no
    known push are absent. The one place that says which digest a tag stands for (pulls and tag lists)."""
    events = RegistryEvent.objects.filter(registry=registry, repository=repository, action=RegistryEventAction.PUSH,
                                          from_replication=False).exclude(tag="")
    routed = RoutedPush.objects.filter(registry=registry, repository=repository)
    if tag:
        events, routed = events.filter(tag=tag), routed.filter(tag=tag)
    heads: dict[str, TagHead] = {}
    # Oldest first, so the latest (the highest id on a tie) is what stays; a routed push replaces an event's
    # head only when strictly later (the region's own event is the better record of the same push).
    for name, digest, region_id, at in events.order_by("timestamp", "id").values_list(
            "tag", "digest", "region_id", "timestamp"):
        heads[name] = TagHead(digest, region_id, at)
    event_heads = dict(heads)
    for name, digest, region_id, at in routed.order_by("pushed_at", "id").values_list(
            "tag", "digest", "region_id", "pushed_at"):
        if name not in event_heads or at > event_heads[name].pushed_at:
            heads[name] = TagHead(digest, region_id, at)
    last_deleted: dict[str, dt.datetime] = {}
    deletes = RegistryEvent.objects.filter(registry=registry, repository=repository, action=RegistryEventAction.DELETE,
                                           from_replication=False, digest__in={h.digest for h in heads.values()})
    for digest, at in deletes.values_list("digest", "timestamp"):
        last_deleted[digest] = max(at, last_deleted.get(digest, at))
    return {name: None if last_deleted.get(head.digest, head.pushed_at) > head.pushed_at else head
            for name, head in heads.items()}


# ---- never stale: which tags a repository has --------------------------------------------------


TAG_PAGE_MAX = 1000  # Distribution's limit on `n` for a tag list


def repository_tag_list(*, registry: Registry, repository: str, replica_tags: list[str]) -> list[str]:
    """The repository's tags, sorted: the chosen replica's, plus every tag whose latest user push is known
    and live (pushed elsewhere a moment ago, not replicated here yet), minus those a later delete removed
    (the replica may not have seen that delete yet) -- the rule `tag_latest_push` applies to a pull."""
    states = _tag_states(registry=registry, repository=repository)
    known = {name for name, head in states.items() if head is not None}
    deleted = {name for name, head in states.items() if head is None}
    return sorted((set(replica_tags) | known) - deleted)


@dataclass(frozen=True)
class TagPage:
    tags: list[str]
    next_last: str  # the `last` of the next page, or "" when this page is the end
    number: int | None


def tag_list_page(*, tags: list[str], number: str | None, last: str = "") -> TagPage:
    """The OCI page of a sorted tag list: at most `number` (`n`) tags after `last`. A non-numeric, negative
    or too large `n` is InvalidInput (Distribution's PAGINATION_NUMBER_INVALID)."""
    limit = None
    if number:  # an empty `n` is no `n`, as in Distribution
        if not number.isdigit() or int(number) > TAG_PAGE_MAX:
            raise InvalidInput(f"n must be a whole number from 0 to {TAG_PAGE_MAX}, not '{number}'.", field="n")
        limit = int(number)
    after = [name for name in tags if name > last] if last else list(tags)
    if limit is None or len(after) <= limit:
        return TagPage(tags=after, next_last="", number=limit)
    page = after[:limit]
    return TagPage(tags=page, next_last=page[-1] if page else "", number=limit)


def routed_push_record(*, registry: Registry, region: Region, repository: str, tag: str, digest: str) -> RoutedPush:
    return RoutedPush.objects.create(registry=registry, region=region, repository=repository, tag=tag,
                                     digest=digest, pushed_at=timezone.now())


# ---- counters ---------------------------------------------------------------------------------


_pending_counts: Counter = Counter()
_pending_lock = threading.Lock()
_last_flush = [0.0]


def routing_count(*, region: Region, decision: RoutingDecision) -> None:
    """Count one decision. Kept in memory and written at most every ROUTING_COUNTER_FLUSH_SECONDS (one
    UPDATE per region and decision), so a busy endpoint does not take the database's write lock per request."""
    with _pending_lock:
        _pending_counts[(region.pk, str(decision))] += 1
        due = time.monotonic() - _last_flush[0] >= settings.ROUTING_COUNTER_FLUSH_SECONDS
        if due:
            batch = dict(_pending_counts)
            _pending_counts.clear()
            _last_flush[0] = time.monotonic()
    if due:
        _counts_write(batch)


def routing_counts_flush() -> None:
    """Write what is still in memory (at process exit)."""
    with _pending_lock:
        batch = dict(_pending_counts)
        _pending_counts.clear()
    _counts_write(batch)


def _counts_write(batch: dict) -> None:
    for (region_id, decision), count in batch.items():
        if not RoutingCounter.objects.filter(region_id=region_id, decision=decision).update(count=F("count") + count):
            counter, created = RoutingCounter.objects.get_or_create(region_id=region_id, decision=decision,
                                                                    defaults={"count": count})
            if not created:
                RoutingCounter.objects.filter(pk=counter.pk).update(count=F("count") + count)


def routing_counters(*, regions=None) -> dict[str, dict[str, int]]:
    """{region name: {decision: count}} with every decision present."""
    counters = RoutingCounter.objects.select_related("region")
    if regions is not None:
        counters = counters.filter(region__in=regions)
    result: dict[str, dict[str, int]] = {}
    for counter in counters:
        result.setdefault(counter.region.name, {d.value: 0 for d in RoutingDecision})[counter.decision] = counter.count
    return result
