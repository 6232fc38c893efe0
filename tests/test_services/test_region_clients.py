"""services.region_clients: the engine's clients of the regional registries, which require tokens."""
import time

import pytest

from replication.services import region_clients
from replication.services.region_clients import region_client

REPOSITORY = "contoso/shared-tokens"


@pytest.fixture
def issued(monkeypatch):
    """Every token the engine issues itself (in process, as the realm would), by scope."""
    scopes = []
    issue = region_clients.registry_token_issue

    def counting(*, service, scopes: list, username, password):
        issued.append(" ".join(scopes))
        return issue(service=service, scopes=scopes, username=username, password=password)

    issued = scopes
    monkeypatch.setattr(region_clients, "registry_token_issue", counting)
    region_clients._tokens_by_endpoint.clear()  # what earlier tests left in this process
    return scopes


def test_a_new_jobs_client_uses_the_token_an_earlier_one_got_for_the_same_scope(deployed_regions, issued):
    with region_client(deployed_regions["eastus"], repositories=[REPOSITORY]) as first:
        assert first.head_manifest(REPOSITORY, "1.0") is None  # 401, a token, then 404
    with region_client(deployed_regions["eastus"], repositories=[REPOSITORY]) as second:
        assert second.head_manifest(REPOSITORY, "1.0") is None  # the token at once
    assert issued == [f"repository:{REPOSITORY}:pull"]


def test_tokens_are_kept_per_registry_and_per_scope(deployed_regions, issued):
    with region_client(deployed_regions["eastus"], repositories=[REPOSITORY]) as eastus:
        eastus.head_manifest(REPOSITORY, "1.0")
    with region_client(deployed_regions["westus"], repositories=[REPOSITORY]) as westus:
        westus.head_manifest(REPOSITORY, "1.0")
    with region_client(deployed_regions["eastus"], repositories=[REPOSITORY], actions=("pull", "delete")) as deleter:
        assert deleter.delete_manifest(REPOSITORY, "sha256:" + "0" * 64) is False
    assert issued == [f"repository:{REPOSITORY}:pull"] * 2 + [f"repository:{REPOSITORY}:delete"]


def test_a_shared_token_the_registry_refuses_is_replaced(deployed_regions, issued):
    endpoint = deployed_regions["eastus"].endpoint
    region_clients._engine_tokens(endpoint).put(f"repository:{REPOSITORY}:pull", "not-a-token",
                                                time.monotonic() + 300)
    with region_client(deployed_regions["eastus"], repositories=[REPOSITORY]) as client:
        assert client.head_manifest(REPOSITORY, "1.0") is None
    assert issued == [f"repository:{REPOSITORY}:pull"]
    assert region_clients._engine_tokens(endpoint).get(f"repository:{REPOSITORY}:pull")[0] != "not-a-token"
