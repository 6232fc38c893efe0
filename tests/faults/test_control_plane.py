"""The control plane's portal and beat SIGKILLed during a burst of pushes, then restarted: the registries
cannot deliver their events (nor can clients get new tokens) meanwhile; what was pushed is levelled
afterwards (Distribution's retried events, and reconcile for what they miss)."""
import time

import pytest

from tests.faults.conftest import FAULT_SECONDS, PortalWatch, push, push_token, settle_and_report

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_portal_and_beat_killed_during_a_burst(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    repositories = [f"contoso/cp/img{i}" for i in range(len(images))]
    token = push_token(fleet, repositories)  # clients holding tokens keep pushing while the portal is down
    attempted = 0
    with PortalWatch(fleet) as watch:
        push(fleet, layout, images[0], "westus", f"{repositories[0]}:1")
        attempted += 1
        fleet.control.portal.kill()
        fleet.control.beat.kill()
        started = time.monotonic()
        index = 1
        while time.monotonic() - started < FAULT_SECONDS:
            push(fleet, layout, images[index], ["westus", "eastus", "westeurope"][index % 3],
                 f"{repositories[index]}:1", token=token)
            attempted += 1
            index += 1
            time.sleep(1)
        fleet.control.portal.start()
        fleet.control.beat.start()
        ended = time.monotonic()
        settle_and_report(fleet, case="portal + beat SIGKILL", fault_ended=ended, watch=watch,
                          attempted=attempted, extra=f"portal and beat down {ended - started:.0f} s")
