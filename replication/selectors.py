"""Reads shaped for pages and the API."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.utils import timezone

from .choices import (
    ACCESS_ACTIVITY_ACTIONS,
    JOB_KIND_TRIGGERS,
    METRICS_WINDOW_BUCKETS,
    REPLICA_PURGE_TRIGGER,
    SCRUB_SCHEDULE_TRIGGER,
    SCRUB_SCHEDULED,
    WHOLE_REPLICA_JOB_KINDS,
    ActivityAction,
    HealthState,
    ImageReplicationStatus,
    JobKind,
    JobState,
    MetricsWindow,
    RegionHealthState,
    RegionState,
    RegistryPermission,
    ReplicaDisplayState,
    ReplicaStatus,
    ReplicationOrigin,
    RoutingDecision,
    ScrubOutcome,
    ScrubProblem,
)
from .exceptions import InvalidInput
from .models import (ActivityRecord, ImageReplication, Region, Registry, Replica, ReplicationJob, RoutingCounter,
                     ScrubRun)
from .pricing import monthly_cost
from .services import routing
from .services.health import region_health_view, replica_display_state, unreachable_message
from .services.access import registries_visible_to, registry_has_permission
from .services.regions import region_availability
from .sql import EpochHour, EpochSeconds


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
        .select_related("region", "region__health", "registry")
        .prefetch_related(Prefetch("jobs", queryset=ReplicationJob.objects.order_by("-created_at", "-id")))
        .order_by("region__display_name")
    )
    for replica in replicas:
        jobs = list(replica.jobs.all())
        replica.latest_job = jobs[0] if jobs else None
        replica.display = replica_display_state(replica)
        replica.last_failure = replica_last_failure(replica, jobs=jobs)
    scrubs = registry_latest_scrubs(registry=registry)
    for replica in replicas:
        replica.latest_scrub = scrubs.get(replica.region_id)
        replica.scrub_summary = scrub_summary(replica.latest_scrub) if replica.latest_scrub else ""
    return replicas


def replica_latest_job(replica: Replica) -> ReplicationJob | None:
    return getattr(replica, "latest_job", None) or replica.jobs.order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class RegionView:
    region: Region
    state: RegionState
    replica: Replica | None
    map_state: ReplicaDisplayState | None = None  # replicas only: see replica_map_state


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
        map_state = replica_map_state(replica=replica) if replica else None
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


# ---- health shown on the pages (issue 11) ---------------------------------------------------


@dataclass(frozen=True)
class HomeOutage:
    """The registry's home region is unreachable: what still works through the login server, and what waits."""

    region: Region
    message: str  # "Region X is unreachable since …: error"
    serving_regions: list[str]  # the other replicas the login server sends traffic to now


def registry_home_outage(*, registry: Registry) -> HomeOutage | None:
    """None while the home region's last probe answered (or it was never probed); reads records only."""
    home = Region.objects.select_related("health").get(pk=registry.home_region_id)
    health = region_health_view(home)
    if health.state != HealthState.UNREACHABLE:
        return None
    # The replicas the global endpoint would use now (those only cooling down when none takes traffic).
    serving = [route.region.name for route in routing.routing_candidates(routing.registry_routes(registry=registry))
               if route.region.pk != home.pk]
    return HomeOutage(region=home, message=unreachable_message(home, health), serving_regions=serving)


def replica_last_failure(replica: Replica, *, jobs: list[ReplicationJob] | None = None) -> str:
    """Why the last sync failed, while no sync has succeeded since (a retry or a self-repair keeps it
    visible); empty for a replica that is level. `jobs`: its jobs newest first, when already read."""
    if replica.status not in (ReplicaStatus.CREATING, ReplicaStatus.SYNCING, ReplicaStatus.FAILED):
        return ""
    if jobs is None:
        jobs = list(replica.jobs.filter(kind__in=WHOLE_REPLICA_JOB_KINDS).order_by("-created_at", "-id")[:20])
    for job in jobs:
        if job.kind not in WHOLE_REPLICA_JOB_KINDS:
            continue
        if job.state == JobState.SUCCEEDED:
            return ""
        if job.state == JobState.FAILED:
            return job.error
    return ""


@dataclass(frozen=True)
class RegistryHealthSummary:
    """One registry's health for the registry list: replicas ready of all, unreachable regions, images behind."""

    replicas_ready: int
    replicas_total: int
    unreachable_regions: list[str]
    images_pending: int
    images_failed: int

    @property
    def healthy(self) -> bool:
        return (self.replicas_ready == self.replicas_total and not self.unreachable_regions
                and not self.images_pending and not self.images_failed)


def registries_attach_health(registries: list[Registry]) -> list[Registry]:
    """Set `health_summary` on each registry from recorded state (three queries for the whole list)."""
    ids = [registry.pk for registry in registries]
    replicas: dict[int, list[Replica]] = {pk: [] for pk in ids}
    for replica in Replica.objects.filter(registry_id__in=ids).select_related("region", "region__health"):
        replicas[replica.registry_id].append(replica)
    images = {(row["registry_id"], row["status"]): row["count"] for row in
              ImageReplication.objects.filter(registry_id__in=ids, status__in=[ImageReplicationStatus.PENDING,
                                                                                ImageReplicationStatus.FAILED])
              .values("registry_id", "status").annotate(count=Count("id")).order_by()}
    for registry in registries:
        displays = [(replica, replica_display_state(replica)) for replica in replicas[registry.pk]]
        registry.health_summary = RegistryHealthSummary(
            replicas_ready=sum(display.state == ReplicaDisplayState.READY for _, display in displays),
            replicas_total=len(displays),
            unreachable_regions=sorted(replica.region.name for replica, display in displays
                                       if display.health.state == HealthState.UNREACHABLE),
            images_pending=images.get((registry.pk, ImageReplicationStatus.PENDING), 0),
            images_failed=images.get((registry.pk, ImageReplicationStatus.FAILED), 0),
        )
    return registries

# ---- metrics: the registry page's charts, GET registries/{name}/metrics/, and /metrics' stored state -----


@dataclass(frozen=True)
class RegionReplicationSeries:
    region: str
    display_name: str
    images_copied: list[int]  # per bucket: images that became complete in this region by a copy
    lag_seconds_mean: list[float | None]  # per bucket: completed_at − pushed_at of those images (None: no copy)
    lag_seconds_max: list[float | None]


@dataclass(frozen=True)
class ReplicationMetrics:
    window: str
    bucket_seconds: int
    start: datetime
    end: datetime
    buckets: list[datetime]  # the start of each bucket, oldest first
    regions: list[RegionReplicationSeries]


def metrics_window_parse(window) -> MetricsWindow:
    if window not in MetricsWindow.values:
        raise InvalidInput(f"window must be one of: {', '.join(MetricsWindow.values)}.", field="window")
    return MetricsWindow(window)


def registry_replication_metrics(*, registry: Registry, window="24h", now: datetime | None = None
                                 ) -> ReplicationMetrics:
    """Copies that landed in each replica's region and their lag, per hour (24h) or per 6 hours (7d)."""
    return registry_replication_metrics_windows(registry=registry, windows=[window], now=now)[0]


def registry_replication_metrics_windows(*, registry: Registry, windows, now: datetime | None = None
                                         ) -> list[ReplicationMetrics]:
    """The figures of several windows (the registry page draws both) from one scan.

    From the recorded per-image status (ImageReplication rows completed by a copy, i.e. with a source
    region), in two queries whatever the windows: the replicas, and one aggregate per region and hour over
    the widest window, folded into each window's buckets here. Buckets are aligned on UTC multiples of their
    width; the last one holds `now`.
    """
    windows = [metrics_window_parse(window) for window in windows]
    now = now or timezone.now()
    epoch = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
    spans = {}  # window -> (start, end, bucket, count)
    for window in windows:
        hours, bucket_hours = METRICS_WINDOW_BUCKETS[window]
        bucket = timedelta(hours=bucket_hours)
        end = epoch + ((now - epoch) // bucket + 1) * bucket
        spans[window] = (end - timedelta(hours=hours), end, bucket, hours // bucket_hours)
    lag = EpochSeconds("completed_at") - EpochSeconds("pushed_at")
    hourly = (ImageReplication.objects
              .filter(registry=registry, status=ImageReplicationStatus.COMPLETE, source_region__isnull=False,
                      completed_at__gte=min(span[0] for span in spans.values()),
                      completed_at__lt=max(span[1] for span in spans.values()))
              .annotate(hour=EpochHour("completed_at"))
              .values("region_id", "hour")
              .annotate(copied=Count("id"), lag_sum=Sum(lag), lag_max=Max(lag))
              .order_by())
    hourly = [(row["region_id"], epoch + timedelta(hours=row["hour"]), row) for row in hourly]
    replicas = list(Replica.objects.filter(registry=registry).select_related("region")
                    .order_by("region__display_name"))
    figures = []
    for window in windows:
        start, end, bucket, count = spans[window]
        totals: dict[tuple[int, int], list] = {}  # (region id, bucket index) -> [copied, lag sum s, lag max s]
        for region_id, hour, row in hourly:
            if not start <= hour < end:
                continue
            total = totals.setdefault((region_id, int((hour - start) // bucket)), [0, 0.0, 0.0])
            total[0] += row["copied"]
            total[1] += max(row["lag_sum"], 0.0)
            total[2] = max(total[2], row["lag_max"])
        series = []
        for replica in replicas:
            region_totals = [totals.get((replica.region_id, i)) for i in range(count)]
            series.append(RegionReplicationSeries(
                region=replica.region.name, display_name=replica.region.display_name,
                images_copied=[t[0] if t else 0 for t in region_totals],
                lag_seconds_mean=[round(t[1] / t[0], 3) if t else None for t in region_totals],
                lag_seconds_max=[round(t[2], 3) if t else None for t in region_totals],
            ))
        figures.append(ReplicationMetrics(window=window.value, bucket_seconds=int(bucket.total_seconds()),
                                          start=start, end=end, buckets=[start + i * bucket for i in range(count)],
                                          regions=series))
    return figures


@dataclass(frozen=True)
class FleetState:
    """What /metrics reports from stored state, whatever process or host answers the scrape."""

    jobs: list[tuple[str, str, int]]  # (region, job state, count) of queued and running jobs
    region_health: list[tuple[str, str]]  # (region, health state) of regions with a data plane
    replicas: list[tuple[str, str, int]]  # (region, replica status, count)
    images: list[tuple[str, str, int]]  # (region, image replication status, count)
    routing: list[tuple[str, str, int]]  # (region, routing decision, count) of the global endpoint


def fleet_state() -> FleetState:
    """Five grouped queries, whatever the size of the fleet."""
    jobs = (ReplicationJob.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
            .values_list("region__name", "state").annotate(n=Count("id")).order_by())
    health = (Region.objects.exclude(endpoint="").values_list("name", "health__state").order_by("name"))
    replicas = Replica.objects.values_list("region__name", "status").annotate(n=Count("id")).order_by()
    images = ImageReplication.objects.values_list("region__name", "status").annotate(n=Count("id")).order_by()
    routing = RoutingCounter.objects.values_list("region__name", "decision", "count").order_by()
    return FleetState(jobs=list(jobs), region_health=[(name, state or RegionHealthState.UNKNOWN)
                                                      for name, state in health],
                      replicas=list(replicas), images=list(images), routing=list(routing))

# Job history (the jobs page and GET /api/v1/registries/{name}/jobs/)


def registry_job_list(*, registry: Registry, region: str | None = None, state: str | None = None,
                      kind: str | None = None) -> QuerySet[ReplicationJob]:
    """The registry's jobs, newest first, optionally of one region, state and kind; an unknown filter value
    is InvalidInput naming the values there are (the page and the API give the same answer)."""
    jobs = (ReplicationJob.objects.filter(registry=registry).select_related("region", "scrub_run")
            .order_by("-created_at", "-id"))
    if region:
        if not Region.objects.filter(name=region).exists():
            raise InvalidInput(f"Region '{region}' does not exist.", field="region")
        jobs = jobs.filter(region__name=region)
    if state:
        if state not in JobState.values:
            raise InvalidInput(f"State '{state}' does not exist; choose one of: {', '.join(JobState.values)}.",
                               field="state")
        jobs = jobs.filter(state=state)
    if kind:
        if kind not in JobKind.values:
            raise InvalidInput(f"Kind '{kind}' does not exist; choose one of: {', '.join(JobKind.values)}.",
                               field="kind")
        jobs = jobs.filter(kind=kind)
    return jobs


def registry_job_regions(*, registry: Registry) -> list[Region]:
    """Regions the registry's jobs ran in, for the page's region filter."""
    return list(Region.objects.filter(jobs__registry=registry).distinct().order_by("display_name"))


def job_trigger(job: ReplicationJob) -> str:
    """What set the job off, in words: the origin its spec records, else what its kind is run for."""
    spec = job.spec if isinstance(job.spec, dict) else {}
    if spec.get("origin") in ReplicationOrigin.values:
        return ReplicationOrigin(spec["origin"]).label
    if job.kind == JobKind.PURGE and spec.get("remove_replica"):
        return REPLICA_PURGE_TRIGGER
    if job.kind == JobKind.SCRUB and spec.get("trigger") == SCRUB_SCHEDULED:
        return SCRUB_SCHEDULE_TRIGGER
    return JOB_KIND_TRIGGERS.get(job.kind, job.kind)


def job_duration_seconds(job: ReplicationJob, *, now=None) -> float | None:
    """From start to finish, or to now while it runs; None before it started."""
    if job.started_at is None:
        return None
    end = job.finished_at or now or timezone.now()
    return max(0.0, (end - job.started_at).total_seconds())


# Scrubs: what the replica rows, the job history and GET .../replicas/{region}/scrubs/ say


def replica_scrub_list(*, replica: Replica) -> QuerySet[ScrubRun]:
    return (ScrubRun.objects.filter(registry=replica.registry, region=replica.region)
            .select_related("job", "region", "registry").order_by("-created_at", "-id"))


def registry_latest_scrubs(*, registry: Registry) -> dict[int, ScrubRun]:
    """{region id: the latest scrub run there} for the registry's replica rows."""
    latest = {}
    for run in ScrubRun.objects.filter(registry=registry).select_related("job").order_by("region_id", "-created_at",
                                                                                        "-id"):
        latest.setdefault(run.region_id, run)
    return latest


def scrub_summary(run: ScrubRun) -> str:
    """One line: "Scrub: 42 blobs checked, 1 corrupted, repaired from westus" (or queued, running, failed)."""
    job = run.job
    if job is not None and job.state == JobState.QUEUED:
        return "Scrub queued, waiting for the region's worker…"
    if job is not None and job.state == JobState.RUNNING:
        return f"Scrub running: {job.blobs_done} of {job.blobs_total} blobs checked"
    if run.error or (job is not None and job.state in (JobState.FAILED, JobState.CANCELED)):
        return f"Scrub {'failed' if not job or job.state == JobState.FAILED else 'canceled'}: " + (
            run.error or (job.error if job else ""))
    parts = [f"{run.blobs_checked} blob{'s' if run.blobs_checked != 1 else ''} checked"]
    if not run.findings:
        return f"Scrub: {parts[0]}, none corrupted"
    problems = {}
    for finding in run.findings:
        problems[finding["problem"]] = problems.get(finding["problem"], 0) + 1
    words = {ScrubProblem.CORRUPT: "corrupted", ScrubProblem.MISSING: "missing"}
    parts += [f"{count} {words[ScrubProblem(problem)]}" for problem, count in sorted(problems.items())]
    sources = sorted({f["source_region"] for f in run.findings if f["outcome"] == ScrubOutcome.REPAIRED})
    if run.repaired:
        repaired = "repaired" if run.repaired == len(run.findings) else f"{run.repaired} repaired"
        parts.append(f"{repaired} from {', '.join(sources)}")
    if run.unrecoverable:
        parts.append(f"{run.unrecoverable} unrecoverable")
    return "Scrub: " + ", ".join(parts)


def job_scrub_summary(job: ReplicationJob) -> str:
    """A scrub job's run in one line (the job history); empty for other kinds."""
    run = getattr(job, "scrub_run", None) if job.kind == JobKind.SCRUB else None
    return scrub_summary(run) if run is not None else ""


# Registry delete: what the confirmation page names


@dataclass(frozen=True)
class RegionPurge:
    region: Region
    replica: Replica | None  # None: a deployed region without a replica, purged all the same
    repositories: int
    images: int


@dataclass(frozen=True)
class RegistryDeleteSummary:
    regions: list[RegionPurge]
    repositories: int
    images: int
    webhooks: int
    tokens: int
    role_assignments: int


def registry_delete_summary(*, registry: Registry) -> RegistryDeleteSummary:
    """What deleting the registry purges, from recorded state (no region is asked): each region a purge job
    will run in (every deployed one, as services.registry_delete does), its replica, and the repositories and
    images (tags and untagged manifests) recorded there."""
    replicas = {replica.region_id: replica for replica in Replica.objects.filter(registry=registry)
                .select_related("region")}
    recorded = ImageReplication.objects.filter(registry=registry)
    per_region = {row["region"]: row for row in recorded.values("region").annotate(
        repositories=Count("repository", distinct=True), images=Count("id"))}
    regions = [region for region in Region.objects.all() if region.endpoint or region.pk in replicas]
    purges = [RegionPurge(region=region, replica=replicas.get(region.pk),
                          repositories=per_region.get(region.pk, {}).get("repositories", 0),
                          images=per_region.get(region.pk, {}).get("images", 0))
              for region in sorted(regions, key=lambda r: (r.pk not in replicas, r.display_name))]
    return RegistryDeleteSummary(
        regions=purges,
        repositories=recorded.values("repository").distinct().count(),
        images=recorded.values("repository", "reference").distinct().count(),
        webhooks=registry.webhooks.count(), tokens=registry.tokens.count(),
        role_assignments=registry.role_assignments.count(),
    )

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
    ReplicaStatus,
)
from .models import ImageReplication, RegionHealth  # noqa: E402

# When no sync has finished yet there is nothing to measure: the page says this figure is assumed.
DEFAULT_SYNC_BYTES_PER_SECOND = 10 * 1024 * 1024
THROUGHPUT_SAMPLE_JOBS = 20  # the latest finished copies of a region that its throughput is measured from


def replica_map_state(*, replica: Replica) -> ReplicaDisplayState:
    """The state a replica's hexagon shows: the display rule every page uses
    (services.health.replica_display_state: deleting, then unreachable, then the replica's status)."""
    display = getattr(replica, "display", None) or replica_display_state(replica)
    return display.state


def replica_map_state_text(*, replica: Replica, map_state: ReplicaDisplayState) -> str:
    """The state in words, as the tooltip and the hexagon's accessible name say it."""
    words = map_state.map_label
    if map_state in (ReplicaDisplayState.CREATING, ReplicaDisplayState.SYNCING):
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
