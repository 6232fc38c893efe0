"""GET/POST /oauth2/token in the portal's process: credentials, grants, errors, and the JWT's shape."""
import base64
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from replication.choices import RegistryRole
from replication.models import Region, Registry, RegistryToken, RoleAssignment, Sku
from replication.services.token_service import replication_credentials
from replication.token_service.keys import active_signing_key, libtrust_key_id

pytestmark = pytest.mark.django_db


def basic(username, password) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def access_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return jwt.decode(response.json()["token"], options={"verify_signature": False})["access"]


@pytest.fixture
def contoso(catalog):
    return Registry.objects.create(name="contoso", sku=Sku.objects.get(name="Premium"),
                                   home_region=Region.objects.get(name="westus"))


@pytest.fixture
def fabrikam(catalog):
    return Registry.objects.create(name="fabrikam", sku=Sku.objects.get(name="Standard"),
                                   home_region=Region.objects.get(name="westus"))


def user_with(django_user_model, registry, role, name="bob", **extra):
    user = django_user_model.objects.create_user(name, password="pw", **extra)
    if role:
        RoleAssignment.objects.create(registry=registry, user=user, role=role)
    return user


def registry_token(registry, name="ci", scope=None, **extra):
    return RegistryToken.objects.create(registry=registry, name=name, password_hash=make_password("tokpw"),
                                        scope=scope or [], **extra)


def test_the_token_is_an_es256_jwt_distribution_accepts(client, contoso, django_user_model, settings):
    user_with(django_user_model, contoso, RegistryRole.PULL)
    response = client.get("/oauth2/token", {"service": settings.TOKEN_SERVICE_NAME,
                                            "scope": "repository:contoso/app:pull"}, **basic("bob", "pw"))
    body = response.json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"} and body["token"] == body["access_token"]
    assert body["expires_in"] == settings.REGISTRY_TOKEN_LIFETIME
    header = jwt.get_unverified_header(body["token"])
    key = active_signing_key()
    assert header["alg"] == "ES256" and header["kid"] == key.kid == libtrust_key_id(key.certificate.public_key())
    assert len(header["kid"]) == 59 and header["kid"].count(":") == 11
    claims = jwt.decode(body["token"], key.certificate.public_key(), algorithms=["ES256"],
                        audience=settings.TOKEN_SERVICE_NAME, issuer=settings.TOKEN_ISSUER)
    assert claims["aud"] == settings.TOKEN_SERVICE_NAME  # a plain string, as Distribution wants
    assert claims["sub"] == "bob" and claims["exp"] - claims["iat"] == settings.REGISTRY_TOKEN_LIFETIME
    assert {"nbf", "jti"} <= set(claims)
    assert claims["access"] == [{"type": "repository", "name": "contoso/app", "actions": ["pull"]}]


def test_signing_files_are_private(settings, tmp_path):
    settings.TOKEN_SIGNING_DIR = tmp_path / "signing"
    key = active_signing_key()
    assert (tmp_path / "signing").stat().st_mode & 0o777 == 0o700
    files = list((tmp_path / "signing").iterdir())
    assert {f.name for f in files} >= {f"{key.key_id}.key", f"{key.key_id}.crt", "rootcertbundle.pem", "state.json"}
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files if not f.name.startswith("."))


def test_wrong_credentials_are_401_with_a_basic_challenge(client, contoso, django_user_model):
    user_with(django_user_model, contoso, RegistryRole.PULL)
    response = client.get("/oauth2/token", {"scope": "repository:contoso/app:pull"}, **basic("bob", "nope"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_an_inactive_user_is_refused(client, contoso, django_user_model):
    user_with(django_user_model, contoso, RegistryRole.PULL, is_active=False)
    assert client.get("/oauth2/token", **basic("bob", "pw")).status_code == 401


def test_a_changed_password_or_deactivation_takes_effect_at_once(client, contoso, django_user_model):
    bob = user_with(django_user_model, contoso, RegistryRole.PULL)
    assert client.get("/oauth2/token", **basic("bob", "pw")).status_code == 200  # verified: remembered a minute
    bob.set_password("new")
    bob.save()
    assert client.get("/oauth2/token", **basic("bob", "pw")).status_code == 401
    assert client.get("/oauth2/token", **basic("bob", "new")).status_code == 200
    django_user_model.objects.filter(pk=bob.pk).update(is_active=False)
    assert client.get("/oauth2/token", **basic("bob", "new")).status_code == 401


def test_a_wrong_service_is_400(client, contoso):
    response = client.get("/oauth2/token", {"service": "someone-else", "scope": "repository:contoso/app:pull"})
    assert response.status_code == 400 and response.json()["errors"][0]["message"].startswith("Unknown service")


def test_docker_login_without_scope_gets_a_token_granting_nothing(client, contoso, django_user_model):
    user_with(django_user_model, contoso, RegistryRole.OWNER)
    assert access_of(client.get("/oauth2/token", {"service": "georegistry"}, **basic("bob", "pw"))) == []


def test_post_with_grant_type_password_works_like_get(client, contoso, django_user_model):
    user_with(django_user_model, contoso, RegistryRole.PUSH)
    response = client.post("/oauth2/token", {"grant_type": "password", "username": "bob", "password": "pw",
                                             "service": "georegistry", "scope": "repository:contoso/app:pull,push"})
    assert access_of(response) == [{"type": "repository", "name": "contoso/app", "actions": ["pull", "push"]}]
    refresh = client.post("/oauth2/token", {"grant_type": "refresh_token", "refresh_token": "x"})
    assert refresh.status_code == 400


def test_users_get_the_intersection_of_requested_actions_and_their_role(client, contoso, fabrikam, django_user_model):
    user_with(django_user_model, contoso, RegistryRole.PUSH)
    response = client.get("/oauth2/token", {"scope": ["repository:contoso/app:*", "repository:fabrikam/app:pull",
                                                      "repository:Contoso/web:pull,delete", "repository:contoso:pull",
                                                      "repository:nosuchregistry/app:pull", "registry:catalog:*"]},
                          **basic("bob", "pw"))
    assert access_of(response) == [
        {"type": "repository", "name": "contoso/app", "actions": ["pull", "push"]},  # no delete with push
        {"type": "repository", "name": "Contoso/web", "actions": ["pull"]},  # the registry's name ignores case
    ]  # no role on fabrikam, nothing outside a prefix, no unknown registry, no catalog for non-staff


def test_staff_get_the_catalog(client, contoso, django_user_model):
    user_with(django_user_model, contoso, None, name="root", is_staff=True)
    assert access_of(client.get("/oauth2/token", {"scope": "registry:catalog:*"}, **basic("root", "pw"))) == [
        {"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_a_registry_token_reaches_only_its_scope_map_in_its_registry(client, contoso, fabrikam):
    registry_token(contoso, scope=[{"repository": "apps/*", "actions": ["pull", "push"]},
                                   {"repository": "base", "actions": ["pull"]}])
    registry_token(fabrikam, scope=[{"repository": "*", "actions": ["pull"]}])
    response = client.get("/oauth2/token", {"scope": [
        "repository:contoso/apps/web:pull,push,delete", "repository:contoso/apps:pull", "repository:contoso/base:*",
        "repository:contoso/other:pull", "repository:fabrikam/apps/web:pull", "registry:catalog:*"]},
        **basic("contoso/ci", "tokpw"))
    assert access_of(response) == [
        {"type": "repository", "name": "contoso/apps/web", "actions": ["pull", "push"]},
        {"type": "repository", "name": "contoso/base", "actions": ["pull"]},
    ]


def test_a_revoked_or_expired_registry_token_is_401(client, contoso):
    token = registry_token(contoso, scope=[{"repository": "*", "actions": ["pull"]}])
    assert client.get("/oauth2/token", **basic("contoso/ci", "tokpw")).status_code == 200
    token.delete()
    assert client.get("/oauth2/token", **basic("contoso/ci", "tokpw")).status_code == 401
    registry_token(contoso, name="old", expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/oauth2/token", **basic("contoso/old", "tokpw")).status_code == 401


def test_a_registry_token_records_its_use_at_most_once_a_minute(client, contoso):
    token = registry_token(contoso)
    client.get("/oauth2/token", **basic("contoso/ci", "tokpw"))
    first = RegistryToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/oauth2/token", **basic("contoso/ci", "tokpw"))
    assert RegistryToken.objects.get(pk=token.pk).last_used_at == first
    RegistryToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/oauth2/token", **basic("contoso/ci", "tokpw"))
    assert RegistryToken.objects.get(pk=token.pk).last_used_at > first - timedelta(minutes=2)


def test_anonymous_pulls_only_where_allowed_and_the_sku_permits(client, contoso, fabrikam, catalog):
    basic_registry = Registry.objects.create(name="tiny", sku=Sku.objects.get(name="Basic"), anonymous_pull=True,
                                             home_region=Region.objects.get(name="westus"))
    Registry.objects.filter(pk=fabrikam.pk).update(anonymous_pull=True)
    response = client.get("/oauth2/token", {"scope": [
        "repository:contoso/app:pull", "repository:fabrikam/app:pull,push", "repository:tiny/app:pull"]})
    assert access_of(response) == [{"type": "repository", "name": "fabrikam/app", "actions": ["pull"]}]
    assert basic_registry.anonymous_pull


def test_the_engine_gets_exactly_the_repositories_it_was_minted_for(client, contoso):
    username, password = replication_credentials(repositories=["contoso/app"], actions=("pull", "push"))
    response = client.get("/oauth2/token", {"scope": ["repository:contoso/app:pull,push,delete",
                                                      "repository:contoso/web:pull", "registry:catalog:*"]},
                          **basic(username, password))
    assert access_of(response) == [{"type": "repository", "name": "contoso/app", "actions": ["pull", "push"]}]
    username, password = replication_credentials(prefix="contoso/", catalog=True)
    response = client.get("/oauth2/token", {"scope": ["repository:contoso/deep/web:pull", "repository:fabrikam/x:pull",
                                                      "registry:catalog:*"]}, **basic(username, password))
    assert access_of(response) == [{"type": "repository", "name": "contoso/deep/web", "actions": ["pull"]},
                                   {"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_forged_or_expired_engine_credentials_are_401(client, contoso, settings):
    username, password = replication_credentials(prefix="contoso/")
    assert client.get("/oauth2/token", **basic(username, password[:-2] + "xx")).status_code == 401
    settings.REPLICATION_CREDENTIALS_MAX_AGE = -1
    assert client.get("/oauth2/token", **basic(username, password)).status_code == 401


def test_repeated_wrong_passwords_are_throttled_with_retry_after(client, contoso, django_user_model, settings):
    from django.core.cache import cache

    cache.clear()
    user_with(django_user_model, contoso, RegistryRole.PULL)
    try:
        for _ in range(settings.SIGN_IN_FAILURES_PER_USERNAME):
            assert client.get("/oauth2/token", **basic("bob", "wrong")).status_code == 401
        locked = client.get("/oauth2/token", **basic("bob", "pw"))  # even the right password, while locked
        assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
        assert locked.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        engine_user, engine_password = replication_credentials(prefix="contoso/")
        assert client.get("/oauth2/token", **basic(engine_user, engine_password)).status_code == 200
    finally:
        cache.clear()
