"""The broker restarted during a burst of pushes, on a private Redis (SIGKILLed: it keeps nothing on disk, so
every queued task message is lost) and on a private RabbitMQ node (SIGKILLed too; its durable queues keep what
it had written). Pushes go on while it is down; after FAULT_SECONDS it comes back on the same port. What the
lost messages carried is recovered from the database: events not yet fanned out by events_drain, queued jobs
by lost_work_recover, both at the next reconcile; workers and beat reconnect on their own.

The RabbitMQ variant is slower (its node boots in ~5 s here): CI's short run leaves it out with
`-k 'not rabbitmq'`; `python -m bench.faults` runs it."""
import re
import time

import pytest

from replication.dataplane import find_free_port
from tests.faults.brokers import PrivateRabbitMQ, PrivateRedis, app_broker
from tests.faults.conftest import FAULT_SECONDS, PREFIX, PortalWatch, push, push_token, settle_and_report

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["redis", "rabbitmq"])
def private_broker(request, tmp_path):
    if request.param == "redis":
        broker = PrivateRedis(tmp_path / "redis", find_free_port())
    else:
        broker = PrivateRabbitMQ(tmp_path / "rabbitmq", find_free_port(), dist_port=find_free_port(),
                                 node=f"{PREFIX}rmq{find_free_port()}@localhost")
    broker.boot_seconds = broker.start()
    try:
        with app_broker(broker.url):
            yield broker
    finally:
        broker.stop()


@pytest.fixture
def fleet_broker_url(private_broker):
    return private_broker.url


def test_broker_restarted_during_a_burst(private_broker, contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    regions = ["westus", "eastus", "westeurope"]
    repositories = [f"contoso/broker/img{i}" for i in range(len(images))]
    token = push_token(fleet, repositories)
    attempted = 0
    with PortalWatch(fleet) as watch:
        for index in range(3):  # their events and copies are in the broker when it dies
            push(fleet, layout, images[index], regions[index], f"{repositories[index]}:1", token=token)
            attempted += 1
        portal_log, worker_log = fleet.control.portal.log_path, fleet.control.worker.log_path
        offsets = portal_log.stat().st_size, worker_log.stat().st_size
        private_broker.kill()
        started = time.monotonic()
        index = 3
        while time.monotonic() - started < FAULT_SECONDS:
            push(fleet, layout, images[index], regions[index % 3], f"{repositories[index]}:1", token=token)
            attempted += 1
            index += 1
            time.sleep(1)
        boot = private_broker.start()
        ended = time.monotonic()
        settle_and_report(fleet, case=f"{private_broker.kind} SIGKILLed during a burst, restarted",
                          fault_ended=ended, watch=watch, attempted=attempted,
                          extra=f"down {ended - started:.0f} s (boot {boot:.1f} s); "
                                f"{recovery(portal_log, worker_log, offsets)}")


def recovery(portal_log, worker_log, offsets) -> str:
    """What the logs say happened to the work of the outage: tasks the portal could not send (their rows wait for
    the lost-work sweep), event deliveries it refused (none since dispatch logs those), jobs the sweep resent."""
    portal = portal_log.read_bytes()[offsets[0]:]
    unsent = portal.count(b"Broker unreachable: task")
    refused = portal.count(b"Internal Server Error: /api/v1/events/")
    requeued = set()
    for line in worker_log.read_bytes()[offsets[1]:].decode(errors="replace").splitlines():
        if match := re.search(r"Requeued replication jobs \[([\d, ]+)\]", line):
            requeued.update(match.group(1).replace(" ", "").split(","))
    return (f"{unsent} tasks unsent by the portal, {refused} event deliveries refused, "
            f"{len(requeued)} jobs resent by lost_work_recover")
