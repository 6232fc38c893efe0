"""Role assignments and registry tokens through the API; lists show only what the caller may see."""
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.test import Client
from django.utils import timezone

from replication import selectors
from replication.models import RegistryToken, RoleAssignment

from .conftest import api_client_for

ROLES = "/api/v1/registries/contoso/role-assignments/"
TOKENS = "/api/v1/registries/contoso/tokens/"


def token_body(**overrides):
    body = {"name": "deploy-bot", "scope": [{"repository": "apps/*", "actions": ["push", "pull"]}],
            "expires_at": (timezone.now() + timedelta(days=30)).isoformat()}
    body.update(overrides)
    return body


# Role assignments


def test_owner_lists_and_grants_roles(contoso, owner, stranger):
    client = api_client_for(owner)
    listed = {(a["user"], a["role"]) for a in client.get(ROLES).json()}
    assert listed == {("olivia", "owner"), ("paula", "pull"), ("carl", "contributor")}
    response = client.post(ROLES, {"user": "steve", "role": "push"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["user"] == "steve" and response.json()["role"] == "push"
    assert response["Location"].endswith(f"{ROLES}{response.json()['id']}/")
    # The grant takes effect: steve now sees contoso, and may not manage it.
    steve = api_client_for(stranger)
    assert steve.get("/api/v1/registries/contoso/").status_code == 200
    assert steve.post("/api/v1/registries/contoso/replicas/", {"region": "westeurope"},
                      format="json").status_code == 403


@pytest.mark.parametrize("body, field, message", [
    ({"user": "nobody", "role": "pull"}, "user", "User 'nobody' does not exist."),
    ({"user": "steve", "role": "admin"}, "role", "Role 'admin' does not exist; choose one of: owner, contributor, "
                                                 "push, pull, delete."),
])
def test_unknown_user_or_role_is_refused(contoso, owner, stranger, body, field, message):
    response = api_client_for(owner).post(ROLES, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": message, "code": "invalid", "field": field}


def test_a_duplicate_role_assignment_is_a_conflict(contoso, owner):
    response = api_client_for(owner).post(ROLES, {"user": "paula", "role": "pull"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "User 'paula' already has the role 'pull' on registry 'contoso'."


def test_the_last_owner_cannot_be_removed_but_one_of_two_can(contoso, owner, stranger):
    client = api_client_for(owner)
    own = RoleAssignment.objects.get(registry=contoso.registry, user=owner, role="owner")
    response = client.delete(f"{ROLES}{own.pk}/")
    assert response.status_code == 409
    assert "'olivia' is the last owner of registry 'contoso'" in response.json()["detail"]
    assert RoleAssignment.objects.filter(pk=own.pk).exists()

    client.post(ROLES, {"user": "steve", "role": "owner"}, format="json")
    assert client.delete(f"{ROLES}{own.pk}/").status_code == 204
    assert not RoleAssignment.objects.filter(pk=own.pk).exists()
    assert client.get("/api/v1/registries/contoso/").status_code == 404  # olivia gave contoso away


def test_removing_a_role_takes_the_registry_out_of_sight(contoso, owner, puller):
    assert api_client_for(owner).delete(f"{ROLES}{contoso.assignment.pk}/").status_code == 204
    assert api_client_for(puller).get("/api/v1/registries/contoso/").status_code == 404


def test_a_contributor_manages_replicas_but_not_roles_tokens_or_deletion(contoso, contributor):
    client = api_client_for(contributor)
    assert client.patch("/api/v1/registries/contoso/", {"sku": "Premium"}, format="json").status_code == 200
    for response in [client.get(ROLES), client.post(ROLES, {"user": "carl", "role": "owner"}, format="json"),
                     client.get(TOKENS), client.post(TOKENS, token_body(), format="json"),
                     client.delete("/api/v1/registries/contoso/"),
                     client.patch("/api/v1/registries/contoso/", {"anonymous_pull": True}, format="json")]:
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not RoleAssignment.objects.filter(user=contributor, role="owner").exists()


# Registry tokens


def test_token_password_is_shown_once_and_hashed_at_rest(contoso, owner, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # production's default
    client = api_client_for(owner)
    response = client.post(TOKENS, token_body(), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["username"] == "contoso/deploy-bot"
    assert created["scope"] == [{"repository": "apps/*", "actions": ["pull", "push"]}]
    password = created["password"]
    assert len(password) >= 32

    stored = RegistryToken.objects.get(registry=contoso.registry, name="deploy-bot")
    assert password not in stored.password_hash and identify_hasher(stored.password_hash).algorithm == "pbkdf2_sha256"
    assert check_password(password, stored.password_hash)
    assert stored.created_by == owner

    for body in [client.get(TOKENS).content, client.get(f"{TOKENS}deploy-bot/").content]:
        assert password.encode() not in body and stored.password_hash.encode() not in body
        assert b'"password' not in body
    listed = {t["name"]: t for t in client.get(TOKENS).json()}
    assert set(listed) == {"ci-robot", "deploy-bot"}
    assert set(listed["deploy-bot"]) >= {"username", "scope", "expires_at", "last_used_at", "created_at"}
    assert listed["deploy-bot"]["last_used_at"] is None


def test_deleting_a_token_revokes_it(contoso, owner):
    client = api_client_for(owner)
    assert client.delete(f"{TOKENS}CI-robot/").status_code == 204  # names are case-insensitive
    assert not RegistryToken.objects.filter(pk=contoso.token.pk).exists()
    response = client.get(f"{TOKENS}ci-robot/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Token 'ci-robot' does not exist on registry 'contoso'."


def test_a_duplicate_token_name_is_a_conflict(contoso, owner):
    response = api_client_for(owner).post(TOKENS, token_body(name="CI-Robot"), format="json")
    assert response.status_code == 409 and response.json()["field"] == "name"
    assert RegistryToken.objects.filter(registry=contoso.registry).count() == 1


def test_a_token_without_expiry_never_expires(contoso, owner):
    body = token_body()
    del body["expires_at"]
    response = api_client_for(owner).post(TOKENS, body, format="json")
    assert response.status_code == 201 and response.json()["expires_at"] is None


@pytest.mark.parametrize("overrides, field", [
    ({"name": "abcd"}, "name"),
    ({"name": "x" * 51}, "name"),
    ({"name": "bad_name!"}, "name"),
    ({"scope": []}, "scope"),
    ({"scope": "apps/*"}, "scope"),
    ({"scope": [{"repository": "Apps/Web", "actions": ["pull"]}]}, "scope"),
    ({"scope": [{"repository": "apps/**", "actions": ["pull"]}]}, "scope"),
    ({"scope": [{"repository": "apps/*/web", "actions": ["pull"]}]}, "scope"),
    ({"scope": [{"repository": "/apps", "actions": ["pull"]}]}, "scope"),
    ({"scope": [{"repository": "a" * 250, "actions": ["pull"]}]}, "scope"),
    ({"scope": [{"repository": "apps/web", "actions": []}]}, "scope"),
    ({"scope": [{"repository": "apps/web", "actions": ["pull", "admin"]}]}, "scope"),
    ({"scope": [{"repository": "apps/web", "actions": ["pull"], "extra": 1}]}, "scope"),
    ({"scope": [{"repository": "web", "actions": ["pull"]}, {"repository": "web", "actions": ["push"]}]}, "scope"),
    ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
])
def test_bad_token_bodies_are_refused_and_nothing_is_stored(contoso, owner, overrides, field):
    response = api_client_for(owner).post(TOKENS, token_body(**overrides), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body.get("field") == field or field in body, body
    assert not RegistryToken.objects.filter(registry=contoso.registry).exclude(pk=contoso.token.pk).exists()


@pytest.mark.parametrize("repository", ["*", "apps/*", "apps/web", "my-app.v2/web__x", "a/b/c/*"])
def test_good_token_scopes_are_accepted(contoso, owner, repository):
    body = token_body(scope=[{"repository": repository, "actions": ["delete", "pull"]}])
    response = api_client_for(owner).post(TOKENS, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["scope"] == [{"repository": repository, "actions": ["pull", "delete"]}]


# Lists show only what the caller may see


@pytest.fixture
def fabrikam(contoso, stranger):
    """A second registry, owned by steve (he creates it: any signed-in user may)."""
    response = api_client_for(stranger).post("/api/v1/registries/", {"name": "fabrikam", "sku": "Standard",
                                                                     "home_region": "westus"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_registry_lists_show_only_registries_with_a_role(fabrikam, owner, puller, stranger, admin_user):
    for user, expected in [(owner, ["contoso"]), (puller, ["contoso"]), (stranger, ["fabrikam"]),
                           (admin_user, ["contoso", "fabrikam"])]:
        assert [r["name"] for r in api_client_for(user).get("/api/v1/registries/").json()] == expected
        assert [r.name for r in selectors.registry_list(user=user)] == expected
        page = Client()
        page.force_login(user)
        assert [registry.name for registry, _cost in page.get("/registries/").context["registries"]] == expected


def test_a_user_who_creates_a_registry_owns_it(fabrikam, stranger):
    assert RoleAssignment.objects.filter(registry__name="fabrikam", user=stranger, role="owner").exists()
    assert api_client_for(stranger).delete("/api/v1/registries/fabrikam/").status_code == 204


def test_regions_and_skus_are_listed_for_any_signed_in_user(contoso, stranger):
    client = api_client_for(stranger)
    assert client.get("/api/v1/regions/").status_code == 200
    assert client.get("/api/v1/regions/westus/").status_code == 200
    assert client.get("/api/v1/skus/").status_code == 200


def test_a_job_is_seen_by_those_who_see_its_registry(contoso, puller, stranger):
    url = f"/api/v1/jobs/{contoso.job.pk}/"
    assert api_client_for(puller).get(url).json()["registry"] == "contoso"
    hidden = api_client_for(stranger).get(url)
    unknown = api_client_for(stranger).get("/api/v1/jobs/999999/")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {"detail": f"Job {contoso.job.pk} does not exist.", "code": "not_found"}
