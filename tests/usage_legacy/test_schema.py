"""The OpenAPI schema documents every legacy route, deprecated, with its parameters."""

from __future__ import annotations

import pytest
import yaml

from tests.usage_legacy.conftest import SEED_EVENT_KEYS

pytestmark = pytest.mark.django_db

V1_ROUTES = [
    "/v1/usage",
    "/v1/usage/device",
    "/v1/usage/user",
    "/v1/usage/team",
    "/v1/usage/host",
    "/v1/usage/country",
    "/v1/usage/team/device",
    "/v1/usage/user/team",
    "/v1/usage/devicemodel",
    "/v1/usage/team/devicemodel",
]
V1_PARAMETERS = {
    "start_date",
    "end_date",
    "metric",
    "bin_size",
    "timezone",
    "format",
    "display_all",
    "automated",
    "filter_on.team_name",
    "filter_on.user_email",
    "filter_on.device_address",
    "filter_on.hostname",
    "combine_phone_os",
    "group_by_device_id",
    "include_user_notes",
    "org_id",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client as HttpClient

    with django_db_blocker.unblock():
        response = HttpClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


@pytest.mark.parametrize("path", V1_ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_each_v1_route_is_documented_deprecated(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["deprecated"] is True
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == V1_PARAMETERS
    assert parameters["start_date"]["required"] is True
    assert parameters["filter_on.team_name"]["schema"] == {
        "type": "array",
        "items": {"type": "string", "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"},
    }
    row = schema["components"]["schemas"]["LegacyUsageReportRow"]["properties"]
    assert {"datetime", "device", "user", "team", "teams", "user_notes", "avg_session_length", "unit"} <= set(row)


def test_no_undocumented_legacy_path(schema):
    assert sorted(path for path in schema["paths"] if path.startswith("/v1/")) == sorted(V1_ROUTES)


def test_v0_events_is_documented_deprecated(schema):
    operations = schema["paths"]["/v0/usage/events"]
    assert set(operations) == {"get", "post"}
    assert operations["get"]["deprecated"] is operations["post"]["deprecated"] is True
    get_parameters = {parameter["name"] for parameter in operations["get"]["parameters"]}
    assert get_parameters == {"start_date", "end_date", "devices", "format", "org_id"}
    assert operations["post"]["requestBody"]["required"] is True
    body = operations["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][body]
    assert set(body["properties"]) == get_parameters
    assert body["required"] == ["start_date"]
    assert body["properties"]["devices"]["type"] == "array"
    event = schema["components"]["schemas"]["LegacyUsageEvent"]["properties"]
    assert set(event) == {*SEED_EVENT_KEYS, "team"}
