"""The OpenAPI schema documents every operation, its bearer authentication and its errors."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


EXPECTED_OPERATIONS = {
    "GET /v0/usage/events",
    "POST /v0/usage/events",
    *(
        f"{method} /v1/usage{route}"
        for method in ("GET", "POST")
        for route in (
            "",
            "/device",
            "/user",
            "/team",
            "/host",
            "/country",
            "/team/device",
            "/user/team",
            "/devicemodel",
            "/team/devicemodel",
        )
    ),
    "GET /v2/usage",
    "POST /v2/usage",
    "GET /v2/usage/{grouping}",
    "POST /v2/usage/{grouping}",
    "GET /v2/usage/event",
    "POST /v2/ingest",
    "GET /v2/clients/{client_id}/apps",
    "GET /v2/clients/{client_id}/apps/{app_id}",
    "GET /v2/clients/{client_id}/analytics/apps/utilization",
    "GET /v2/clients/{client_id}/analytics/apps/{app_id}/utilization",
    "GET /v2/clients/{client_id}/analytics/apps/{app_id}/utilization/users",
    "GET /v2/clients/{client_id}/analytics/apps/{app_id}/activity",
}


def test_the_schema_lists_every_route_in_its_preferred_form(schema):
    # Other developers' routes (discovery) may be added; none of these may go missing or gain a trailing slash.
    names = {name for name, _ in operations(schema)}
    assert names >= EXPECTED_OPERATIONS
    assert not [name for name in names if name.endswith("/")]


def test_every_parameter_is_typed_and_described(schema):
    for name, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            where = (name, parameter["name"])
            assert parameter["schema"].get("type") in ("string", "integer", "boolean", "array"), where
            assert parameter["schema"] != {"type": "string"} or parameter["in"] == "path", where
            if parameter["in"] == "query":
                assert parameter.get("description"), where


def test_every_success_response_is_typed(schema):
    for name, operation in operations(schema):
        content = operation["responses"]["200"]["content"]
        body = content["application/json"]["schema"]
        assert "$ref" in body or body.get("type") == "array", name


def test_every_operation_documents_the_error_envelope(schema):
    for name, operation in operations(schema):
        for status in ("400", "401", "503"):
            content = operation["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (name, status)


def test_every_operation_requires_the_bearer_token_or_a_session(schema):
    assert schema["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer <token>`.",
        },
        "cookieAuth": {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The session of a logged-in user (the portal); unsafe methods also need the CSRF token "
            "(X-CSRFToken header).",
        },
    }
    for name, operation in operations(schema):
        # Ingestion writes: bearer tokens only.
        expected = [{"bearerAuth": []}] if name == "POST /v2/ingest" else [{"bearerAuth": []}, {"cookieAuth": []}]
        assert operation["security"] == expected, name


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for _, operation in operations(schema)]
    assert ids and len(ids) == len(set(ids))


def test_the_schema_is_served_as_json_on_request(client):
    response = client.get("/api/schema/?format=json", secure=True)
    assert (response.status_code, response["Content-Type"].split(";")[0]) == (200, "application/vnd.oai.openapi+json")
    assert {
        f"{method.upper()} {path}" for path, item in response.json()["paths"].items() for method in item
    } >= EXPECTED_OPERATIONS
