"""A region's registry SIGKILLed during an INITIAL sync: contoso lives in westus and eastus with images, a
replica in westeurope is created through the real portal's API, and westeurope's registry dies while the
sync copies into it; it comes back after FAULT_SECONDS. The replica ends ready with every image; the portal
showed it syncing (with the failed attempts' reasons) meanwhile."""
import time

import pytest

from replication.choices import ReplicaStatus
from tests.faults.conftest import (FAULT_SECONDS, PortalWatch, contoso_create, push, region_tags,
                                   settle_and_report, wait)

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

IMAGES = 10


def test_a_registry_killed_during_an_initial_sync(fault_fleet, admin_user, image_layout):
    fleet = contoso_create(fault_fleet, admin_user, regions=["westus", "eastus"])
    layout, images = image_layout
    for index in range(IMAGES):
        push(fleet, layout, images[index], ["westus", "eastus"][index % 2], f"contoso/sync/img{index}:1")
    # The pushes' copies between westus and eastus first: the sync's source (westus) must hold everything, and
    # "level after" then measures the fault, not these copies.
    wait(lambda: all(region_tags(fleet.regions[name].endpoint, fleet.pushed) == fleet.pushed
                     for name in ("westus", "eastus")), timeout=120, message="westus and eastus level")
    westeurope = fleet.regions["westeurope"]
    log = westeurope.worker.log_path
    offset = log.stat().st_size
    with PortalWatch(fleet) as watch:
        response = fleet.api_post("/registries/contoso/replicas/", {"region": "westeurope"})
        assert response.status_code == 202, response.text
        # Kill it once the sync has copied something into it, so the kill lands mid-copy.
        wait(lambda: b"Running initial job" in log.read_bytes()[offset:], timeout=60, interval=0.05,
             message="westeurope's worker to start the initial sync")
        blobs = westeurope.registry.storage_dir / "docker/registry/v2/blobs"
        wait(lambda: any(blobs.rglob("data")), timeout=60, interval=0.02,
             message="the sync's first blob in westeurope")
        westeurope.registry.kill()
        started = time.monotonic()
        time.sleep(FAULT_SECONDS)
        during = next(r for r in fleet.replicas() if r["region"] == "westeurope")
        westeurope.registry.start(timeout=30)
        ended = time.monotonic()
        row = settle_and_report(fleet, case="registry SIGKILL during an initial sync", fault_ended=ended,
                                watch=watch, attempted=IMAGES,
                                extra=f"westeurope registry down {ended - started:.0f} s; at the end of the "
                                      f"fault the replica was {during['status']} (health {during['health']['state']}): "
                                      f"{during['status_message'][:160]}")
    replica = next(r for r in fleet.replicas() if r["region"] == "westeurope")
    assert replica["status"] == ReplicaStatus.READY, replica
    assert watch.seen["westeurope"][0] in (ReplicaStatus.CREATING, ReplicaStatus.SYNCING), watch.seen
    print(row, watch.messages.get("westeurope"))
