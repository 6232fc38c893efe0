"""Staged rotation of the signing key against real Distribution registries: a registry restarted with
the staged bundle accepts tokens of the new key and still those of the old one."""
import httpx
import jwt
import pytest
from django.core.management import CommandError, call_command

from replication.local_fleet import fleet_token_auth
from replication.services.token_service import replication_credentials
from replication.token_service.keys import root_bundle_path

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signing_dir(settings, tmp_path):
    """Keys of this test only (the realm runs in this process, so it signs with them too)."""
    settings.TOKEN_SIGNING_DIR = tmp_path / "signing"
    return settings.TOKEN_SIGNING_DIR


def token_from(portal_server, settings) -> str:
    username, password = replication_credentials(prefix="rot/", actions=("pull", "push"))
    response = httpx.get(portal_server.url + "/oauth2/token", auth=(username, password),
                         params={"service": settings.TOKEN_SERVICE_NAME, "scope": "repository:rot/app:pull,push"})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def upload_status(registry, token: str) -> int:
    """202 when the registry verifies the token and it grants push; 401 when the registry cannot verify it."""
    return httpx.post(f"{registry.url}/v2/rot/app/blobs/uploads/",
                      headers={"Authorization": f"Bearer {token}"}).status_code


def test_after_stage_and_activate_new_and_old_tokens_are_accepted(signing_dir, settings, portal_server,
                                                                 registry_factory):
    started_before = registry_factory("before", auth=fleet_token_auth(portal_url=portal_server.url))
    old_token = token_from(portal_server, settings)
    assert upload_status(started_before, old_token) == 202

    call_command("rotate_signing_key", "--stage")
    assert root_bundle_path().read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert jwt.get_unverified_header(token_from(portal_server, settings))["kid"] == jwt.get_unverified_header(
        old_token)["kid"], "staging alone does not change the signing key"
    restarted = registry_factory("restarted", auth=fleet_token_auth(portal_url=portal_server.url))  # new bundle
    call_command("rotate_signing_key", "--activate")
    new_token = token_from(portal_server, settings)
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]

    assert upload_status(restarted, new_token) == 202
    assert upload_status(restarted, old_token) == 202, "tokens signed before the switch stay valid"
    assert upload_status(started_before, new_token) == 401, "a registry trusts only the bundle it started with"


def test_retire_waits_a_token_lifetime_then_drops_the_old_certificate(signing_dir, settings, portal_server,
                                                                     registry_factory):
    old_token = token_from(portal_server, settings)
    call_command("rotate_signing_key", "--stage", "--activate")
    with pytest.raises(CommandError, match="stay valid"):
        call_command("rotate_signing_key", "--retire")
    assert root_bundle_path().read_bytes().count(b"BEGIN CERTIFICATE") == 2
    call_command("rotate_signing_key", "--retire", "--force")
    assert root_bundle_path().read_bytes().count(b"BEGIN CERTIFICATE") == 1
    registry = registry_factory("retired", auth=fleet_token_auth(portal_url=portal_server.url))
    assert upload_status(registry, old_token) == 401
    assert upload_status(registry, token_from(portal_server, settings)) == 202
