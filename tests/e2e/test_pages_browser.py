"""Everything the API does, in the pages, in a real headless Chromium: a webhook created, edited, disabled,
pinged to a real receiver, its delivery read and redelivered, then deleted; the job history filtered; a
registry deleted after typing its name; a SKU change confirmed with its new monthly cost.

Set PORTAL_SCREENSHOT_DIR to keep screenshots of the webhooks pages and the job history at 1440×900 and at
390×844 (a phone).
"""
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from replication.choices import JobKind, JobState, WebhookDeliveryState
from replication.models import Region, Registry, ReplicationJob, Webhook, WebhookDelivery
from tests.conftest import wait_for
from tests.e2e.test_portal_browser import Browsing, chromium, portal_url  # noqa: F401 (fixtures)
from tests.test_webhooks.conftest import expected_signature
from tests.test_webhooks.receiver import WebhookReceiver

expect.set_options(timeout=20_000)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_DIR = os.environ.get("PORTAL_SCREENSHOT_DIR")
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
SECRET = "browser-secret-0123456789"


def screenshots(page, name: str) -> None:
    """The page at each size (the visible part and the full page), then back to the test's size."""
    if not SCREENSHOT_DIR:
        return
    Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}-{size}.png"))
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}-{size}-full.png"), full_page=True)
    page.set_viewport_size(before)


@pytest.fixture
def browsing(chromium, portal_url, admin_user):  # noqa: F811
    session = Browsing(chromium, portal_url)
    yield session
    session.close()
    assert session.requests_leaving_the_machine() == []
    assert session.script_errors == []


@pytest.fixture
def celery_worker_process(local_receivers_allowed, celery_worker_process):
    """The shared worker, started after loopback is allowed: the receiver listens on 127.0.0.1."""
    return celery_worker_process


@pytest.fixture
def receiver(local_receivers_allowed):
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def webdemo(registry_with_replicas, admin_user):
    """Premium, home West US, a ready replica in East US, owned by the signed-in admin."""
    return registry_with_replicas(name="webdemo", replicas=("eastus",), owner=admin_user,
                                  status_message="In sync with westus.", last_synced_at=timezone.now())


def finished(delivery_id):
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    return delivery if delivery and delivery.state != WebhookDeliveryState.PENDING else None


def delivery_entry(page, delivery_id):
    return page.locator(f"li.delivery[data-delivery='{delivery_id}']")


def test_webhook_created_edited_pinged_redelivered_disabled_and_deleted(browsing, webdemo, receiver,
                                                                          celery_worker_process):
    page = browsing.page
    browsing.sign_in("/registries/webdemo/")
    page.get_by_role("navigation", name="Registry").get_by_role("link", name="Webhooks").click()
    expect(page).to_have_url(browsing.base_url + "/registries/webdemo/webhooks/")
    expect(page.locator(".empty")).to_contain_text("No webhooks yet")

    # A secret too short: the API's words beside the field, everything else still as typed.
    page.get_by_label("Name", exact=True).fill("browserhook")
    page.get_by_label("Region").select_option("eastus")
    page.get_by_label("Service URI").fill(f"{receiver.url}/hook")
    page.get_by_label("Secret").fill("short")
    page.get_by_label("Delete").check()
    page.get_by_label("Scope").fill("web:*")
    page.get_by_label("Custom headers").fill("X-Team: blue")
    page.get_by_role("button", name="Create webhook").click()
    expect(page.locator("[data-field='secret'] .errorlist")).to_have_text("Secret must be 16 to 200 characters long.")
    expect(page.get_by_label("Name", exact=True)).to_have_value("browserhook")
    expect(page.get_by_label("Region")).to_have_value("eastus")
    expect(page.get_by_label("Service URI")).to_have_value(f"{receiver.url}/hook")
    expect(page.get_by_label("Scope")).to_have_value("web:*")
    expect(page.get_by_label("Push")).to_be_checked()
    expect(page.get_by_label("Delete")).to_be_checked()
    expect(page.get_by_label("Custom headers")).to_have_value("X-Team: blue")
    expect(page.get_by_label("Secret")).to_have_value("")  # write-only: typed again
    assert not Webhook.objects.exists()

    page.get_by_label("Secret").fill(SECRET)
    page.get_by_role("button", name="Create webhook").click()
    expect(page).to_have_url(browsing.base_url + "/registries/webdemo/webhooks/browserhook/")
    expect(page.locator(".messages")).to_contain_text("Webhook 'browserhook' created: push, delete events in East US")
    expect(page.locator("#webhook")).to_contain_text(receiver.url)  # the origin only

    # Ping: delivered by the real worker to the real receiver; the log shows request and response.
    page.get_by_role("button", name="Ping", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("queued; its result shows in the delivery log")
    ping = WebhookDelivery.objects.get()
    delivered = wait_for(lambda: finished(ping.pk), timeout=90, message="the ping delivery")
    assert delivered.state == WebhookDeliveryState.SUCCEEDED, delivered.error
    [request] = receiver.received("/hook")
    assert request.headers["X-Signature-SHA256"] == expected_signature(SECRET, request.body)
    assert request.headers["X-Team"] == "blue"
    page.reload()
    entry = delivery_entry(page, ping.pk)
    expect(entry).to_have_attribute("data-state", "succeeded")
    expect(entry).to_contain_text("HTTP 200")
    entry.get_by_text("Request and response").click()
    expect(entry.locator(".delivery-exchange")).to_contain_text('"action": "ping"')
    expect(entry.locator(".delivery-exchange")).to_contain_text("X-Signature-SHA256")
    expect(entry.locator(".delivery-exchange")).to_contain_text("<redacted>")  # the custom header's value
    expect(entry.locator(".delivery-exchange")).to_contain_text('{"ok": true}')
    expect(page.locator("body")).not_to_contain_text(SECRET)

    # Redeliver: a new delivery of the same event, delivered again.
    entry.get_by_role("button", name="Redeliver").click()
    expect(page.locator(".messages")).to_contain_text(f"Delivery {ping.pk} is being sent again as delivery")
    again = WebhookDelivery.objects.exclude(pk=ping.pk).get()
    assert wait_for(lambda: finished(again.pk), timeout=90, message="the redelivery").state == "succeeded"
    first, second = receiver.received("/hook")
    assert json.loads(second.body)["id"] == json.loads(first.body)["id"]
    page.reload()
    expect(delivery_entry(page, again.pk)).to_contain_text(f"redelivery of #{ping.pk}")
    expect(delivery_entry(page, again.pk)).to_have_attribute("data-state", "succeeded")
    delivery_entry(page, again.pk).get_by_text("Request and response").click()
    expect(delivery_entry(page, again.pk).locator(".delivery-exchange")).to_be_visible()
    screenshots(page, "webhook-detail")

    # Edit: the scope and actions change; blank write-only fields keep the secret and the URI.
    page.get_by_label("Scope").fill("api")
    page.get_by_label("Replicated").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages")).to_contain_text("Webhook 'browserhook' saved.")
    expect(page.locator("#webhook")).to_contain_text("api:*")
    webhook = Webhook.objects.get()
    assert webhook.actions == ["push", "delete", "replicated"] and webhook.secret == SECRET

    # Disable, from the list.
    page.get_by_role("link", name="Webhooks", exact=True).first.click()
    row = page.locator("tr[data-webhook='browserhook']")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator(".messages")).to_contain_text("Webhook 'browserhook' is disabled")
    expect(page.locator("tr[data-webhook='browserhook']")).to_contain_text("disabled")
    assert not Webhook.objects.get().enabled
    screenshots(page, "webhooks")

    # Delete, after a confirmation page.
    page.locator("tr[data-webhook='browserhook']").get_by_role("link", name="Edit / log").click()
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator(".card-confirm")).to_contain_text("Delete webhook browserhook?")
    expect(page.locator(".card-confirm")).to_contain_text("2 deliveries")
    assert Webhook.objects.exists()
    page.get_by_role("button", name="Delete webhook").click()
    expect(page).to_have_url(browsing.base_url + "/registries/webdemo/webhooks/")
    expect(page.locator(".messages")).to_contain_text("Webhook 'browserhook' deleted with its delivery log.")
    assert not Webhook.objects.exists()


def test_job_history_is_filtered_by_region_and_state(browsing, webdemo):
    started = timezone.now() - timedelta(minutes=3)
    regions = {name: Region.objects.get(name=name) for name in ("westus", "eastus")}
    rows = [("eastus", JobKind.INITIAL_SYNC, JobState.SUCCEEDED, ""),
            ("eastus", JobKind.EVENT_COPY, JobState.FAILED, "Cannot reach a regional registry: connection refused"),
            ("westus", JobKind.IMPORT, JobState.SUCCEEDED, ""),
            ("eastus", JobKind.EVENT_COPY, JobState.SUCCEEDED, "")]
    for index, (region, kind, state, error) in enumerate(rows):
        ReplicationJob.objects.create(registry=webdemo, region=regions[region], kind=kind, state=state, error=error,
                                      started_at=started + timedelta(seconds=index),
                                      finished_at=started + timedelta(seconds=index + 3),
                                      bytes_done=(index + 1) * 7 << 20, bytes_total=(index + 1) * 7 << 20)
    page = browsing.page
    browsing.sign_in("/registries/webdemo/jobs/")
    expect(page.locator("tr[data-job]")).to_have_count(4)
    screenshots(page, "jobs")

    page.get_by_label("Region").select_option("eastus")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"region=eastus&state=failed"))
    expect(page.locator("tr[data-job]")).to_have_count(1)
    only = page.locator("tr[data-job]")
    expect(only).to_contain_text("Event copy")
    expect(only).to_contain_text("connection refused")
    expect(only).to_contain_text("3.0 s")
    expect(page.get_by_label("Region")).to_have_value("eastus")
    expect(page.get_by_label("State")).to_have_value("failed")
    screenshots(page, "jobs-filtered")

    page.get_by_role("link", name="Clear").click()
    expect(page.locator("tr[data-job]")).to_have_count(4)


def test_registry_is_deleted_after_its_name_is_typed(browsing, webdemo):
    page = browsing.page
    browsing.sign_in("/registries/webdemo/")
    page.get_by_role("link", name="Delete registry…").click()
    confirm = page.locator("#delete-registry")
    expect(confirm).to_contain_text("Delete registry webdemo?")
    for region in ("westus", "eastus", "canadacentral", "westeurope"):
        expect(confirm.locator(f"tr[data-region='{region}']")).to_have_count(1)
    expect(confirm.locator("tr[data-region='eastus']")).to_contain_text("Ready")
    screenshots(page, "registry-delete")

    page.get_by_label("Type the registry's name to confirm").fill("webdem")
    page.get_by_role("button", name="Delete this registry").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the registry's name: type webdemo to delete it.")
    expect(page.get_by_label("Type the registry's name to confirm")).to_have_value("webdem")
    assert Registry.objects.filter(name="webdemo").exists()

    page.get_by_label("Type the registry's name to confirm").fill("webdemo")
    page.get_by_role("button", name="Delete this registry").click()
    expect(page).to_have_url(browsing.base_url + "/registries/")
    expect(page.locator(".messages")).to_contain_text("Registry 'webdemo' deleted; its content is being purged in")
    expect(page.locator("tr[data-registry='webdemo']")).to_have_count(0)
    assert not Registry.objects.filter(name="webdemo").exists()


def test_sku_change_shows_the_new_monthly_cost_before_it_is_applied(browsing, registry_with_replicas, admin_user):
    registry_with_replicas(name="skudemo", replicas=(), owner=admin_user)
    page = browsing.page
    browsing.sign_in("/registries/skudemo/")
    page.get_by_role("button", name="Downgrade to Standard").click()
    confirm = page.locator("#sku-confirm")
    expect(confirm).to_contain_text("Downgrade skudemo from Premium to Standard?")
    expect(page.locator("#sku-new-cost")).to_have_text("$20.01")
    expect(confirm).to_contain_text("−$30.00")
    assert Registry.objects.get(name="skudemo").sku.name == "Premium"
    screenshots(page, "sku-confirm")

    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("tr.current[data-sku='Premium']")).to_have_count(1)

    page.get_by_role("button", name="Downgrade to Standard").click()
    page.get_by_role("button", name="Change to Standard for $20.01 a month").click()
    expect(page.locator(".messages")).to_contain_text(
        "SKU changed from Premium to Standard: $50.01 → $20.01 a month for 1 region(s).")
    expect(page.locator("tr.current[data-sku='Standard']")).to_have_count(1)
    assert Registry.objects.get(name="skudemo").sku.name == "Standard"
