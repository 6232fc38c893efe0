"""GET /metrics in Prometheus' text format: the counters of this host's processes, plus stored state.

- Counted metrics (replication/metrics.py) come from prometheus_client's multiprocess folder when
  `PROMETHEUS_MULTIPROC_DIR` is set (every portal worker, and the Celery workers that the same command
  started on this host, add up), else from this process alone.
- Stored state (jobs waiting, region health, replicas, images, the global endpoint's routing decisions)
  is read from the database at each scrape (`selectors.fleet_state`): host-independent, so any portal
  worker answers the same, and nothing is counted twice across hosts.
- A worker on another host serves its own counters on `WORKER_METRICS_PORT` (portal/celery.py).
"""
import hmac
import logging
import os

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import selectors
from .choices import RegionHealthState
from .client_address import ip_address_or_none, networks_parse, request_client_address
from .exceptions import InvalidInput
from .queues import region_queue

log = logging.getLogger(__name__)


class StoredStateCollector:
    """Gauges (and the routing counters) from the database, read at scrape time."""

    def collect(self):
        state = selectors.fleet_state()
        waiting = GaugeMetricFamily("georegistry_jobs_waiting", "Replication jobs queued, per region queue.",
                                    labels=["queue"])
        running = GaugeMetricFamily("georegistry_jobs_running", "Replication jobs running, per region queue.",
                                    labels=["queue"])
        for region, job_state, count in state.jobs:
            (waiting if job_state == "queued" else running).add_metric([region_queue(region)], count)
        yield waiting
        yield running
        health = GaugeMetricFamily("georegistry_region_health",
                                   "1 when the last probe of the region's registry answered, else 0 (down or "
                                   "not probed yet); regions with a data plane only.", labels=["region"])
        for region, health_state in state.region_health:
            health.add_metric([region], 1 if health_state == RegionHealthState.UP else 0)
        yield health
        replicas = GaugeMetricFamily("georegistry_replicas", "Replicas per region and status.",
                                     labels=["region", "status"])
        for region, status, count in state.replicas:
            replicas.add_metric([region, status], count)
        yield replicas
        images = GaugeMetricFamily("georegistry_image_replications",
                                   "Per-image replication status rows per region and status.",
                                   labels=["region", "status"])
        for region, status, count in state.images:
            images.add_metric([region, status], count)
        yield images
        routing = CounterMetricFamily("georegistry_endpoint_routing_decisions",
                                      "The global endpoint's routing decisions, per region and decision.",
                                      labels=["region", "decision"])
        for region, decision, count in state.routing:
            routing.add_metric([region, decision], count)
        yield routing


def counted_registry():
    """The registry of counted metrics: this host's multiprocess folder, or this process alone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def scrape() -> bytes:
    stored = CollectorRegistry()
    stored.register(StoredStateCollector())
    return generate_latest(counted_registry()) + generate_latest(stored)


def metrics_access_allowed(request) -> bool:
    """METRICS_TOKEN as a bearer, or a client in METRICS_ALLOWED_NETWORKS; with neither set, loopback only.

    Loopback by default so that a fresh install exposes nothing to its network, yet a Prometheus (or curl)
    on the same machine works without configuration; a request a proxy forwarded is not taken as local.
    """
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    address = ip_address_or_none(request_client_address(request))
    if settings.METRICS_ALLOWED_NETWORKS:
        try:
            networks = networks_parse(settings.METRICS_ALLOWED_NETWORKS, with_region=False)
        except InvalidInput as exc:
            log.error("METRICS_ALLOWED_NETWORKS: %s Refusing every scrape without the token.", exc)
            return False  # closed, not open, on a typo
        return address is not None and any(address in network for network in networks)
    if token:
        return False
    # A proxy on this host makes every client look like loopback: a forwarded request is not a local one.
    forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    return address is not None and address.is_loopback and not forwarded


@require_GET
def metrics_view(request):
    if not metrics_access_allowed(request):
        if settings.METRICS_TOKEN:
            return HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return HttpResponse("Metrics are served to loopback or METRICS_ALLOWED_NETWORKS only.\n", status=403,
                            content_type="text/plain")
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
