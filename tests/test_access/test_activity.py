"""The activity log: every change to a registry leaves one record with its actor and no secret; refused
or rolled-back changes leave none; the API lists it newest first, filtered; the overview page shows it."""
import json
from collections import Counter

import pytest
from django.test import Client

from replication import services
from replication.choices import ActivityAction, JobState
from replication.models import ActivityRecord, Registry, ReplicationJob
from replication.services.activity import activity_record

from .conftest import api_client_for

REGISTRY = "/api/v1/registries/contoso/"
ACTIVITY = REGISTRY + "activity/"
WEBHOOK_SECRET, NEW_WEBHOOK_SECRET = "first-signing-secret-0123456789", "second-signing-secret-9876543210"
HEADER_VALUE = "Bearer header-credential-abcdef"
URI_TOKEN, NEW_URI_TOKEN = "uri-path-token-314159", "uri-query-token-271828"
IMPORT_USERNAME, IMPORT_PASSWORD = "import-robot-user", "import-source-password-161803"


def records_after(mark: int):
    return ActivityRecord.objects.filter(pk__gt=mark).order_by("pk")


def last_record_id() -> int:
    return ActivityRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def make_changes_through_the_api(client) -> list[str]:
    """One change of every kind on contoso; returns the secrets used along the way."""
    def ok(response, status):
        assert response.status_code == status, response.content
        return response

    ok(client.patch(REGISTRY, {"anonymous_pull": True}, format="json"), 200)
    ok(client.post(REGISTRY + "replicas/", {"region": "westeurope"}, format="json"), 202)
    ReplicationJob.objects.filter(replica__region__name="eastus").update(state=JobState.SUCCEEDED)
    ok(client.post(REGISTRY + "replicas/eastus/sync/"), 202)
    ok(client.patch(REGISTRY + "replicas/eastus/", {"region_endpoint_enabled": False}, format="json"), 200)
    ok(client.delete(REGISTRY + "replicas/westeurope/"), 202)
    ok(client.post(REGISTRY + "webhooks/", {
        "name": "hooktwo", "region": "westus", "actions": ["push"], "secret": WEBHOOK_SECRET,
        "service_uri": f"https://hooks.example.com/{URI_TOKEN}", "custom_headers": {"Authorization": HEADER_VALUE},
    }, format="json"), 201)
    ok(client.patch(REGISTRY + "webhooks/hooktwo/", {
        "service_uri": f"https://other.example.com/in?key={NEW_URI_TOKEN}", "secret": NEW_WEBHOOK_SECRET,
        "actions": ["push", "delete"]}, format="json"), 200)
    ok(client.post(REGISTRY + "webhooks/hooktwo/ping/"), 202)
    ok(client.delete(REGISTRY + "webhooks/hooktwo/"), 204)
    ok(client.post(REGISTRY + "import/", {"source": {
        "registry_url": "registry.example.com", "repository": "team/web", "reference": "1.2",
        "username": IMPORT_USERNAME, "password": IMPORT_PASSWORD}, "target_tags": ["web:1.2"]}, format="json"), 202)
    assignment = ok(client.post(REGISTRY + "role-assignments/", {"user": "steve", "role": "push"}, format="json"), 201)
    ok(client.delete(f"{REGISTRY}role-assignments/{assignment.json()['id']}/"), 204)
    token = ok(client.post(REGISTRY + "tokens/", {"name": "deploy-bot", "scope": [
        {"repository": "apps/*", "actions": ["pull"]}]}, format="json"), 201)
    ok(client.delete(REGISTRY + "tokens/deploy-bot/"), 204)
    ok(client.patch(REGISTRY, {"sku": "Premium"}, format="json"), 200)  # no change: nothing to record
    return [WEBHOOK_SECRET, NEW_WEBHOOK_SECRET, HEADER_VALUE, URI_TOKEN, NEW_URI_TOKEN, IMPORT_USERNAME,
            IMPORT_PASSWORD, token.json()["password"]]


def test_each_change_records_one_row_with_its_actor_and_no_secret(contoso, owner, stranger):
    mark = last_record_id()
    secrets = make_changes_through_the_api(api_client_for(owner))
    records = list(records_after(mark))
    assert Counter(record.action for record in records) == Counter({
        action: 1 for action in ["registry.anonymous_pull", "replica.create", "replica.resync", "replica.routing",
                                 "replica.delete", "webhook.create", "webhook.update", "webhook.ping",
                                 "webhook.delete", "import.create", "role.assign", "role.remove", "token.create",
                                 "token.delete"]})
    assert {(r.actor_id, r.actor_name, r.actor_kind, r.registry_name) for r in records} == {
        (owner.pk, "olivia", "user", "contoso")}
    stored = json.dumps([[r.target, r.detail] for r in ActivityRecord.objects.all()])
    for secret in secrets:
        assert secret not in stored
    by_action = {record.action: record for record in records}
    assert by_action["replica.routing"].target == "eastus"
    assert by_action["replica.routing"].detail == {"region_endpoint_enabled": {"from": True, "to": False}}
    assert by_action["webhook.update"].detail == {
        "service_uri_host": {"from": "https://hooks.example.com", "to": "https://other.example.com"},
        "actions": {"from": ["push"], "to": ["push", "delete"]},
        "custom_header_names": {"from": ["Authorization"], "to": []}, "new_secret": True}
    assert by_action["role.assign"].target == "steve" and by_action["role.assign"].detail == {"role": "push"}
    assert by_action["import.create"].detail["with_credentials"] is True


def test_creating_deleting_and_changing_the_sku_of_a_registry_are_recorded(deployed_regions, owner):
    client = api_client_for(owner)
    assert client.post("/api/v1/registries/", {"name": "fabrikam", "sku": "Standard", "home_region": "westus"},
                       format="json").status_code == 201
    assert client.patch("/api/v1/registries/fabrikam/", {"sku": "Premium"}, format="json").status_code == 200
    registry = Registry.objects.get(name="fabrikam")
    assert client.delete("/api/v1/registries/fabrikam/").status_code == 204
    records = list(ActivityRecord.objects.filter(registry_name="fabrikam").order_by("pk"))
    assert [(r.action, r.actor_name, r.detail) for r in records] == [
        ("registry.create", "olivia", {"sku": "Standard", "home_region": "westus"}),
        ("registry.sku_change", "olivia", {"sku": {"from": "Standard", "to": "Premium"}}),
        ("registry.delete", "olivia", {"sku": "Premium", "replicas": ["westus"]}),
    ]
    # The records outlive the registry (for staff, in the admin), and a new registry of that name does not inherit them.
    assert all(r.registry_id is None for r in ActivityRecord.objects.filter(registry_name="fabrikam"))
    client.post("/api/v1/registries/", {"name": "fabrikam", "sku": "Basic", "home_region": "westus"}, format="json")
    listed = client.get("/api/v1/registries/fabrikam/activity/").json()
    assert [r["action"] for r in listed] == ["registry.create"] and registry.pk != Registry.objects.get(
        name="fabrikam").pk


def test_the_pages_record_their_changes_with_the_signed_in_user(contoso, contributor):
    client = Client()
    client.force_login(contributor)
    mark = last_record_id()
    client.post("/registries/contoso/replications/eastus/routing/", {"enabled": "false"})
    client.post("/registries/contoso/replications/create/", {"region": "westeurope"})
    assert [(r.action, r.target, r.actor_name) for r in records_after(mark)] == [
        ("replica.routing", "eastus", "carl"), ("replica.create", "westeurope", "carl")]


def test_a_change_without_a_user_is_recorded_as_the_system(deployed_regions):
    registry = services.registry_create(name="northwind", sku="Premium", home_region="westus")
    record = ActivityRecord.objects.get(registry=registry)
    assert (record.action, record.actor, record.actor_name, record.actor_kind) == (
        "registry.create", None, "", "system")


def test_refused_changes_record_nothing(contoso, owner):
    client = api_client_for(owner)
    mark = last_record_id()
    own = contoso.registry.role_assignments.get(user=owner)
    refused = [
        client.post(REGISTRY + "replicas/eastus/sync/"),  # its initial sync is still queued
        client.delete(f"{REGISTRY}role-assignments/{own.pk}/"),  # the last owner
        client.patch(REGISTRY, {"sku": "Basic"}, format="json"),  # replicas need Premium
        client.post(REGISTRY + "replicas/", {"region": "eastus"}, format="json"),  # already there
        client.post(REGISTRY + "webhooks/", {"name": "hookone", "region": "westus", "actions": ["push"],
                                             "service_uri": "https://hooks.example.com/", "secret": WEBHOOK_SECRET},
                    format="json"),  # the name is taken
    ]
    assert [response.status_code for response in refused] == [409] * 5
    assert not records_after(mark).exists()
    # Rolled back: turning anonymous pull off is recorded, then the SKU change in the same PATCH is refused.
    services.registry_set_anonymous_pull(registry=contoso.registry, enabled=True, actor=owner)
    mark = last_record_id()
    response = client.patch(REGISTRY, {"anonymous_pull": False, "sku": "Basic"}, format="json")
    assert response.status_code == 409
    assert Registry.objects.get(name="contoso").anonymous_pull is True
    assert not records_after(mark).exists()


def test_the_api_lists_newest_first_and_filters_by_action(contoso, owner):
    client = api_client_for(owner)
    for enabled in (True, False, True):
        client.patch(REGISTRY, {"anonymous_pull": enabled}, format="json")
    listed = client.get(ACTIVITY).json()
    assert [r["id"] for r in listed] == sorted((r["id"] for r in listed), reverse=True)
    assert listed[0] == {"id": listed[0]["id"], "registry": "contoso", "action": "registry.anonymous_pull",
                         "target": "", "actor": "olivia", "actor_kind": "user",
                         "detail": {"anonymous_pull": {"from": False, "to": True}},
                         "created_at": listed[0]["created_at"]}
    switched = client.get(ACTIVITY, {"action": "registry.anonymous_pull", "limit": 2}).json()
    assert [r["detail"]["anonymous_pull"]["to"] for r in switched] == [True, False]
    assert {r["action"] for r in client.get(ACTIVITY, {"action": "token.create"}).json()} == {"token.create"}
    assert client.get(ACTIVITY, {"action": "registry.rename"}).status_code == 400
    assert client.get(ACTIVITY, {"limit": 501}).json()["field"] == "limit"


def test_a_user_without_a_role_gets_404_and_readers_do_not_see_role_and_token_changes(contoso, stranger, puller):
    assert api_client_for(stranger).get(ACTIVITY).json() == {"detail": "Registry 'contoso' does not exist.",
                                                             "code": "not_found"}
    # Role and token changes say who can reach the registry: their own routes need `administer`.
    listed = {r["action"] for r in api_client_for(puller).get(ACTIVITY).json()}
    assert "replica.create" in listed and not listed & {"role.assign", "token.create"}


def test_the_overview_page_shows_the_activity_escaped(contoso, owner):
    with_markup = activity_record(registry=contoso.registry, actor=owner, action=ActivityAction.WEBHOOK_PING,
                                  target="<script>alert(1)</script>", detail={"note": "<b>bold</b>"})
    client = Client()
    client.force_login(owner)
    page = client.get("/registries/contoso/").content.decode()
    panel = page[page.index('id="activity"'):]
    assert "Role assigned" in panel and "<code>paula</code>" in panel and "olivia" in panel
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>alert(1)" not in panel
    assert "note: &lt;b&gt;bold&lt;/b&gt;" in panel
    assert panel.index(with_markup.target.replace("<", "&lt;").replace(">", "&gt;")) < panel.index("Role assigned")


def test_a_record_refuses_keys_that_could_hold_a_secret(contoso):
    with pytest.raises(ValueError, match="may not hold 'secret'"):
        activity_record(registry=contoso.registry, actor=None, action=ActivityAction.WEBHOOK_UPDATE,
                        detail={"fields": [{"secret": "x"}]})
