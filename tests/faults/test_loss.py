"""Emulated packet loss on one region's link during a sync (link_relay.py: with a TCP relay, "10 % loss"
is a 10 % chance per chunk of stalling one retransmission timeout, plus occasional resets): slower, never
wrong; once the loss stops every region is level."""
import time

import pytest

from tests.faults.conftest import FAULT_SECONDS, PortalWatch, push, settle_and_report

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_loss_on_a_link_during_a_sync(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    westeurope = fleet.regions["westeurope"]
    attempted = 0
    with PortalWatch(fleet) as watch:
        westeurope.link.set(loss=0.10, reset_rate=0.01)
        started = time.monotonic()
        index = 0
        while time.monotonic() - started < FAULT_SECONDS:
            push(fleet, layout, images[index], ["westus", "eastus"][index % 2], f"contoso/loss/img{index}:1")
            attempted += 1
            index += 1
        westeurope.link.set(loss=0.0, reset_rate=0.0)
        ended = time.monotonic()
        conditions = westeurope.link.conditions
        settle_and_report(fleet, case="10 % loss on westeurope's link", fault_ended=ended, watch=watch,
                          attempted=attempted, extra=f"{ended - started:.0f} s, {conditions.stalls} stalls, "
                                                     f"{conditions.resets} resets")
