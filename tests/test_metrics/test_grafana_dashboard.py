"""docs/grafana-dashboard.json is valid JSON whose every metric name is in a scrape, and it shows every metric."""
import json
import re
from pathlib import Path

from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from replication import metrics
from replication.choices import RegionHealthState, RoutingDecision
from replication.models import Region, RegionHealth, ReplicationJob, RoutingCounter

from .conftest import image_copied

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 8 and all(expressions)
    return {name for expr in expressions for name in re.findall(r"\bgeoregistry_[a-z_]+\b", expr)}


def test_every_metric_of_the_dashboard_is_in_a_scrape_and_every_metric_is_on_it(contoso, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", ""
    # One of everything, so that every family has a sample.
    metrics.replication_lag.labels(region="dashboard").observe(3)
    metrics.copies.labels(region="dashboard", kind="event_copy").inc()
    metrics.copied_bytes.labels(region="dashboard").inc(10)
    metrics.copied_manifests.labels(region="dashboard").inc()
    metrics.copy_failures.labels(region="dashboard", reason="timeout", outcome="retried").inc()
    metrics.events_received.labels(region="dashboard", action="push", source="user").inc()
    metrics.events_fanned_out.labels(region="dashboard", action="push").inc()
    metrics.fan_out_jobs.labels(region="dashboard", action="push").inc()
    metrics.webhook_deliveries.labels(region="dashboard", outcome="succeeded").inc()
    eastus = Region.objects.get(name="eastus")
    Region.objects.filter(pk=eastus.pk).update(endpoint="http://eastus.example:5000")
    RegionHealth.objects.update_or_create(region=eastus, defaults={"state": RegionHealthState.UP,
                                                                   "since": timezone.now()})
    replica = contoso.replicas.get(region=eastus)
    for state in ("queued", "running"):
        ReplicationJob.objects.create(replica=replica, registry=contoso, region=eastus, kind="event_copy", state=state)
    RoutingCounter.objects.create(region=eastus, decision=RoutingDecision.SERVED, count=1)
    image_copied(contoso, region="eastus", reference="1.0", pushed_at=timezone.now(), lag_seconds=2)

    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    families = list(text_string_to_metric_families(response.content.decode()))
    sampled = {sample.name for family in families for sample in family.samples}

    used = dashboard_metric_names()
    assert used - sampled == set()
    ours = {family.name for family in families if family.name.startswith("georegistry_")}
    # Each of our families is on the dashboard (a counter by its _total, a histogram by _bucket/_sum/_count).
    assert {name for name in ours if not any(u == name or u.startswith(name + "_") for u in used)} == set()
