"""The map's reads: each replica's map state (replica_map_state), the state in words, and the plan of a
replica before it is created (images and bytes from recorded state, time from measured throughput, cost)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from replication import selectors
from replication.choices import (
    ImageReplicationStatus,
    JobKind,
    JobState,
    RegionHealthState,
    ReplicaDisplayState,
    ReplicaStatus,
)
from replication.models import ImageReplication, Region, RegionHealth, Replica, ReplicationJob

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def set_health(region_name: str, state: RegionHealthState):
    now = timezone.now()
    RegionHealth.objects.update_or_create(region=Region.objects.get(name=region_name), defaults={
        "state": state, "since": now, "checked_at": now, "last_error": "refused" if state == "down" else ""})


def finished_job(*, registry, region: str, kind=JobKind.RESYNC, state=JobState.SUCCEEDED, bytes_done=0,
                 bytes_total=None, seconds=10.0, finished_ago=0.0) -> ReplicationJob:
    finished = timezone.now() - timedelta(seconds=finished_ago)
    return ReplicationJob.objects.create(
        registry=registry, region=Region.objects.get(name=region), kind=kind, state=state,
        bytes_done=bytes_done, bytes_total=bytes_done if bytes_total is None else bytes_total,
        started_at=finished - timedelta(seconds=seconds), finished_at=finished)


# replica_map_state: the display rule of every page (services.health.replica_display_state), on the map


def replica_in_region(status, health: RegionHealthState | None) -> Replica:
    """An unsaved replica whose region carries a stored probe of `health` (None: never probed)."""
    region = Region(name="eastus")
    if health is not None:
        now = timezone.now()
        region.health = RegionHealth(region=region, state=health, since=now, checked_at=now,
                                     last_error="refused" if health == RegionHealthState.DOWN else "")
    return Replica(status=status, region=region)


@pytest.mark.parametrize("status", list(ReplicaStatus))
def test_a_healthy_region_shows_the_replicas_own_status(status):
    for health in (RegionHealthState.UP, RegionHealthState.UNKNOWN, None):
        assert selectors.replica_map_state(replica=replica_in_region(status, health)) == ReplicaDisplayState(status)


@pytest.mark.parametrize("status", [s for s in ReplicaStatus if s != ReplicaStatus.DELETING])
def test_a_region_that_is_down_makes_its_replica_unreachable_whatever_its_last_status(status):
    assert selectors.replica_map_state(replica=replica_in_region(status, RegionHealthState.DOWN)) == \
        ReplicaDisplayState.UNREACHABLE


def test_a_delete_under_way_shows_deleting_even_when_the_region_is_down():
    assert selectors.replica_map_state(replica=replica_in_region(ReplicaStatus.DELETING, RegionHealthState.DOWN)) == \
        ReplicaDisplayState.DELETING


def test_registry_map_state_reads_the_stored_probe_of_each_replicas_region(registry_with_replicas):
    registry = registry_with_replicas(name="mapstate", replicas=("eastus", "canadacentral"))
    set_health("eastus", RegionHealthState.DOWN)
    RegionHealth.objects.filter(region__name="canadacentral").delete()  # never probed: unknown, not down
    views = {view.region.name: view for view in selectors.registry_map_state(registry=registry)}
    assert views["eastus"].map_state == ReplicaDisplayState.UNREACHABLE
    assert views["canadacentral"].map_state == ReplicaDisplayState.READY
    assert views["westus"].map_state == ReplicaDisplayState.READY
    assert views["westeurope"].map_state is None  # no replica there


def test_the_state_in_words_has_the_progress_and_routing_off(registry_with_replicas):
    registry = registry_with_replicas(name="mapwords", replicas=("eastus",), status=ReplicaStatus.SYNCING,
                                      region_endpoint_enabled=False)
    replica = registry.replicas.get(region__name="eastus")
    ReplicationJob.objects.create(registry=registry, replica=replica, region=replica.region, kind=JobKind.RESYNC,
                                  state=JobState.RUNNING, bytes_total=200 * MB, bytes_done=50 * MB)
    text = selectors.replica_map_state_text(replica=replica, map_state=ReplicaDisplayState.SYNCING)
    assert text == "Syncing 25%, routing off"
    assert selectors.replica_map_state_text(replica=registry.replicas.get(region__name="westus"),
                                            map_state=ReplicaDisplayState.UNREACHABLE) == "Unreachable (region down)"


# Throughput, content, plan


def test_throughput_is_measured_over_finished_copies_into_the_region(registry_with_replicas):
    registry = registry_with_replicas(name="speedy", replicas=())
    finished_job(registry=registry, region="eastus", bytes_done=40 * MB, seconds=10)
    finished_job(registry=registry, region="eastus", bytes_done=20 * MB, seconds=20)
    finished_job(registry=registry, region="eastus", state=JobState.FAILED, bytes_done=900 * MB, seconds=1)
    finished_job(registry=registry, region="canadacentral", bytes_done=5 * MB, seconds=5)
    regions = {r.name: r for r in Region.objects.filter(name__in=["eastus", "canadacentral", "westeurope"])}
    measured = selectors.sync_throughputs(regions=regions.values())
    assert measured[regions["eastus"].pk].bytes_per_second == pytest.approx(60 * MB / 30)
    assert measured[regions["eastus"].pk].measured_from_jobs == 2
    assert measured[regions["canadacentral"].pk].bytes_per_second == pytest.approx(MB)
    # A region never copied into: measured over every region's copies.
    assert measured[regions["westeurope"].pk].bytes_per_second == pytest.approx(65 * MB / 35)
    assert measured[regions["westeurope"].pk].measured_from_jobs == 3


def test_with_nothing_measured_the_throughput_is_the_stated_default(catalog):
    region = Region.objects.get(name="eastus")
    throughput = selectors.sync_throughputs(regions=[region])[region.pk]
    assert throughput.measured_from_jobs == 0
    assert throughput.bytes_per_second == selectors.DEFAULT_SYNC_BYTES_PER_SECOND


def add_image(registry, region: str, reference: str, status=ImageReplicationStatus.COMPLETE):
    ImageReplication.objects.create(registry=registry, region=Region.objects.get(name=region),
                                    repository=f"{registry.name}/app", reference=reference,
                                    digest="sha256:" + reference.rjust(64, "0"), status=status,
                                    pushed_at=timezone.now())


def test_home_content_counts_what_home_holds_and_the_bytes_the_last_initial_sync_measured(registry_with_replicas):
    registry = registry_with_replicas(name="content", replicas=("eastus",))
    for reference in ("1", "2", "3"):
        add_image(registry, "westus", reference)
    add_image(registry, "westus", "4", status=ImageReplicationStatus.PENDING)  # not at home yet
    add_image(registry, "eastus", "1")  # elsewhere: not counted
    assert selectors.registry_home_content(registry=registry) == selectors.HomeContent(images=3, bytes=None)

    finished_job(registry=registry, region="eastus", kind=JobKind.INITIAL_SYNC, bytes_done=30 * MB,
                 finished_ago=100)
    finished_job(registry=registry, region="eastus", kind=JobKind.EVENT_COPY, bytes_done=4 * MB, finished_ago=50)
    finished_job(registry=registry, region="canadacentral", kind=JobKind.EVENT_COPY, bytes_done=9 * MB)  # other region
    finished_job(registry=registry, region="eastus", kind=JobKind.EVENT_COPY, bytes_done=7 * MB,
                 finished_ago=200)  # before the initial sync: already in its figure
    assert selectors.registry_home_content(registry=registry) == selectors.HomeContent(images=3, bytes=34 * MB)


def test_an_empty_registry_plans_nothing_to_copy(registry_with_replicas):
    registry = registry_with_replicas(name="emptyreg", replicas=())
    assert selectors.registry_home_content(registry=registry) == selectors.HomeContent(images=0, bytes=0)


def test_a_measured_initial_sync_gives_the_bytes_even_without_image_rows(registry_with_replicas):
    # Images pushed before events reached the portal have no rows; the copy still measured their bytes.
    registry = registry_with_replicas(name="unrecorded", replicas=("eastus",))
    finished_job(registry=registry, region="eastus", kind=JobKind.INITIAL_SYNC, bytes_done=32 * MB)
    assert selectors.registry_home_content(registry=registry) == selectors.HomeContent(images=0, bytes=32 * MB)


def test_plans_give_time_from_bytes_and_throughput_and_the_new_monthly_cost_nearest_first(registry_with_replicas):
    registry = registry_with_replicas(name="planned", replicas=("eastus",))
    for reference in ("1", "2"):
        add_image(registry, "westus", reference)
    finished_job(registry=registry, region="eastus", kind=JobKind.INITIAL_SYNC, bytes_done=100 * MB, seconds=50)
    regions = Region.objects.filter(name__in=["westeurope", "canadacentral"])
    plans = selectors.replica_plans(registry=registry, regions=regions)
    assert [plan.region.name for plan in plans] == ["canadacentral", "westeurope"]  # nearer to West US first
    canada = plans[0]
    assert 3000 < canada.distance_km < 4000  # San Francisco to Toronto
    assert (canada.images, canada.bytes) == (2, 100 * MB)
    assert canada.throughput.measured_from_jobs == 1  # measured over eastus's copy, the only one
    assert canada.seconds == pytest.approx(50)
    price = registry.sku.price_per_day_usd
    assert canada.added_monthly == (price * 30).quantize(Decimal("0.01"))
    assert canada.total_monthly == (price * 30 * 3).quantize(Decimal("0.01"))  # home + eastus + the new one


@pytest.mark.parametrize("seconds, words", [(None, ""), (0.2, "under 1 s"), (42.4, "about 42 s"),
                                            (600, "about 10 min"), (9000, "about 2.5 h")])
def test_estimated_time_reads_as_a_rough_duration(seconds, words):
    from replication.templatetags.portal import rough_duration
    assert rough_duration(seconds) == words
