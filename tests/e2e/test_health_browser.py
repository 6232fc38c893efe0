"""The health of a registry in a real Chromium: with its home region's registry stopped, every page of the
registry shows the outage banner, the replicas table marks the replica unreachable (row and badge), and
the registry list shows the registry's health. Set PORTAL_SCREENSHOT_DIR to keep 1440×900 screenshots."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from replication.choices import ReplicaStatus
from replication.services.health import region_health_probe
from tests.e2e.test_portal_browser import Browsing, chromium, portal_url  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_DIR = os.environ.get("PORTAL_SCREENSHOT_DIR")


def shot(page, name: str) -> None:
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def test_a_dead_home_region_shows_on_every_page(chromium, portal_url, registry_with_replicas, admin_user,  # noqa: F811
                                                westeurope_registry):
    registry_with_replicas(name="fabrikam", home="westeurope", replicas=("westus", "eastus"),
                           status=ReplicaStatus.READY, owner=admin_user, status_message="In sync with westeurope.")
    westeurope_registry.stop()
    region_health_probe()

    browsing = Browsing(chromium, portal_url)
    browsing.context.close()
    browsing.context = chromium.new_context(viewport={"width": 1440, "height": 900}, base_url=portal_url)
    browsing.page = browsing.context.new_page()
    page = browsing.page
    browsing.sign_in("/registries/fabrikam/")

    banner = page.locator("#home-outage")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-state", "unreachable")
    expect(banner).to_contain_text("The home region West Europe is unreachable")
    row = page.locator('#replicas tr[data-region="westeurope"]')
    expect(row).to_have_attribute("data-state", "unreachable")
    expect(row.locator('.badge[data-state="unreachable"]')).to_have_text("Unreachable")
    expect(row).to_contain_text("Region westeurope is unreachable since")
    expect(page.locator('#replicas tr[data-region="westus"]')).to_have_attribute("data-state", "ready")
    shot(page, "health-overview-home-down")

    page.goto("/registries/fabrikam/replications/")
    expect(page.locator("#home-outage")).to_be_visible()
    shot(page, "health-map-home-down")

    page.goto("/registries/")
    cell = page.locator('tr[data-registry="fabrikam"] td.registry-health')
    expect(cell).to_have_attribute("data-unreachable", "westeurope")
    expect(cell).to_contain_text("2/3 ready")
    shot(page, "health-registry-list")
    browsing.context.close()
