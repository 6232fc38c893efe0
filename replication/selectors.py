"""Reads shaped for pages and the API."""
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from django.db.models import Count, Prefetch, QuerySet

from .choices import ACCESS_ACTIVITY_ACTIONS, ActivityAction, RegionState, RegistryPermission, RoutingDecision
from .exceptions import InvalidInput
from .models import ActivityRecord, Region, Registry, Replica, ReplicationJob
from .pricing import monthly_cost
from .services import routing
from .services.access import registries_visible_to, registry_has_permission
from .services.regions import region_availability


def registry_list(*, user) -> QuerySet[Registry]:
    """The registries `user` may see (a role on them, or staff)."""
    # Explicit order: Django ignores Meta.ordering in GROUP BY queries such as this annotation.
    registries = (Registry.objects.select_related("sku", "home_region").annotate(region_count=Count("replicas"))
                  .order_by("name"))
    return registries_visible_to(user=user, queryset=registries)


def registry_monthly_cost(registry: Registry, *, region_count: int | None = None) -> str:
    if region_count is None:
        region_count = getattr(registry, "region_count", None) or registry.replicas.count()
    return str(monthly_cost(registry.sku.price_per_day_usd, region_count))


def replica_list(*, registry: Registry) -> list[Replica]:
    """Replicas with their latest job attached as `latest_job` (None when there is none)."""
    replicas = list(
        Replica.objects.filter(registry=registry)
        .select_related("region", "registry")
        .prefetch_related(Prefetch("jobs", queryset=ReplicationJob.objects.order_by("-created_at", "-id")))
        .order_by("region__display_name")
    )
    for replica in replicas:
        jobs = list(replica.jobs.all())
        replica.latest_job = jobs[0] if jobs else None
    return replicas


def replica_latest_job(replica: Replica) -> ReplicationJob | None:
    return getattr(replica, "latest_job", None) or replica.jobs.order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class RegionView:
    region: Region
    state: RegionState
    replica: Replica | None
    map_state: "ReplicaMapState | None" = None  # replicas only: see replica_map_state


def registry_map_state(*, registry: Registry) -> list[RegionView]:
    """Every region with its state for this registry: replica (blue), available (green), unavailable (gray)."""
    regions = list(Region.objects.select_related("health"))
    replicas = {r.region_id: r for r in replica_list(registry=registry)}
    available = region_availability(r for r in regions if r.pk not in replicas)
    views = []
    for region in regions:
        if region.pk in replicas:
            state = RegionState.REPLICA
        elif available.get(region.pk):
            state = RegionState.AVAILABLE
        else:
            state = RegionState.UNAVAILABLE
        replica = replicas.get(region.pk)
        map_state = replica_map_state(replica=replica, region_health=region_health_state(region)) if replica else None
        views.append(RegionView(region=region, state=state, replica=replica, map_state=map_state))
    return views


def registry_login_server(registry: Registry) -> str:
    """The name clients log in to: a configured global name, else the global endpoint's host, else the home
    region's registry host."""
    if settings.REGISTRY_LOGIN_SERVER_TEMPLATE:
        return settings.REGISTRY_LOGIN_SERVER_TEMPLATE.format(name=registry.name)
    if settings.GLOBAL_ENDPOINT_URL:
        return urlsplit(settings.GLOBAL_ENDPOINT_URL).netloc
    return urlsplit(registry.home_region.endpoint).netloc


def replica_regional_endpoint(replica: Replica) -> str:
    """A host pinned to one replica (ACR's <name>.<region>.geo.azurecr.io): REGIONAL_ENDPOINT_TEMPLATE, or
    locally the region's own registry, which speaks /v2/ with the same tokens."""
    if settings.REGIONAL_ENDPOINT_TEMPLATE:
        return settings.REGIONAL_ENDPOINT_TEMPLATE.format(name=replica.registry.name, region=replica.region.name)
    return urlsplit(replica.region.endpoint).netloc


def registry_endpoints(*, registry: Registry) -> dict:
    """Like `az acr show-endpoints`: the login server, each replica's regional and data endpoint, and whether
    each replica takes the global endpoint's traffic now (and why not), with its routing counters."""
    routes = routing.registry_routes(registry=registry)
    counters = routing.routing_counters(regions=[route.region for route in routes])
    served = [route for route in sorted(routes, key=lambda r: r.region.name)
              if route.replica.region_endpoint_enabled and route.region.endpoint]
    return {
        "login_server": registry_login_server(registry),
        "regional_endpoints": [{"region": r.region.name, "endpoint": replica_regional_endpoint(r.replica)}
                               for r in served],
        # Where blob bytes come from: the region's data endpoint, else its registry (the global endpoint relays).
        "data_endpoints": [{"region": r.region.name, "endpoint": r.region.data_endpoint or r.region.endpoint}
                           for r in served],
        "routing": [
            {"region": r.region.name, "takes_traffic": r.takes_traffic, "reason": r.reason,
             "counters": counters.get(r.region.name, {d.value: 0 for d in RoutingDecision})}
            for r in sorted(routes, key=lambda r: r.region.name)
        ],
    }


ACTIVITY_LIMIT_DEFAULT, ACTIVITY_LIMIT_MAX = 100, 500


def activity_list(*, registry: Registry, user, action: str | None = None,
                  limit=ACTIVITY_LIMIT_DEFAULT) -> QuerySet[ActivityRecord]:
    """The registry's activity records, newest first. Changes of roles and tokens only for those who may read
    roles and tokens (administer), as their own routes require. An unknown action or a bad limit: InvalidInput."""
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= ACTIVITY_LIMIT_MAX:
        raise InvalidInput(f"limit must be a whole number from 1 to {ACTIVITY_LIMIT_MAX}.", field="limit")
    records = ActivityRecord.objects.filter(registry=registry).order_by("-created_at", "-id")
    if action:
        if action not in ActivityAction.values:
            raise InvalidInput(f"Action '{action}' does not exist; choose one of: {', '.join(ActivityAction.values)}.",
                               field="action")
        records = records.filter(action=action)
    if not registry_has_permission(user=user, registry=registry, permission=RegistryPermission.ADMINISTER):
        records = records.exclude(action__in=ACCESS_ACTIVITY_ACTIONS)
    return records[:limit]


# ---- the map: each replica's state, and the plan of a replica not created yet ------------------

from collections import defaultdict  # noqa: E402  (kept with the block that uses it)
from decimal import Decimal  # noqa: E402

import h3  # noqa: E402
from django.db.models import Sum  # noqa: E402

from .choices import (  # noqa: E402
    ImageReplicationStatus,
    JobKind,
    JobState,
    RegionHealthState,
    ReplicaMapState,
    ReplicaStatus,
)
from .models import ImageReplication, RegionHealth  # noqa: E402

# When no sync has finished yet there is nothing to measure: the page says this figure is assumed.
DEFAULT_SYNC_BYTES_PER_SECOND = 10 * 1024 * 1024
THROUGHPUT_SAMPLE_JOBS = 20  # the latest finished copies of a region that its throughput is measured from


def region_health_state(region: Region) -> RegionHealthState:
    """The stored probe's verdict (no network): unknown when the region was never probed."""
    try:
        return RegionHealthState(region.health.state)
    except RegionHealth.DoesNotExist:
        return RegionHealthState.UNKNOWN


def replica_map_state(*, replica: Replica, region_health: RegionHealthState) -> ReplicaMapState:
    """The one word a replica's hexagon shows. A delete under way wins (the replica is going);
    then a region whose probe says down (whatever the last sync left in `status`, the replica
    cannot be read or written now); then the replica's own status."""
    if replica.status == ReplicaStatus.DELETING:
        return ReplicaMapState.DELETING
    if region_health == RegionHealthState.DOWN:
        return ReplicaMapState.UNREACHABLE
    return ReplicaMapState(replica.status)


def replica_map_state_text(*, replica: Replica, map_state: ReplicaMapState) -> str:
    """The state in words, as the tooltip and the hexagon's accessible name say it."""
    words = map_state.label
    if map_state in (ReplicaMapState.CREATING, ReplicaMapState.SYNCING):
        job = replica_latest_job(replica)
        if job and job.bytes_total:
            words += f" {job.percent_done}%"
    if not replica.region_endpoint_enabled:
        words += ", routing off"
    return words


@dataclass(frozen=True)
class SyncThroughput:
    bytes_per_second: float
    measured_from_jobs: int  # 0: nothing measured yet, DEFAULT_SYNC_BYTES_PER_SECOND is assumed


@dataclass(frozen=True)
class HomeContent:
    """What a new replica would receive, from the recorded state (no registry is asked)."""

    images: int  # tags and untagged manifests complete in the home region
    bytes: int | None  # None: no finished initial sync has measured this registry yet


@dataclass(frozen=True)
class ReplicaPlan:
    region: Region
    distance_km: int
    images: int
    bytes: int | None
    seconds: float | None  # None when the bytes are unknown
    throughput: SyncThroughput
    added_monthly: Decimal
    total_monthly: Decimal


def _job_seconds(job: ReplicationJob) -> float:
    return max((job.finished_at - job.started_at).total_seconds(), 0.001)


def sync_throughputs(*, regions) -> dict[int, SyncThroughput]:
    """Bytes a second into each region, measured over its latest finished copies (bytes_done / duration of
    succeeded jobs); a region with none is measured over every region's, and with none at all it is assumed."""
    regions = list(regions)
    jobs = list(ReplicationJob.objects.filter(
        state=JobState.SUCCEEDED, bytes_done__gt=0, started_at__isnull=False, finished_at__isnull=False,
    ).only("region_id", "bytes_done", "started_at", "finished_at").order_by("-finished_at")[:500])
    by_region = defaultdict(list)
    for job in jobs:
        if len(by_region[job.region_id]) < THROUGHPUT_SAMPLE_JOBS:
            by_region[job.region_id].append(job)

    def measure(sample) -> SyncThroughput:
        if not sample:
            return SyncThroughput(bytes_per_second=DEFAULT_SYNC_BYTES_PER_SECOND, measured_from_jobs=0)
        return SyncThroughput(bytes_per_second=sum(j.bytes_done for j in sample) / sum(_job_seconds(j) for j in sample),
                              measured_from_jobs=len(sample))

    everywhere = measure(jobs[:THROUGHPUT_SAMPLE_JOBS])
    return {region.pk: measure(by_region[region.pk]) if by_region[region.pk] else everywhere for region in regions}


def registry_home_content(*, registry: Registry) -> HomeContent:
    """Images: what the home region holds per the image status rows. Bytes: what the latest finished initial
    sync of this registry copied, plus the event copies into that region since (blob sizes are not recorded
    per image, so this is the closest measured figure); 0 for a registry with nothing recorded at all."""
    images = ImageReplication.objects.filter(registry=registry, region_id=registry.home_region_id,
                                             status=ImageReplicationStatus.COMPLETE).count()
    initial = (ReplicationJob.objects.filter(registry=registry, kind=JobKind.INITIAL_SYNC, state=JobState.SUCCEEDED,
                                             finished_at__isnull=False)
               .exclude(bytes_total=0).order_by("-finished_at").first())
    if initial is None:
        return HomeContent(images=images, bytes=None if images else 0)
    since = ReplicationJob.objects.filter(
        registry=registry, region_id=initial.region_id, kind=JobKind.EVENT_COPY, state=JobState.SUCCEEDED,
        finished_at__gt=initial.finished_at).aggregate(total=Sum("bytes_done"))["total"] or 0
    return HomeContent(images=images, bytes=max(initial.bytes_total, initial.bytes_done) + since)


def region_distance_km(a: Region, b: Region) -> int:
    return round(h3.great_circle_distance((a.latitude, a.longitude), (b.latitude, b.longitude), unit="km"))


def replica_plans(*, registry: Registry, regions) -> list[ReplicaPlan]:
    """What adding a replica in each of `regions` would copy, take and cost, nearest to home first."""
    regions = list(regions)
    content = registry_home_content(registry=registry)
    throughputs = sync_throughputs(regions=regions)
    region_count = registry.replicas.count()
    price = registry.sku.price_per_day_usd
    plans = []
    for region in regions:
        throughput = throughputs[region.pk]
        plans.append(ReplicaPlan(
            region=region, distance_km=region_distance_km(registry.home_region, region),
            images=content.images, bytes=content.bytes,
            seconds=None if content.bytes is None else content.bytes / throughput.bytes_per_second,
            throughput=throughput, added_monthly=monthly_cost(price, 1),
            total_monthly=monthly_cost(price, region_count + 1),
        ))
    return sorted(plans, key=lambda plan: (plan.distance_km, plan.region.name))
