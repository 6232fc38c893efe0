"""Reconcile's cost grows with what changed, not with tags × regions: tag lists, and a HEAD only where our
records do not know the digest; a full pass now and then finds what the records cannot."""
import pytest

from replication.models import ReconcileRun
from replication.oci.client import RegistryClient
from replication.services import reconcile

from tests.conftest import fleet_client

from .conftest import event, run_queued_jobs
from .test_rules import digest_in, push, receive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counted_requests(monkeypatch):
    """Every request the engine's clients send, by method (the real requests still go out)."""
    counts = {}
    original = RegistryClient._request

    def counting(self, method, url, **kwargs):
        counts[method] = counts.get(method, 0) + 1
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(RegistryClient, "_request", counting)
    return counts


@pytest.fixture
def level_geo(geo, deployed_regions):
    """Four repositories × two tags pushed in westus, fanned out and copied: every region level and recorded."""
    pushed = push(deployed_regions["westus"], geo, 71, repositories=4, tags_per_repo=2)
    receive("westus", *[event(repository=repository, digest=digest, tag=tag)
                        for (repository, tag), digest in pushed.items()])
    run_queued_jobs()
    return geo, pushed


def test_a_level_registry_costs_one_tag_list_per_repository_and_no_head(level_geo, counted_requests):
    geo, pushed = level_geo
    first = reconcile.registry_reconcile(registry=geo)  # the first run is a full pass
    assert first.full_pass and first.difference_count == 0
    assert first.requests_sent == 3 * (1 + 4 + len(pushed))  # per region: catalog, tag lists, a HEAD per tag
    counted_requests.clear()

    again = reconcile.registry_reconcile(registry=geo)
    assert not again.full_pass and again.difference_count == 0 and again.tags_checked == len(pushed)
    assert again.requests_sent == 3 * (1 + 4)
    assert counted_requests.get("HEAD", 0) == 0 and sum(counted_requests.values()) == again.requests_sent


def test_a_tag_missing_in_one_region_is_found_and_copied_without_heading_the_rest(level_geo, deployed_regions,
                                                                                 counted_requests):
    geo, pushed = level_geo
    reconcile.registry_reconcile(registry=geo)
    (repository, tag), digest = sorted(pushed.items())[0]
    with fleet_client(deployed_regions["canadacentral"].endpoint, prefix=geo.repository_prefix) as client:
        client.delete_manifest(repository, digest)  # its delete event was lost
    counted_requests.clear()

    run = reconcile.registry_reconcile(registry=geo)
    assert {(d["repository"], d["tag"], d["region"], d["problem"]) for d in run.differences} >= {
        (repository, tag, "canadacentral", "missing")}
    assert counted_requests.get("HEAD", 0) == 0, "the other regions' digests are recorded; the missing one is listed"
    run_queued_jobs()
    assert digest_in(deployed_regions["canadacentral"], repository, tag) == digest


def test_a_full_pass_finds_a_tag_moved_without_an_event(level_geo, deployed_regions, settings):
    geo, pushed = level_geo
    reconcile.registry_reconcile(registry=geo)
    (repository, tag), digest = sorted(pushed.items())[0]
    other = next(d for (r, t), d in pushed.items() if r == repository and d != digest)
    with fleet_client(deployed_regions["eastus"].endpoint, prefix=geo.repository_prefix) as client:
        manifest = client.get_manifest(repository, other)
        client.put_manifest(repository, tag, manifest.body, manifest.media_type)  # no event reaches the portal

    cheap = reconcile.registry_reconcile(registry=geo)
    assert cheap.difference_count == 0  # the records still say eastus holds `digest`: only a HEAD can tell

    settings.REPLICATION_RECONCILE_FULL_SECONDS = 0
    full = reconcile.registry_reconcile(registry=geo)
    assert full.full_pass
    assert {(d["region"], d["problem"]) for d in full.differences} == {("eastus", "different")}
    run_queued_jobs()
    assert digest_in(deployed_regions["eastus"], repository, tag) == digest
    assert ReconcileRun.objects.filter(registry=geo).count() == 3
