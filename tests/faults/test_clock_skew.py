"""Two regions whose clocks disagree push the same tag. Distribution stamps its events with its host's
clock; the fleet shifts eastus's stamps 30 s ahead on its link (what a host with a fast clock sends).
"The later push wins" then means the later *timestamp*: eastus's push, though it happened first, wins
in every region, and all regions agree on that one digest."""
import time

import pytest

from tests.faults.conftest import FAULT_SECONDS, PortalWatch, push, settle_and_report

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SKEW = 30.0


def test_regions_with_skewed_clocks_agree_on_one_digest(contoso, image_layout):
    fleet = contoso
    layout, images = image_layout
    fleet.hosts.clock_skews["eastus"] = SKEW
    with PortalWatch(fleet) as watch:
        started = time.monotonic()
        first = push(fleet, layout, images[0], "eastus", "contoso/clock/app:1")  # stamped 30 s in the future
        time.sleep(2)
        second = push(fleet, layout, images[1], "westus", "contoso/clock/app:1")  # really later
        assert first != second
        # A second tag pushed by each side, so the skewed region's other pushes replicate normally too.
        push(fleet, layout, images[2], "eastus", "contoso/clock/east:1")
        push(fleet, layout, images[3], "westus", "contoso/clock/west:1")
        time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - started)))
        fleet.pushed[("contoso/clock/app", "1")] = first  # the later timestamp wins
        ended = time.monotonic()
        settle_and_report(fleet, case="clocks 30 s apart, same tag", fault_ended=ended, watch=watch,
                          attempted=4, extra=f"eastus +{SKEW:.0f} s; its earlier push won everywhere")
