"""/metrics: who may scrape it, and what a scrape holds from stored state."""
import os
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from replication import metrics
from replication.choices import JobKind, JobState, RegionHealthState, RoutingDecision
from replication.models import Region, RegionHealth, Replica, ReplicationJob, RoutingCounter


def scrape(client=None, **extra):
    return (client or Client()).get("/metrics", **extra)


def samples(response) -> dict:
    """{(sample name, frozenset of labels): value} of a scrape."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def test_without_settings_only_loopback_may_scrape(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ""
    assert scrape(REMOTE_ADDR="127.0.0.1").status_code == 200
    assert scrape(REMOTE_ADDR="::1").status_code == 200
    assert scrape(REMOTE_ADDR="10.0.0.5").status_code == 403
    # A proxy on this host would make everyone loopback: a forwarded request is not a local one.
    assert scrape(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


def test_with_a_token_the_bearer_is_required(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "scrape-me-0123456789", ""
    refused = scrape(REMOTE_ADDR="127.0.0.1")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert scrape(REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789").status_code == 200


def test_allowed_networks_use_the_client_address_rule(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", "10.20.0.0/16"
    settings.TRUSTED_PROXIES = "192.168.1.1/32"
    assert scrape(REMOTE_ADDR="10.20.3.4").status_code == 200
    assert scrape(REMOTE_ADDR="127.0.0.1").status_code == 403
    assert scrape(REMOTE_ADDR="192.168.1.1", HTTP_X_FORWARDED_FOR="10.20.9.9").status_code == 200
    # Only a trusted proxy's X-Forwarded-For is believed.
    assert scrape(REMOTE_ADDR="10.99.0.1", HTTP_X_FORWARDED_FOR="10.20.9.9").status_code == 403


def test_a_bad_network_setting_refuses_instead_of_opening(db, settings, caplog):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", "10.20.0.0/16,not-a-network"
    assert scrape(REMOTE_ADDR="10.20.3.4").status_code == 403
    assert scrape(REMOTE_ADDR="127.0.0.1").status_code == 403
    assert "'not-a-network' is not a network" in caplog.text


def test_token_or_network_either_one_lets_in(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "scrape-me-0123456789", "10.20.0.0/16"
    assert scrape(REMOTE_ADDR="10.20.3.4").status_code == 200
    assert scrape(REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789").status_code == 200
    assert scrape(REMOTE_ADDR="10.0.0.5").status_code == 401


def test_stored_state_is_read_at_scrape_time(catalog, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ""
    westus, eastus = Region.objects.get(name="westus"), Region.objects.get(name="eastus")
    for region, state in ((westus, RegionHealthState.UP), (eastus, RegionHealthState.DOWN)):
        Region.objects.filter(pk=region.pk).update(endpoint=f"http://{region.name}.example:5000")
        RegionHealth.objects.update_or_create(region=region, defaults={"state": state, "since": timezone.now()})
    from replication.models import Registry, Sku

    registry = Registry.objects.create(name="contoso", sku=Sku.objects.get(name="Premium"), home_region=westus)
    replica = Replica.objects.create(registry=registry, region=eastus, status="degraded")
    Replica.objects.create(registry=registry, region=westus, status="ready")
    for state in (JobState.QUEUED, JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED):
        ReplicationJob.objects.create(replica=replica, registry=registry, region=eastus, kind=JobKind.EVENT_COPY,
                                      state=state)
    RoutingCounter.objects.create(region=eastus, decision=RoutingDecision.FAILED_OVER, count=7)

    found = samples(scrape(REMOTE_ADDR="127.0.0.1"))

    assert found[("georegistry_region_health", frozenset({("region", "westus")}))] == 1
    assert found[("georegistry_region_health", frozenset({("region", "eastus")}))] == 0
    assert found[("georegistry_jobs_waiting", frozenset({("queue", "region.eastus")}))] == 2
    assert found[("georegistry_jobs_running", frozenset({("queue", "region.eastus")}))] == 1
    assert found[("georegistry_replicas", frozenset({("region", "eastus"), ("status", "degraded")}))] == 1
    assert found[("georegistry_endpoint_routing_decisions_total",
                  frozenset({("region", "eastus"), ("decision", "failed_over")}))] == 7


def test_this_test_run_counts_in_a_multiprocess_folder_of_its_own(db):
    """The settings give a test run (and the workers it starts) one folder, before prometheus_client is
    imported: otherwise a worker's counters could never reach a scrape."""
    from prometheus_client import values

    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert folder.is_dir() and "test-metrics" in str(folder)
    assert values.ValueClass is not values.MutexValue
    metrics.copied_bytes.labels(region="multiprocess-probe").inc(5)
    assert any(folder.glob(f"counter_{os.getpid()}.db"))
    assert samples(scrape(REMOTE_ADDR="127.0.0.1"))[
        ("georegistry_copied_bytes_total", frozenset({("region", "multiprocess-probe")}))] >= 5
