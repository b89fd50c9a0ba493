"""Bad input of every kind gets a 4xx in the error envelope, never a 500 (SPEC §14)."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client

from tests.ingest.test_ingest import writer
from tests.interchange.conftest import ORG

pytestmark = pytest.mark.django_db

TOO_MANY = 10_001  # DATA_UPLOAD_MAX_NUMBER_FIELDS is 10,000
TOO_MANY_MESSAGE = (
    "The request has more than 10000 parameters or form fields; send fewer (repeated filters can often be "
    "replaced by a broader one)."
)
DEEP = "[" * 100_000 + "]" * 100_000


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    return orjson.loads(response.content)["error"]


@pytest.mark.parametrize("path", ["/v2/usage", "/v1/usage/device", "/v0/usage/events"])
def test_too_many_query_parameters(api, path):
    query = "&".join(f"filter_team_name=t{n}" for n in range(TOO_MANY))
    assert error(api.get(f"{path}?start_date=2024-01-01&{query}"), 400) == {
        "code": "invalid_parameter",
        "message": TOO_MANY_MESSAGE,
        "details": {},
    }


@pytest.mark.parametrize("path", ["/v2/usage/team", "/v1/usage/team"])
def test_too_many_form_fields(api, path):
    body = "&".join(["start_date=2024-01-01", *(f"filter_team_name=t{n}" for n in range(TOO_MANY))])
    response = api.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert error(response, 400)["message"] == TOO_MANY_MESSAGE


@pytest.mark.parametrize("path", ["/v2/usage", "/v2/usage/team", "/v1/usage", "/v0/usage/events"])
def test_deeply_nested_json(api, path):
    response = api.post(path, data=DEEP, content_type="application/json")
    found = error(response, 400)
    assert found["code"] == "invalid_parameter"
    assert "nested too deeply" in found["message"] or "not valid JSON" in found["message"]


def test_deeply_nested_json_on_ingest(tenants):
    acme = writer("acme-deep", organization=ORG)
    response = acme.post("/v2/ingest", data=DEEP, content_type="application/json")
    assert error(response, 400)["message"].startswith("The body is not valid JSON")


def test_a_malformed_content_length_on_ingest(tenants):
    acme = writer("acme-length", organization=ORG)
    response = acme.post("/v2/ingest", data=b"[]", content_type="application/json", CONTENT_LENGTH="abc")
    assert error(response, 400) == {
        "code": "invalid_parameter",
        "message": "The Content-Length header is not a number: 'abc'.",
        "details": {},
    }


@pytest.mark.parametrize("path", ["/v2/usage?start_date=2024-01-01", "/admin/", "/", "/healthz"])
def test_a_disallowed_host(path):
    response = Client().get(path, HTTP_HOST="evil.example.com")
    assert error(response, 400) == {
        "code": "invalid_parameter",
        "message": "The Host header names a host this service does not answer for.",
        "details": {},
    }
