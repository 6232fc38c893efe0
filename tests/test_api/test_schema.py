"""The OpenAPI schema declares the errors the API answers, with their JSON shape, in one place (api/schema.py)."""
import json

import pytest
from django.test import Client

ERROR_REF = "#/components/schemas/ApiError"


@pytest.fixture(scope="module")
def openapi():
    answer = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    return json.loads(answer.content)


def operations(openapi):
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def error_ref(operation, status: str) -> str | None:
    response = operation["responses"].get(status)
    return response and response["content"]["application/json"]["schema"]["$ref"]


def test_every_operation_declares_400_401_413_with_the_error_shape(openapi):
    for path, method, operation in operations(openapi):
        for status in ("400", "401", "413"):
            assert error_ref(operation, status) == ERROR_REF, (method, path, status)
    assert set(openapi["components"]["schemas"]["ApiError"]["properties"]) == {"detail", "code", "field"}


def test_paths_with_names_declare_404_and_user_writes_declare_403_and_409(openapi):
    for path, method, operation in operations(openapi):
        if "{" in path:
            assert error_ref(operation, "404") == ERROR_REF, (method, path)
        if operation.get("security") and method in ("post", "patch", "delete"):
            assert error_ref(operation, "403") == ERROR_REF and error_ref(operation, "409") == ERROR_REF, \
                (method, path)
    assert "404" not in openapi["paths"]["/api/v1/regions/"]["get"]["responses"]


def test_the_token_endpoint_declares_its_token_answer_and_the_sign_in_throttle(openapi):
    responses = openapi["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert error_ref(openapi["paths"]["/api/v1/auth/token/"]["post"], "429") == ERROR_REF
    answer = responses["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(openapi["components"]["schemas"][answer]["properties"]) == {"token"}
