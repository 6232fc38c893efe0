"""The registry page's charts in a real Chromium, after real pushes replicated by the real worker: both
charts drawn with data, the window switch, and nothing loaded from outside 127.0.0.1.

Set PORTAL_SCREENSHOT_DIR to keep screenshots at 1440×900 and 390×844.
"""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from replication.choices import ImageReplicationStatus
from replication.models import ImageReplication
from tests.conftest import TEST_REGIONS, wait_for
from tests.e2e.test_geo_replication import contoso, geo_fleet, scratch, user_push  # noqa: F401 (fixtures)
from tests.e2e.test_portal_browser import SCREENSHOT_DIR, Browsing, chromium  # noqa: F401 (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUSHES = [("eastus", "src/app01:1.0", "contoso/web:1"), ("eastus", "src/app00:1.0", "contoso/web:2"),
          ("westeurope", "src/app01:1.0", "contoso/api:1")]


def complete_everywhere(api_client, repository, tag) -> bool:
    response = api_client.get("/api/v1/registries/contoso/replication-status/",
                              {"repository": repository, "reference": tag})
    return response.status_code == 200 and all(r["status"] == "complete" for r in response.json()["regions"])


def test_both_charts_are_drawn_after_a_few_pushes(chromium, portal_server, api_client, contoso,  # noqa: F811
                                                   geo_fleet, scratch):
    for region, source, target in PUSHES:
        user_push(scratch, geo_fleet[region], source, target)
    for _, _, target in PUSHES:
        repository, tag = target.split(":")
        wait_for(lambda: complete_everywhere(api_client, repository, tag), timeout=120,
                 message=f"{target} complete in every region")

    # skopeo pushes an index's platform manifests first, by digest: each is an image of its own (untagged).
    copied = ImageReplication.objects.filter(status=ImageReplicationStatus.COMPLETE, source_region__isnull=False).count()
    assert copied >= 3 * len(PUSHES)
    browsing = Browsing(chromium, portal_server.url)
    try:
        page = browsing.page
        page.set_viewport_size({"width": 1440, "height": 900})
        browsing.sign_in("/registries/contoso/")
        charts = page.locator("#replication-charts")
        day = charts.locator(".chart-window[data-window='24h']")
        week = charts.locator(".chart-window[data-window='7d']")
        expect(day).to_be_visible()
        expect(week).to_be_hidden()
        # Copies landed in every region (East US got West Europe's push): a lag point and a bar per region and hour.
        lag_points = day.locator("svg[data-chart='lag'] circle.point")
        bars = day.locator("svg[data-chart='copied'] rect.bar")
        expect(day.locator("svg[data-chart='lag']")).to_be_visible()
        assert {lag_points.nth(i).get_attribute("data-region") for i in range(lag_points.count())} == set(TEST_REGIONS)
        assert {bars.nth(i).get_attribute("data-region") for i in range(bars.count())} == set(TEST_REGIONS)
        heights = [float(bars.nth(i).get_attribute("height")) for i in range(bars.count())]
        assert all(height > 0 for height in heights)
        expect(day.locator("figcaption").nth(1)).to_contain_text(f"{copied} in the last 24 hours")
        box = day.locator("svg[data-chart='copied']").bounding_box()
        assert box["width"] > 300 and box["height"] > 100  # drawn at a readable size, not collapsed
        screenshot(page, "charts-1440x900")

        charts.locator("label[for=chart-window-7d]").click()  # as a user does: the label is the button
        expect(week).to_be_visible()
        expect(day).to_be_hidden()
        assert week.locator("svg[data-chart='copied'] rect.bar").count() >= len(TEST_REGIONS)
        expect(week.locator("figcaption").nth(1)).to_contain_text(f"{copied} in the last 7 days")

        page.set_viewport_size({"width": 390, "height": 844})
        charts.locator("label[for=chart-window-24h]").click()
        expect(day).to_be_visible()
        box = day.locator("svg[data-chart='lag']").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # fits the phone's width
        screenshot(page, "charts-390x844")
        assert browsing.requests_leaving_the_machine() == [] and browsing.script_errors == []
    finally:
        browsing.close()


def screenshot(page, name: str) -> None:
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.locator("#replication-charts").scroll_into_view_if_needed()
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"))
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}-full.png"), full_page=True)
