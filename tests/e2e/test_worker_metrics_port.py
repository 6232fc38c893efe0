"""A worker on a host of its own: its counters in a folder of its own, served on WORKER_METRICS_PORT."""
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from replication.dataplane import find_free_port
from replication.queues import PORTAL_QUEUE, region_queue
from replication.services.webhooks import webhook_create, webhook_ping
from tests.conftest import WorkerProcess, purge_broker, wait_for
from tests.test_webhooks.conftest import SECRET, receiver  # noqa: F401 (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_serves_its_own_counters_on_its_port(registry_with_replicas, receiver, tmp_path,  # noqa: F811
                                                      monkeypatch):
    folder = tmp_path / "worker-metrics"
    folder.mkdir()
    port = find_free_port()
    # As on another host: not the test run's folder, which the portal here reads.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setenv("WORKER_METRICS_PORT", str(port))
    registry = registry_with_replicas(name="contoso", replicas=("eastus",))
    webhook = webhook_create(registry=registry, name="hookone", region="westus", service_uri=receiver.url + "/hook",
                             actions=["push"], secret=SECRET)
    queues = [PORTAL_QUEUE, region_queue("westus")]
    purge_broker(queues)
    worker = WorkerProcess(tmp_path / "worker.log", queues).start()
    try:
        webhook_ping(webhook=webhook)
        wait_for(lambda: receiver.received("/hook"), timeout=60, message="the ping at the receiver")

        def delivered_count():
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            samples = {(s.name, frozenset(s.labels.items())): s.value
                       for family in text_string_to_metric_families(text) for s in family.samples}
            return text, samples.get(("georegistry_webhook_deliveries_total",
                                      frozenset({("region", "westus"), ("outcome", "succeeded")})))

        text, count = wait_for(lambda: (lambda r: r if r[1] else None)(delivered_count()), timeout=30,
                               message="the delivery counted on the worker's port")
        assert count == 1
        # Counted by a pool process into the worker's own folder, added up by the main process's server.
        assert list(folder.glob("counter_*.db"))
        # Only its counters: the database's figures are served once, by the portal's /metrics.
        assert "georegistry_region_health" not in text and "georegistry_jobs_waiting" not in text
    finally:
        worker.stop()
        print(worker.log_tail(20))
