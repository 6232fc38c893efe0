"""The map and the live pages in a real headless Chromium: hexagons large enough to hit, named for
screen readers and reachable from the keyboard; states that change in the database appear without a
reload; Refresh keeps the zoom, the centre and the open popup.

Set PORTAL_SCREENSHOT_DIR to keep screenshots of the map at 1440×900 and 390×844.
"""
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from replication.choices import JobKind, JobState, RegionHealthState, ReplicaDisplayState, ReplicaStatus
from replication.models import ImageReplication, Region, RegionHealth, Replica, ReplicationJob
from tests.e2e.test_portal_browser import (  # noqa: F401  (fixtures)
    CHROMIUM,
    browsing,
    chromium,
    hexagon,
    mapdemo,
    portal_url,
    replica_row,
)

expect.set_options(timeout=20_000)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIN_HEXAGON_PX = 24  # what the issue asks for
MB = 1024 * 1024
MAP = "/registries/mapdemo/replications/"


def hexagon_sizes(page) -> dict[str, tuple[float, float]]:
    """{region: (width, height)} of the bounding box of every hexagon drawn inside the map's frame (Leaflet
    leaves paths out of view empty)."""
    return page.evaluate("""() => {
        const frame = document.querySelector('.folium-map').getBoundingClientRect();
        return Object.fromEntries(Array.from(document.querySelectorAll('path.region-hex')).map(path => {
            const box = path.getBoundingClientRect();
            const region = Array.from(path.classList).find(c => c.startsWith('region-') && c !== 'region-hex');
            const x = box.x + box.width / 2, y = box.y + box.height / 2;
            const drawn = path.getAttribute('d') !== 'M0 0';  // Leaflet's empty path for a shape out of view
            const inside = drawn && x > frame.left && x < frame.right && y > frame.top && y < frame.bottom;
            return inside ? [region.slice(7), [box.width, box.height]] : null;
        }).filter(Boolean));
    }""")


def map_view(page) -> dict:
    return page.evaluate("""() => {
        const map = RegionMap.current.map, centre = map.getCenter();
        const open = RegionMap.current.openRegion();
        return {zoom: map.getZoom(), lat: centre.lat, lng: centre.lng, open: open && open.name};
    }""")


def focused(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement;
        return {tag: el.tagName.toLowerCase(), label: el.getAttribute('aria-label') || '',
                text: (el.innerText || '').trim(), cls: el.getAttribute('class') || ''};
    }""")


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_every_hexagon_is_big_enough_and_named_at_the_initial_zoom(browsing, mapdemo, viewport):
    page = browsing.page
    page.set_viewport_size(viewport)
    browsing.sign_in(MAP)
    expect(page.locator("path.region-hex")).to_have_count(59)
    sizes = hexagon_sizes(page)
    assert len(sizes) >= 50  # the initial view shows (nearly) every region
    small = {region: size for region, size in sizes.items() if min(size) < MIN_HEXAGON_PX}
    assert small == {}, small
    for label in page.locator("path.region-hex").evaluate_all("paths => paths.map(p => p.getAttribute('aria-label'))"):
        assert label and " · " in label, label
    expect(hexagon(page, "canadacentral")).to_have_attribute("aria-label", "Canada Central · Replica · Ready")
    expect(hexagon(page, "westus")).to_have_attribute("aria-label", "West US (home) · Replica · Ready")
    browsing.screenshot(f"map-{viewport['width']}x{viewport['height']}-initial")

    # Zoomed out to the least zoom the map allows, and in: still big enough.
    page.evaluate("() => RegionMap.current.map.setZoom(RegionMap.current.map.getMinZoom(), {animate: false})")
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
    assert min(min(size) for size in hexagon_sizes(page).values()) >= MIN_HEXAGON_PX
    for zoom in (2, 2.5, 3, 3.25, 3.5, 3.75, 4, 6, 5):  # across the switch from the pixel grid to H3 cells
        page.evaluate(f"() => RegionMap.current.map.setView([50, 5], {zoom}, {{animate: false}})")
        sizes = hexagon_sizes(page)
        assert sizes and min(min(size) for size in sizes.values()) >= MIN_HEXAGON_PX, (zoom, sizes)
    browsing.screenshot(f"map-{viewport['width']}x{viewport['height']}-zoom5")


def test_tooltip_and_marker_say_the_state_in_words(browsing, mapdemo):
    Replica.objects.filter(registry=mapdemo, region__name="canadacentral").update(
        status=ReplicaStatus.FAILED, status_message="Copy failed: connection refused", region_endpoint_enabled=False)
    regions = {region.name: region for region in Region.objects.filter(name__in=["eastus", "westeurope"])}
    syncing = Replica.objects.create(registry=mapdemo, region=regions["eastus"], status=ReplicaStatus.SYNCING)
    ReplicationJob.objects.create(registry=mapdemo, replica=syncing, region=regions["eastus"], kind=JobKind.INITIAL_SYNC,
                                  state=JobState.RUNNING, bytes_total=100 * MB, bytes_done=42 * MB)
    Replica.objects.create(registry=mapdemo, region=regions["westeurope"], status=ReplicaStatus.DEGRADED,
                           status_message="1 image(s) not replicated")
    page = browsing.page
    page.set_viewport_size({"width": 1440, "height": 900})
    browsing.sign_in(MAP)
    expect(hexagon(page, "eastus")).to_have_attribute("aria-label", "East US · Replica · Syncing 42%")
    expect(page.locator(".region-marker-icon .region-marker.marker-syncing")).to_have_text("42%")
    expect(hexagon(page, "westeurope")).to_have_attribute("aria-label", "West Europe · Replica · Degraded")
    expect(hexagon(page, "westeurope")).to_have_attribute("stroke", ReplicaDisplayState.DEGRADED.ring_colour)
    canada = hexagon(page, "canadacentral")
    expect(canada).to_have_class(re.compile(r"\bmarker-failed\b.*\brouting-off\b"))
    expect(canada).to_have_attribute("stroke", ReplicaDisplayState.FAILED.ring_colour)
    canada.hover()
    expect(page.locator(".leaflet-tooltip")).to_have_text("Canada Central · Replica · Failed, routing off")
    expect(page.locator(".region-marker-icon .region-marker.marker-failed")).to_have_count(1)
    expect(page.locator(".region-map-legend")).to_contain_text("Unreachable (region down)")
    browsing.screenshot("map-1440x900")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("path.region-hex")).to_have_count(59)
    browsing.screenshot("map-390x844")


def test_a_replica_action_can_be_reached_and_used_from_the_keyboard(browsing, mapdemo):
    page = browsing.page
    page.set_viewport_size({"width": 1440, "height": 900})
    browsing.sign_in(MAP)
    expect(page.locator("path.region-hex")).to_have_count(59)
    for _ in range(40):  # Tab through the page until the map's one tab stop
        page.keyboard.press("Tab")
        if "region-hex" in focused(page)["cls"]:
            break
    assert "region-hex" in focused(page)["cls"], focused(page)
    for _ in range(59):  # the arrows walk the regions, replicas first
        if focused(page)["label"].startswith("Canada Central"):
            break
        page.keyboard.press("ArrowRight")
    assert focused(page)["label"] == "Canada Central · Replica · Ready"
    expect(page.locator(".leaflet-tooltip")).to_have_text("Canada Central · Replica · Ready")

    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")
    expect(popup).to_be_visible()
    assert focused(page)["text"] == "Routing on"  # focus moved into the popup, on its first control
    browsing.screenshot("map-keyboard-popup")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Sync again"
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Routing to Canada Central is off.")
    assert not Replica.objects.get(registry=mapdemo, region__name="canadacentral").region_endpoint_enabled
    # The post came back to the same view, with the same popup open.
    expect(page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")).to_be_visible()

    popup = page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")
    popup.get_by_role("switch").focus()
    page.keyboard.press("Escape")
    expect(popup).to_have_count(0)
    assert focused(page)["label"].startswith("Canada Central")


def test_status_progress_and_health_change_in_place_without_a_reload(browsing, mapdemo):
    page = browsing.page
    page.set_viewport_size({"width": 1440, "height": 900})
    browsing.sign_in(MAP)
    expect(page.locator("path.region-hex")).to_have_count(59)
    page.evaluate("() => { window.loadedOnce = true; }")  # gone if the page reloads

    replica = Replica.objects.get(registry=mapdemo, region__name="canadacentral")
    Replica.objects.filter(pk=replica.pk).update(status=ReplicaStatus.FAILED,
                                                 status_message="The sync failed: manifest unknown")
    row = replica_row(page, "canadacentral")
    expect(row).to_have_attribute("data-status", "failed")
    expect(row).to_contain_text("The sync failed: manifest unknown")
    expect(hexagon(page, "canadacentral")).to_have_class(re.compile(r"\bmarker-failed\b"))
    expect(hexagon(page, "canadacentral")).to_have_attribute("aria-label", "Canada Central · Replica · Failed")

    hexagon(page, "canadacentral").click()
    popup = page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")
    expect(popup).to_contain_text("The sync failed: manifest unknown")

    RegionHealth.objects.update_or_create(region=replica.region, defaults={
        "state": RegionHealthState.DOWN, "since": timezone.now(), "checked_at": timezone.now(),
        "last_error": "connection refused"})
    expect(hexagon(page, "canadacentral")).to_have_class(re.compile(r"\bmarker-unreachable\b"))
    expect(popup).to_contain_text("Unreachable: this region's registry has not answered")  # the open popup too
    popup.get_by_role("switch").focus()
    page.keyboard.press("Escape")
    hexagon(page, "canadacentral").hover()
    expect(page.locator(".leaflet-tooltip")).to_have_text("Canada Central · Replica · Unreachable (region down)")
    assert page.evaluate("() => window.loadedOnce") is True

    # The overview: the replicas table, its progress bar and the image matrix follow too.
    page.goto("/registries/mapdemo/")
    page.evaluate("() => { window.loadedOnce = true; }")
    expect(page.locator("#image-replication")).to_contain_text("No pushes recorded yet")
    # The region answers again and a sync starts (an unreachable replica shows why instead of a progress bar).
    RegionHealth.objects.filter(region=replica.region).update(state=RegionHealthState.UP, last_error="")
    Replica.objects.filter(pk=replica.pk).update(status=ReplicaStatus.SYNCING, status_message="Copying from westus.")
    job = ReplicationJob.objects.create(registry=mapdemo, replica=replica, region=replica.region,
                                        kind=JobKind.RESYNC, state=JobState.RUNNING, started_at=timezone.now(),
                                        bytes_total=100 * MB, bytes_done=10 * MB, manifests_total=4)
    progress = replica_row(page, "canadacentral").locator(".progress")
    expect(progress).to_have_attribute("aria-valuenow", "10")
    ReplicationJob.objects.filter(pk=job.pk).update(bytes_done=60 * MB, manifests_done=2)
    expect(progress).to_have_attribute("aria-valuenow", "60")
    pushed = timezone.now()
    ImageReplication.objects.create(registry=mapdemo, region=mapdemo.home_region, repository="mapdemo/web",
                                    reference="1.0", digest="sha256:" + "a" * 64, status="complete",
                                    pushed_at=pushed, completed_at=pushed)
    expect(page.locator("#image-replication [data-image='mapdemo/web:1.0']")).to_have_count(1)
    Replica.objects.filter(pk=replica.pk).update(status=ReplicaStatus.READY, status_message="In sync with westus.")
    expect(replica_row(page, "canadacentral")).to_have_attribute("data-status", "ready")
    assert page.evaluate("() => window.loadedOnce") is True


def test_refresh_keeps_zoom_centre_and_open_popup(browsing, mapdemo):
    page = browsing.page
    page.set_viewport_size({"width": 1440, "height": 900})
    browsing.sign_in(MAP)
    expect(page.locator("path.region-hex")).to_have_count(59)
    initial_zoom = map_view(page)["zoom"]
    box = hexagon(page, "canadacentral").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)  # the wheel zooms the map, around the pointer
    page.wait_for_function(f"() => RegionMap.current.map.getZoom() > {initial_zoom}")
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
    hexagon(page, "canadacentral").click()
    expect(page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")).to_be_visible()
    # The hash follows the view once the popup's pan has finished.
    page.wait_for_function("""() => {
        const c = RegionMap.current.map.getCenter();
        return location.hash.endsWith('/' + c.lat.toFixed(4) + '/' + c.lng.toFixed(4) + '/canadacentral');
    }""")
    before = map_view(page)
    assert before["open"] == "canadacentral"

    with page.expect_navigation():
        page.get_by_role("link", name="Refresh").click()
    expect(page.locator(".leaflet-popup .region-popup[data-region='canadacentral']")).to_be_visible()
    after = map_view(page)
    assert after["zoom"] == before["zoom"]
    assert after["open"] == "canadacentral"
    assert abs(after["lat"] - before["lat"]) < 0.01 and abs(after["lng"] - before["lng"]) < 0.01
    # The zoom control sits at the bottom right, clear of the popup.
    popup_box = page.locator(".leaflet-popup").bounding_box()
    zoom_box = page.locator(".leaflet-control-zoom").bounding_box()
    overlap_x = min(popup_box["x"] + popup_box["width"], zoom_box["x"] + zoom_box["width"]) - max(popup_box["x"], zoom_box["x"])
    overlap_y = min(popup_box["y"] + popup_box["height"], zoom_box["y"] + zoom_box["height"]) - max(popup_box["y"], zoom_box["y"])
    assert overlap_x <= 0 or overlap_y <= 0, (popup_box, zoom_box)
