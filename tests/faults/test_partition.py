"""A region cut off from everything (link down, relay cutting every connection) while images are pushed
both inside it and elsewhere, then healed: every image ends up everywhere, nothing is served wrong."""
import time

import pytest

from tests.faults.conftest import FAULT_SECONDS, PortalWatch, push, push_token, settle_and_report

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_partitioned_region_catches_up_after_the_heal(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    westeurope = fleet.regions["westeurope"]
    inside_repositories = [f"contoso/part/in{i}" for i in range(3)]
    token = push_token(fleet, inside_repositories)  # the client's token, fetched before the link fell
    push(fleet, layout, images[0], "westus", "contoso/part/before:1")
    attempted = 1
    with PortalWatch(fleet) as watch:
        westeurope.partition()
        started = time.monotonic()
        pushes = iter(images[1:])
        index = 0
        while time.monotonic() - started < FAULT_SECONDS:
            push(fleet, layout, next(pushes), ["westus", "eastus"][index % 2], f"contoso/part/out{index}:1")
            attempted += 1
            if index < len(inside_repositories):
                push(fleet, layout, next(pushes), "westeurope", f"{inside_repositories[index]}:1", inside=True,
                     token=token)
                attempted += 1
            index += 1
            time.sleep(1)
        westeurope.heal()
        ended = time.monotonic()
        settle_and_report(fleet, case="partition", fault_ended=ended, watch=watch, attempted=attempted,
                          extra=f"westeurope cut {time.monotonic() - started:.0f} s")
