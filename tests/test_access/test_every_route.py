"""Every route of the API and of the portal, walked from the OpenAPI schema and the URL resolver
(never a hand list that can go stale), as a signed-in user with no role on the registry and as a
user with only `pull`: the first sees nothing (404, as for an unknown registry), the second reads
but every write is refused (403), and neither changes a row or queues work."""
import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from replication import urls as page_urls
from replication.choices import RegistryPermission
from replication.api import urls as api_urls

from .conftest import api_client_for, database_snapshot

# Routes that are not about one registry; anything else the walk finds must be.
API_ROUTES_WITHOUT_A_REGISTRY = {
    "/api/v1/auth/token/", "/api/v1/events/", "/api/v1/regions/", "/api/v1/regions/{name}/", "/api/v1/registries/",
    "/api/v1/skus/",
}
PAGE_ROUTES_WITHOUT_A_REGISTRY = {"home", "registry-list", "fragment-registry-list"}

# Bodies an owner's request would succeed with, so a refusal is the check's doing, not the body's.
API_BODIES = {
    ("/api/v1/registries/{name}/", "patch"): {"sku": "Premium", "anonymous_pull": True},
    ("/api/v1/registries/{name}/replicas/", "post"): {"region": "westeurope"},
    ("/api/v1/registries/{name}/replicas/{region}/", "patch"): {"region_endpoint_enabled": False},
    ("/api/v1/registries/{name}/import/", "post"): {"source": {"registry_url": "registry.example.com",
                                                               "repository": "team/web", "reference": "1.2"}},
    ("/api/v1/registries/{name}/role-assignments/", "post"): {"user": "steve", "role": "owner"},
    ("/api/v1/registries/{name}/tokens/", "post"): {"name": "stolen-token",
                                                    "scope": [{"repository": "*", "actions": ["push"]}]},
    ("/api/v1/registries/{name}/webhooks/", "post"): {"name": "hooktwo", "region": "westus", "actions": ["push"],
                                                      "service_uri": "https://evil.example.com/",
                                                      "secret": "s3cret-for-signing-0123456789"},
    ("/api/v1/registries/{name}/webhooks/{webhook}/", "patch"): {"service_uri": "https://evil.example.com/"},
}
PAGE_BODIES = {
    "registry-change-sku": {"sku": "Standard"},
    "registry-anonymous-pull": {"enabled": "true"},
    "replica-create": {"region": "westeurope"},
    "replica-routing": {"enabled": "false"},
    "registry-delete": {"confirm_name": "contoso"},
    "webhook-list": {"name": "hooktwo", "region": "westus", "actions": ["push"],
                     "service_uri": "https://evil.example.com/", "secret": "s3cret-for-signing-0123456789"},
    "webhook-detail": {"region": "westus", "actions": ["push"], "service_uri": "https://evil.example.com/"},
    "webhook-enabled": {"enabled": "false"},
}


def api_operations() -> list[tuple[str, str]]:
    """(path template, method) of every operation in the OpenAPI schema."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [(path, method) for path, operations in paths.items() for method in operations if method != "parameters"]


def api_url(template: str, contoso) -> str:
    values = {"name": contoso.registry.name, "region": "eastus", "webhook": contoso.webhook.name,
              "token": contoso.token.name, "delivery": contoso.delivery.pk,
              "id": (contoso.job.pk if template.startswith("/api/v1/jobs/") else contoso.scrub.pk if "/scrubs/" in template
                     else contoso.assignment.pk)}
    return re.sub(r"\{(\w+)\}", lambda match: str(values[match.group(1)]), template)


def page_routes() -> list[tuple[str, str, str]]:
    """(url name, route, method) of every portal page and form target."""
    routes = []
    for pattern in page_urls.urlpatterns:
        view_class = pattern.callback.view_class
        for method in ("get", "post"):
            if hasattr(view_class, method) and method in view_class.http_method_names:
                routes.append((pattern.name, str(pattern.pattern), method))
    return routes


def page_url(route: str, contoso) -> str:
    values = {"name": contoso.registry.name, "region": "eastus", "webhook": contoso.webhook.name,
              "delivery": str(contoso.delivery.pk)}
    return "/" + re.sub(r"<\w+:(\w+)>", lambda match: values[match.group(1)], route)


def unknown_registry_answer(client, url, method, contoso):
    """What the same request answers for a registry that does not exist (same spelling of the name's place)."""
    return getattr(client, method)(url.replace(f"/{contoso.registry.name}/", "/nosuchregistry/"), format="json")


def page_get_permission(name: str) -> RegistryPermission:
    """What a page's GET needs: READ unless its view declares more (a confirmation page before a change)."""
    pattern = next(pattern for pattern in page_urls.urlpatterns if pattern.name == name)
    return getattr(pattern.callback.view_class, "page_permission", RegistryPermission.READ)


REGISTRY_API_OPERATIONS = [op for op in api_operations() if op[0] not in API_ROUTES_WITHOUT_A_REGISTRY]
REGISTRY_PAGE_ROUTES = [route for route in page_routes() if route[0] not in PAGE_ROUTES_WITHOUT_A_REGISTRY]


def test_the_walk_covers_every_api_route_and_page():
    # The schema leaves no API route out, and the walk found the routes about a registry.
    assert len({path for path, _ in api_operations()}) == len(api_urls.urlpatterns)
    assert {path for path, _ in api_operations()} >= API_ROUTES_WITHOUT_A_REGISTRY
    assert len(REGISTRY_API_OPERATIONS) >= 28
    assert {name for name, _, _ in page_routes()} >= PAGE_ROUTES_WITHOUT_A_REGISTRY
    assert len(REGISTRY_PAGE_ROUTES) >= 7


@pytest.mark.parametrize("template, method", REGISTRY_API_OPERATIONS)
def test_api_answers_a_user_without_a_role_as_if_the_registry_did_not_exist(
        template, method, contoso, stranger, django_capture_on_commit_callbacks):
    client = api_client_for(stranger)
    url = api_url(template, contoso)
    before = database_snapshot()
    with django_capture_on_commit_callbacks() as queued:
        response = getattr(client, method)(url, API_BODIES.get((template, method), {}), format="json")
    assert response.status_code == 404, (url, response.content)
    if template.startswith("/api/v1/jobs/"):
        assert response.json() == {"detail": f"Job {contoso.job.pk} does not exist.", "code": "not_found"}
    else:
        assert response.json() == {"detail": "Registry 'contoso' does not exist.", "code": "not_found"}
        unknown = unknown_registry_answer(client, url, method, contoso)
        assert unknown.json() == {"detail": "Registry 'nosuchregistry' does not exist.", "code": "not_found"}
    assert database_snapshot() == before and queued == []


@pytest.mark.parametrize("template, method", REGISTRY_API_OPERATIONS)
def test_api_lets_a_pull_user_read_and_refuses_every_write(
        template, method, contoso, puller, django_capture_on_commit_callbacks):
    client = api_client_for(puller)
    url = api_url(template, contoso)
    before = database_snapshot()
    with django_capture_on_commit_callbacks() as queued:
        response = getattr(client, method)(url, API_BODIES.get((template, method), {}), format="json")
    administrative = "/role-assignments/" in template or "/tokens/" in template
    if method == "get" and not administrative:
        # Reads: allowed (replication-status answers 400 without its query, past the check).
        assert response.status_code in (200, 400), (url, response.content)
        body = response.json()
        assert not isinstance(body, dict) or body.get("code") not in ("not_found", "permission_denied")
    else:
        assert response.status_code == 403, (url, response.content)
        body = response.json()
        assert body["code"] == "permission_denied" and "contoso" in body["detail"]
    assert database_snapshot() == before and queued == []


@pytest.mark.parametrize("name, route, method", REGISTRY_PAGE_ROUTES)
def test_pages_answer_a_user_without_a_role_with_404(name, route, method, contoso, stranger,
                                                      django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(stranger)
    url = page_url(route, contoso)
    before = database_snapshot()
    with django_capture_on_commit_callbacks() as queued:
        response = getattr(client, method)(url, PAGE_BODIES.get(name, {}))
    assert response.status_code == 404, url
    assert "Registry &#x27;contoso&#x27; does not exist." in response.content.decode()
    assert database_snapshot() == before and queued == []


@pytest.mark.parametrize("name, route, method", REGISTRY_PAGE_ROUTES)
def test_pages_let_a_pull_user_look_and_refuse_every_form(name, route, method, contoso, puller,
                                                           django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(puller)
    url = page_url(route, contoso)
    before = database_snapshot()
    with django_capture_on_commit_callbacks() as queued:
        response = getattr(client, method)(url, PAGE_BODIES.get(name, {}))
    if method == "get" and page_get_permission(name) == RegistryPermission.READ:
        assert response.status_code == 200, url
    else:  # forms, and pages that only lead to a change (confirmations) and need its permission
        assert response.status_code == 403, url
        assert "Your role on registry &#x27;contoso&#x27; does not allow this" in response.content.decode()
    assert database_snapshot() == before and queued == []
