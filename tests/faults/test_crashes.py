"""Crashes during a burst of pushes: a region's registry SIGKILLed then restarted, a region's worker SIGKILLed
mid-copy then restarted. Every image ends up everywhere with the pushed digest; the status API agrees."""
import time

import pytest

from tests.faults.conftest import FAULT_SECONDS, PortalWatch, push, settle_and_report, wait

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_registry_killed_during_a_burst_is_levelled_after_its_restart(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    eastus = fleet.regions["eastus"]
    attempted = 0
    with PortalWatch(fleet) as watch:
        for index in range(2):
            push(fleet, layout, images[index], "westus", f"contoso/crash/reg{index}:1")
            attempted += 1
        eastus.registry.kill()  # mid-burst: the copies of the first pushes are on their way
        started = time.monotonic()
        index = 2
        while time.monotonic() - started < FAULT_SECONDS:
            push(fleet, layout, images[index], ["westus", "westeurope"][index % 2], f"contoso/crash/reg{index}:1")
            attempted += 1
            index += 1
            time.sleep(1)
        eastus.registry.start(timeout=30)
        ended = time.monotonic()
        settle_and_report(fleet, case="registry SIGKILL", fault_ended=ended, watch=watch, attempted=attempted,
                          extra=f"eastus registry down {ended - started:.0f} s")


def test_a_worker_killed_mid_copy_loses_nothing(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    westeurope = fleet.regions["westeurope"]
    log = westeurope.worker.log_path
    offset = log.stat().st_size
    attempted = 0
    with PortalWatch(fleet) as watch:
        for index in range(6):
            push(fleet, layout, images[index], ["westus", "eastus"][index % 2], f"contoso/crash/wrk{index}:1")
            attempted += 1
        # Kill it the moment it has an event copy in hand (its 120 ms link makes copies take a while).
        wait(lambda: b"Running event_copy" in log.read_bytes()[offset:], timeout=60, interval=0.05,
             message="westeurope's worker to start a copy")
        westeurope.worker.kill()
        started = time.monotonic()
        for index in range(6, 9):
            push(fleet, layout, images[index], "westus", f"contoso/crash/wrk{index}:1")
            attempted += 1
        time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - started)))
        westeurope.worker.start()
        ended = time.monotonic()
        settle_and_report(fleet, case="worker SIGKILL mid-copy", fault_ended=ended, watch=watch,
                          attempted=attempted, extra=f"westeurope worker down {ended - started:.0f} s")
