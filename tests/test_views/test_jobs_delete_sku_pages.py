"""The job history page, the registry delete confirmation, the SKU change's confirm step, and the portal's own
404 / 500 pages and favicon."""
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from replication import services
from replication.choices import JobKind, JobState, ReplicationOrigin
from replication.models import ActivityRecord, ImageReplication, Region, Registry, ReplicationJob
from replication.services import access


def text(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("\xa0", " ")


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def job(registry, region, *, kind=JobKind.EVENT_COPY, state=JobState.SUCCEEDED, seconds=4, spec=None, **fields):
    started = timezone.now() - timedelta(minutes=5)
    return ReplicationJob.objects.create(
        registry=registry, region=Region.objects.get(name=region), kind=kind, state=state, spec=spec or {},
        started_at=started, finished_at=started + timedelta(seconds=seconds) if state != JobState.RUNNING else None,
        **fields)


@pytest.fixture
def history(contoso_with_replicas):
    """contoso's two initial syncs (eastus running, canadacentral failed) plus an event copy and a reconcile copy."""
    job(contoso_with_replicas, "eastus", spec={"source_region": "westus", "images": [], "origin": "event"},
        bytes_done=3 * 1024 * 1024, bytes_total=3 * 1024 * 1024)
    job(contoso_with_replicas, "westus", state=JobState.FAILED, error="manifest unknown",
        spec={"source_region": "eastus", "images": [], "origin": ReplicationOrigin.RECONCILE})
    return contoso_with_replicas


# Job history


def test_job_history_lists_every_job_with_trigger_region_duration_bytes_and_result(signed_in, history):
    response = signed_in.get("/registries/contoso/jobs/")
    assert response.status_code == 200
    html = text(response)
    rows = dict(re.findall(r'<tr data-job="(\d+)"[^>]*>(.*?)</tr>', html, flags=re.S))
    assert len(rows) == 4
    by_kind = {ReplicationJob.objects.get(pk=pk).kind + ReplicationJob.objects.get(pk=pk).region.name: row
               for pk, row in rows.items()}
    copy = by_kind["event_copyeastus"]
    assert "Event copy" in copy and "A registry event" in copy and "East US" in copy and "4.0 s" in copy
    assert "3.0 MB of 3.0 MB" in copy and "Succeeded" in copy
    reconcile = by_kind["event_copywestus"]
    assert "The reconcile loop" in reconcile and "manifest unknown" in reconcile and "Failed" in reconcile
    assert "Replica created" in by_kind["initialcanadacentral"]
    assert "Cannot reach a regional registry" in by_kind["initialcanadacentral"]
    assert "/api/v1/registries/contoso/jobs/" in html


def test_job_history_filters_by_region_and_state_and_keeps_the_choice(signed_in, history):
    response = signed_in.get("/registries/contoso/jobs/?region=eastus&state=succeeded")
    html = text(response)
    [pk] = re.findall(r'<tr data-job="(\d+)"', html)
    assert ReplicationJob.objects.get(pk=pk).kind == JobKind.EVENT_COPY
    assert '<option value="eastus" selected>' in html and '<option value="succeeded" selected>' in html
    assert "Clear</a>" in html
    response = signed_in.get("/registries/contoso/jobs/?state=failed")
    assert len(re.findall(r'<tr data-job="', text(response))) == 2
    # A region without jobs of this registry is still shown as the chosen filter.
    html = text(signed_in.get("/registries/contoso/jobs/?region=westeurope"))
    assert '<option value="westeurope" selected>' in html and "No job matches these filters." in html


def test_job_history_bad_filter_shows_the_apis_message(signed_in, api_client, history):
    api = api_client.get("/api/v1/registries/contoso/jobs/?state=stuck").json()
    response = signed_in.get("/registries/contoso/jobs/?state=stuck")
    assert response.status_code == 400
    assert response.context["form"].errors["state"] == [api["detail"]]
    assert api["detail"] in text(response) and 'data-job="' not in text(response)
    response = signed_in.get("/registries/contoso/jobs/?region=atlantis")
    assert response.status_code == 400 and "Region 'atlantis' does not exist." in text(response)


def test_job_history_pages_through_older_jobs(signed_in, contoso):
    for _ in range(30):
        job(contoso, "westus")
    html = text(signed_in.get("/registries/contoso/jobs/?region=westus"))
    assert len(re.findall(r'<tr data-job="', html)) == 25 and "page 1 of 2" in html
    assert 'href="?region=westus&amp;page=2" rel="next"' in html
    html = text(signed_in.get("/registries/contoso/jobs/?region=westus&page=2"))
    assert len(re.findall(r'<tr data-job="', html)) == 5 and "rel=\"prev\"" in html


# Registry delete


def test_delete_page_names_what_will_be_purged_from_recorded_state(signed_in, contoso_with_replicas):
    now = timezone.now()
    for region, repository, reference in [("westus", "web", "1.0"), ("westus", "web", "1.1"), ("westus", "api", "2"),
                                          ("eastus", "web", "1.0")]:
        ImageReplication.objects.create(registry=contoso_with_replicas, region=Region.objects.get(name=region),
                                        repository=f"contoso/{repository}", reference=reference,
                                        digest="sha256:" + "a" * 64, pushed_at=now)
    response = signed_in.get("/registries/contoso/delete/")
    assert response.status_code == 200
    html = text(response)
    assert "2 repositories, 3 images" in html
    rows = dict(re.findall(r'<tr data-region="([a-z]+)">(.*?)</tr>', html, flags=re.S))
    # Every deployed region is purged, with or without a replica there (as registry_delete does).
    assert set(rows) == {"westus", "eastus", "canadacentral", "westeurope"}
    assert re.search(r'<td class="num" data-label="Repositories">2</td>\s*<td class="num" data-label="Images">3</td>', rows["westus"])
    assert re.search(r'<td class="num" data-label="Repositories">1</td>\s*<td class="num" data-label="Images">1</td>', rows["eastus"])
    assert "Syncing" in rows["eastus"] and "Failed" in rows["canadacentral"] and "none (purged anyway" in rows["westeurope"]


def test_delete_needs_the_name_typed_and_keeps_what_was_typed(signed_in, contoso):
    response = signed_in.post("/registries/contoso/delete/", {"confirm_name": "contos"})
    assert response.status_code == 400
    assert response.context["form"].errors["confirm_name"] == [
        "That is not the registry's name: type contoso to delete it."]
    assert 'value="contos"' in text(response)
    assert Registry.objects.filter(name="contoso").exists()


def test_delete_with_the_name_deletes_and_queues_the_purges(signed_in, contoso, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in.post("/registries/contoso/delete/", {"confirm_name": "contoso"}, follow=True)
    assert response.redirect_chain == [("/registries/", 302)]
    assert page_messages(response) == ["Registry 'contoso' deleted; its content is being purged in 4 region(s)."]
    assert not Registry.objects.filter(name="contoso").exists()
    assert ReplicationJob.objects.filter(kind=JobKind.PURGE).count() == 4 and len(callbacks) == 4
    assert ActivityRecord.objects.filter(action="registry.delete", registry_name="contoso").exists()


def test_only_owners_see_the_delete_button_and_page(contoso, django_user_model):
    contributor = django_user_model.objects.create_user("carl")
    access.role_assignment_create(registry=contoso, username="carl", role="contributor")
    client = Client()
    client.force_login(contributor)
    assert "/registries/contoso/delete/" not in text(client.get("/registries/contoso/"))
    assert client.get("/registries/contoso/delete/").status_code == 403
    assert client.post("/registries/contoso/delete/", {"confirm_name": "contoso"}).status_code == 403
    assert Registry.objects.filter(name="contoso").exists()


def test_owner_sees_the_delete_button(signed_in, contoso):
    assert 'href="/registries/contoso/delete/"' in text(signed_in.get("/registries/contoso/"))


# SKU change confirmation


def test_choosing_the_current_sku_changes_nothing_without_asking(signed_in, contoso_with_replicas):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Premium"}, follow=True)
    assert page_messages(response) == ["The SKU is already Premium; nothing changed."]


def test_downgrade_confirmation_shows_cost_and_applies_only_when_confirmed(signed_in, contoso):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Basic"})
    assert response.status_code == 200
    html = text(response)
    assert "Downgrade contoso from Premium to Basic?" in html
    assert '<strong id="sku-new-cost">$5.01</strong>' in html and "$50.01" in html and "−$45.00" in html
    assert 'name="confirm" value="yes"' in html
    assert Registry.objects.get(name="contoso").sku.name == "Premium"
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Basic", "confirm": "yes"}, follow=True)
    assert page_messages(response) == ["SKU changed from Premium to Basic: $50.01 → $5.01 a month for 1 region(s)."]
    assert Registry.objects.get(name="contoso").sku.name == "Basic"


def test_a_change_the_service_refuses_is_refused_before_the_confirmation(signed_in, contoso_with_replicas):
    response = signed_in.post("/registries/contoso/sku/", {"sku": "Standard"}, follow=True)
    assert response.redirect_chain == [("/registries/contoso/", 302)]
    assert page_messages(response) == ["Cannot change SKU to Standard: geo-replication needs Premium. "
                                       "Delete the replicas in canadacentral, eastus first."]


# The portal's own error pages and icon


def test_unknown_address_is_the_portals_404_without_debug_details(signed_in, settings):
    settings.DEBUG = False
    response = signed_in.get("/no/such/page/")
    assert response.status_code == 404
    html = text(response)
    assert "There is no page at <code>/no/such/page/</code>." in html
    assert 'class="site-header"' in html and "portal.css" in html and "favicon.svg" in html
    assert "Resolver404" not in html and "URLconf" not in html and "Traceback" not in html


def test_a_server_error_is_the_portals_500_page_in_its_style(signed_in, contoso, settings, monkeypatch):
    settings.DEBUG = False
    from replication import views

    def broken(**kwargs):
        raise RuntimeError("secret-internals-that-must-not-leak")

    monkeypatch.setattr(views.selectors, "replica_list", broken)
    signed_in.raise_request_exception = False
    response = signed_in.get("/registries/contoso/")
    assert response.status_code == 500
    html = text(response)
    assert "Server error" in html and "portal.css" in html and "favicon.svg" in html
    assert "secret-internals" not in html and "Traceback" not in html


def test_favicon_is_linked_and_favicon_ico_answers(signed_in, contoso):
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in text(signed_in.get("/registries/"))
    response = signed_in.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.svg"
