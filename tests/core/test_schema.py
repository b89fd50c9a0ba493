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


def test_every_operation_documents_the_error_envelope_for_400_and_401(schema):
    for name, operation in operations(schema):
        for status in ("400", "401"):
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
    assert len(ids) == len(set(ids))
