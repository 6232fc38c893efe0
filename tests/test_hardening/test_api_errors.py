"""API errors are always JSON {"detail", "code"}, with DEBUG on or off; the portal's pages keep HTML ones."""
import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.parsers import JSONParser
from rest_framework.test import APIClient

from replication.api.parsers import DepthLimitedJSONParser, json_depth_exceeds

DEEP_BODY = "[" * 100_000 + "]" * 100_000


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def assert_json_error(response, *, status: int, code: str | None = None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = json.loads(response.content)
    assert set(body) >= {"detail", "code"}, body
    if code:
        assert body["code"] == code, body
    return body


def test_malformed_json_is_a_json_400(api_client, debug):
    response = api_client.post("/api/v1/registries/", '{"name": ', content_type="application/json")
    assert_json_error(response, status=400, code="parse_error")


@pytest.mark.parametrize("url", ["/api/v1/registries/", "/api/v1/auth/token/"])
def test_a_body_nested_100000_deep_is_a_json_400(api_client, debug, url):
    response = api_client.post(url, DEEP_BODY, content_type="application/json")
    body = assert_json_error(response, status=400, code="too_deep")
    assert "64" in body["detail"]


def test_json_deeper_than_the_limit_is_refused_and_at_the_limit_accepted(settings):
    settings.API_JSON_MAX_DEPTH = 64
    assert not json_depth_exceeds(json.loads("[" * 64 + "]" * 64), limit=64)
    assert json_depth_exceeds(json.loads("[" * 65 + "]" * 65), limit=64)
    assert json_depth_exceeds({"a": [{"b": {}}]}, limit=3) and not json_depth_exceeds({"a": [{"b": 1}]}, limit=3)


@pytest.mark.parametrize("url", [
    "/api/v1/registries/contoso%00/",
    "/api/v1/regions/west%00us/",
    "/api/v1/registries/contoso/replicas/east%00us/",
    "/api/v1/registries/contoso/activity/?action=%00",
    "/api/v1/registries/contoso/replication-status/?repository=app%00&reference=1.0",
])
def test_a_nul_in_an_api_url_is_a_json_400_before_any_query(api_client, debug, registry_with_replicas, admin_user,
                                                           url):
    # PostgreSQL refuses NUL in any query: this was a 500 there (SQLite took it and answered 404).
    registry_with_replicas(name="contoso", owner=admin_user)
    response = api_client.get(url)
    body = assert_json_error(response, status=400, code="invalid")
    assert "NUL" in body["detail"]


def test_a_10_mb_body_is_a_json_413_before_it_is_read(api_client, debug):
    response = api_client.post("/api/v1/registries/", b"x" * (10 * 1024 * 1024), content_type="application/json")
    body = assert_json_error(response, status=413, code="too_large")
    assert str(1024 * 1024) in body["detail"]


def test_a_10_mb_body_to_the_event_intake_is_a_json_413(client, debug):
    response = client.post("/api/v1/events/", b"x" * (10 * 1024 * 1024), content_type="application/json")
    assert_json_error(response, status=413, code="too_large")


@pytest.mark.parametrize("path", ["/api/v1/jobs/987654/", "/api/v1/jobs/not-a-number/",
                                  "/api/v1/jobs/99999999999999999999999999/", "/api/v1/no-such-thing/",
                                  "/api/v1/registries/nothere/"])
def test_unknown_ids_and_urls_under_the_api_are_json_404s(api_client, debug, path):
    assert_json_error(api_client.get(path), status=404, code="not_found")


@pytest.mark.urls("tests.test_hardening.urls_with_a_failing_api_view")
def test_a_server_error_under_the_api_is_a_json_500_without_a_traceback(db, debug):
    response = Client(raise_request_exception=False).get("/api/v1/failing/")
    body = assert_json_error(response, status=500)
    assert b"secret-detail-that-must-not-leak" not in response.content and b"Traceback" not in response.content
    assert body["code"] == "internal_server_error"


@pytest.mark.urls("tests.test_hardening.urls_with_a_failing_api_view")
def test_a_plain_django_405_under_the_api_is_json_and_keeps_its_allow_header(db, debug):
    response = Client().get("/api/v1/plain-post-only/")
    assert_json_error(response, status=405, code="method_not_allowed")
    assert response["Allow"] == "POST"


@pytest.mark.urls("tests.test_hardening.urls_with_a_failing_api_view")
def test_a_server_error_on_a_page_is_the_simple_html_page_with_debug_off(db):
    response = Client(raise_request_exception=False).get("/failing-page/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert b"Server error" in response.content and b"secret-detail-that-must-not-leak" not in response.content


def test_unknown_pages_keep_an_html_404_without_debug_information(signed_in_client):
    response = signed_in_client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert b"Not found" in response.content and b"urlpatterns" not in response.content


@pytest.fixture
def signed_in_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_drf_errors_carry_a_code(catalog):
    body = assert_json_error(APIClient().get("/api/v1/registries/"), status=401)
    assert body["code"] == "not_authenticated"


def _api_views(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/") and hasattr(pattern.callback, "cls"):
            yield route, pattern.callback.cls


def test_every_api_view_parses_json_with_the_depth_limit():
    views = list(_api_views())
    assert len(views) > 10
    for route, view in views:
        for parser in getattr(view, "parser_classes", []):
            if issubclass(parser, JSONParser):
                assert issubclass(parser, DepthLimitedJSONParser), f"{route}: {view.__name__} uses {parser.__name__}"
