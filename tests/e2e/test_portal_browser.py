"""The portal in a real headless Chromium: sign in, read the map, add a replica by clicking it, watch
the real worker sync it, and be refused a downgrade; nothing the pages load may leave 127.0.0.1.

Set PORTAL_SCREENSHOT_DIR to keep 1280×800 screenshots of the pages the tests visit.
"""
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect, sync_playwright

from replication.choices import REGION_STATE_COLOURS, REPLICA_STATUS_COLOURS, RegionState, ReplicaStatus
from replication.models import Replica
from replication.oci.corpus import build_corpus, push_corpus
from tests.conftest import fleet_client, wait_for

# A shared 2-core machine can take more than 5 s to answer a form post: wait longer for what must appear.
expect.set_options(timeout=20_000)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1"}
SCREENSHOT_DIR = os.environ.get("PORTAL_SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    # Playwright's sync API keeps an asyncio loop in this thread, which makes Django refuse the
    # tests' own (synchronous) ORM calls and the database flush between tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def portal_url(live_server):
    """The live server by address rather than `localhost`, so every local request has one host to check."""
    return live_server.url.replace("://localhost:", "://127.0.0.1:")


class Browsing:
    """A page at 1280×800 that remembers every request it made and every script error it hit."""

    def __init__(self, browser, base_url: str):
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.requests: list[str] = []
        self.script_errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        # The Delete button asks for confirmation; an admin would say yes.
        self.page.on("dialog", lambda dialog: dialog.accept())

    def sign_in(self, path: str):
        self.page.goto(path)
        expect(self.page).to_have_url(re.compile(r"/accounts/login/\?next="))
        self.page.get_by_label("Username").fill("alice")
        self.page.get_by_label("Password").fill("correct-horse")
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(self.base_url + path)

    def requests_leaving_the_machine(self) -> list[str]:
        return [url for url in self.requests
                if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS]

    def screenshot(self, name: str):
        if SCREENSHOT_DIR:
            Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
            self.page.wait_for_timeout(400)  # let Leaflet's popup fade-in finish
            self.page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"))
            self.page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}-full.png"), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def browsing(chromium, portal_url, admin_user):
    session = Browsing(chromium, portal_url)
    yield session
    session.close()
    assert session.requests, "the page made no request at all"
    assert session.requests_leaving_the_machine() == []
    assert session.script_errors == []


def hexagon(page, region: str):
    return page.locator(f"path.region-hex.region-{region}")


def submit_from_popup(page, button) -> None:
    """Click a form button in a map popup and wait for the answer to the POST it sends.

    On a loaded 2-core machine a click can land while Leaflet is still panning the map to fit the
    popup, and is lost: then the button is clicked once more. A button that never submits still fails.
    The POST itself is awaited, not any navigation: the map keeps its view in the URL's hash, and a hash
    change as the pan ends is a navigation to Playwright too (a lost click then passed for a submitted one).
    """
    def form_post(response) -> bool:
        return response.request.method == "POST" and response.request.is_navigation_request()

    for attempt in range(2):
        try:
            with page.expect_response(form_post, timeout=20_000):
                button.click()
            return
        except PlaywrightTimeoutError:
            if attempt:
                raise


def expect_hexagon(page, region: str, state: RegionState):
    path = hexagon(page, region)
    expect(path).to_have_class(re.compile(rf"\bstate-{state.value}\b"))
    expect(path).to_have_attribute("fill", REGION_STATE_COLOURS[state])


def replica_row(page, region: str):
    return page.locator(f"#replicas tr[data-region='{region}']")


@pytest.fixture
def mapdemo(registry_with_replicas, admin_user):
    """A Premium registry at home in West US with a ready replica in Canada Central."""
    # Synced before the story starts: written as the worker would have.
    return registry_with_replicas(name="mapdemo", replicas=("canadacentral",), owner=admin_user,
                                  status_message="In sync with westus.", last_synced_at=timezone.now())


def test_admin_adds_a_replica_by_clicking_the_map(browsing, mapdemo, deployed_regions, celery_worker_process):
    # About 25 MB at home, so the sync takes long enough to be seen under way.
    corpus = build_corpus(31, repositories=3, tags_per_repo=2, base_layer_size=2 << 20, unique_layer_size=3 << 20)
    with fleet_client(deployed_regions["westus"].endpoint, prefix=mapdemo.repository_prefix) as client:
        push_corpus(client, corpus, mapdemo.repository_prefix)
    page = browsing.page
    browsing.sign_in("/registries/mapdemo/replications/")

    # Blue where the registry is, green where it could go, gray where no data plane runs.
    expect(page.locator("path.region-hex")).to_have_count(59)
    for region in ["westus", "canadacentral"]:
        expect_hexagon(page, region, RegionState.REPLICA)
    for region in ["eastus", "westeurope"]:
        expect_hexagon(page, region, RegionState.AVAILABLE)
    for region in ["japaneast", "brazilsouth", "australiaeast"]:
        expect_hexagon(page, region, RegionState.UNAVAILABLE)
    legend = page.locator(".region-map-legend")
    for state in RegionState:
        expect(legend).to_contain_text(state.label)
    browsing.screenshot("map")

    hexagon(page, "eastus").hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("East US")

    hexagon(page, "japaneast").click()
    gray = page.locator(".leaflet-popup .region-popup[data-region='japaneast']")
    expect(gray).to_contain_text("No data plane")
    expect(gray.locator("button")).to_have_count(0)

    hexagon(page, "eastus").click()
    green = page.locator(".leaflet-popup .region-popup[data-region='eastus']")
    expect(green).to_contain_text("Adds $50.01 a month")
    browsing.screenshot("map-popup-available")
    submit_from_popup(page, green.get_by_role("button", name="Create replica"))

    expect(page.locator(".messages")).to_contain_text("Replica in East US created; its initial sync is queued.")
    expect_hexagon(page, "eastus", RegionState.REPLICA)
    row = replica_row(page, "eastus")
    expect(row).to_have_attribute("data-status", re.compile(r"^(creating|syncing)$"))
    expect(row.locator(".badge")).to_have_text(re.compile(r"^(Creating|Syncing)$"))

    replica = Replica.objects.get(registry=mapdemo, region__name="eastus")
    wait_for(lambda: Replica.objects.get(pk=replica.pk).status in (ReplicaStatus.READY, ReplicaStatus.FAILED),
             timeout=120, message="the worker to finish the sync to East US")
    replica.refresh_from_db()
    assert replica.status == ReplicaStatus.READY, replica.status_message

    page.get_by_role("link", name="Refresh").click()
    row = replica_row(page, "eastus")
    expect(row).to_have_attribute("data-status", "ready")
    expect(row.locator(".badge")).to_have_text("Ready")
    expect(row.locator(".badge")).to_have_attribute(
        "style", re.compile(re.escape(REPLICA_STATUS_COLOURS[ReplicaStatus.READY])))
    expect(row.locator(".progress")).to_have_count(0)
    expect(row).to_contain_text("just now")

    hexagon(page, "eastus").click()
    blue = page.locator(".leaflet-popup .region-popup[data-region='eastus']")
    expect(blue).to_contain_text("Ready")
    expect(blue).to_contain_text(re.compile(r"Last copy: ([\d.]+\s+MB) of \1, (\d+) of \2 manifests"))
    expect(blue).to_contain_text("Last sync: 20")
    expect(blue.get_by_role("button", name="Delete")).to_be_visible()
    expect(blue.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    browsing.screenshot("map-popup-replica")

    # Routing off from the popup's switch; the table and the database agree.
    submit_from_popup(page, blue.get_by_role("switch"))
    expect(page.locator(".messages")).to_contain_text("Routing to East US is off.")
    assert not Replica.objects.get(pk=replica.pk).region_endpoint_enabled

    hexagon(page, "westus").click()
    home = page.locator(".leaflet-popup .region-popup[data-region='westus']")
    expect(home).to_contain_text("home")
    expect(home.get_by_role("button", name="Delete")).to_have_count(0)
    assert browsing.requests_leaving_the_machine() == []


def test_downgrade_with_replicas_is_refused_in_the_browser(browsing, mapdemo):
    page = browsing.page
    browsing.sign_in("/registries/mapdemo/")
    expect(page.locator("#cost")).to_contain_text("$100.02")  # home + Canada Central on Premium
    browsing.screenshot("overview")

    page.get_by_role("button", name="Downgrade to Standard").click()
    expect(page).to_have_url(browsing.base_url + "/registries/mapdemo/")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Cannot change SKU to Standard: geo-replication needs Premium. "
                               "Delete the replicas in canadacentral first.")
    expect(page.locator("tr.current[data-sku='Premium']")).to_have_count(1)
    mapdemo.refresh_from_db()
    assert mapdemo.sku.name == "Premium"


def test_registry_list_and_create_form_in_the_browser(browsing, mapdemo):
    page = browsing.page
    browsing.sign_in("/registries/")
    row = page.locator("tr[data-registry='mapdemo']")
    expect(row).to_contain_text("Premium")
    expect(row).to_contain_text("$100.02")
    browsing.screenshot("registry-list")

    page.get_by_label("Registry name").fill("ab")
    page.get_by_role("button", name="Create registry").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Registry name must be 5 to 50 characters long and contain only letters and digits.")

    page.get_by_label("Registry name").fill("fabrikam")
    page.get_by_label("SKU").select_option("Standard")
    page.get_by_label("Home region").select_option("westeurope")
    page.get_by_role("button", name="Create registry").click()
    expect(page).to_have_url(browsing.base_url + "/registries/fabrikam/")
    expect(page.locator(".messages")).to_contain_text("Registry 'fabrikam' created, home West Europe.")
