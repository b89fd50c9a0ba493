"""The OpenAPI schema documents every app analytics route, parameter and response."""

from __future__ import annotations

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db

CLIENT = "/v2/clients/{client_id}"
EXPECTED_PARAMETERS = {
    f"{CLIENT}/analytics/apps/{{app_id}}/utilization": {
        "client_id",
        "app_id",
        "granularity",
        "start_date",
        "end_date",
        "compare_start_date",
        "compare_end_date",
        "department_ids",
        "department_id",
    },
    f"{CLIENT}/analytics/apps/utilization": {
        "client_id",
        "granularity",
        "start_date",
        "end_date",
        "compare_start_date",
        "compare_end_date",
        "department_ids",
        "department_id",
        "ordering",
        "limit",
        "offset",
    },
    f"{CLIENT}/analytics/apps/{{app_id}}/activity": {
        "client_id",
        "app_id",
        "metric",
        "start_date",
        "end_date",
        "department_ids",
        "department_id",
    },
    f"{CLIENT}/analytics/apps/{{app_id}}/utilization/users": {
        "client_id",
        "app_id",
        "start_date",
        "end_date",
        "department_ids",
        "department_id",
        "ordering",
        "limit",
        "offset",
    },
    f"{CLIENT}/apps": {"client_id", "limit", "offset"},
    f"{CLIENT}/apps/{{app_id}}": {"client_id", "app_id"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client as HttpClient

    with django_db_blocker.unblock():
        response = HttpClient().get("/api/schema/", secure=True)
    assert response.status_code == 200
    return yaml.safe_load(response.content)


@pytest.mark.parametrize("path", EXPECTED_PARAMETERS)
def test_the_schema_documents_each_route_and_its_parameters(schema, path):
    operation = schema["paths"][path]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == EXPECTED_PARAMETERS[path]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "503"}


def test_required_parameters_and_choices_are_documented(schema):
    parameters = {
        p["name"]: p for p in schema["paths"][f"{CLIENT}/analytics/apps/{{app_id}}/utilization"]["get"]["parameters"]
    }
    assert parameters["granularity"]["required"] is True
    assert parameters["granularity"]["schema"]["enum"] == ["daily", "weekly", "monthly", "quarterly"]
    assert parameters["start_date"]["required"] is True
    start_date = parameters["start_date"]["schema"]
    assert (start_date["type"], start_date["format"]) == ("string", "date")
    assert re.fullmatch(start_date["pattern"], "2024-02-29") and not re.fullmatch(start_date["pattern"], "2023-02-29")
    assert parameters["compare_start_date"].get("required", False) is False
    assert parameters["app_id"]["schema"] == {"type": "string", "format": "uuid"}


def test_the_detail_response_is_the_seeds_shape(schema):
    components = schema["components"]["schemas"]
    assert set(components["AppUtilizationDetail"]["properties"]) == {
        "period",
        "unique_users",
        "active_time_ms",
        "avg_time_ms_per_day",
        "session_count",
    }
    assert set(components["MetricWithDeltaDto"]["properties"]) == {"value", "change_pct", "compare_value"}
    assert set(components["Period"]["properties"]) == {
        "start_date",
        "end_date",
        "compare_start_date",
        "compare_end_date",
    }
