"""App Activity: one point per day of the period, zeros included, for each metric."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps_analytics.models import Application, Department
from tests.apps_analytics.conftest import report, user

pytestmark = pytest.mark.django_db

PERIOD = {"start_date": "2026-03-01", "end_date": "2026-03-05"}


def url(app: Application) -> str:
    return f"/v2/clients/{app.client_id}/analytics/apps/{app.id}/activity"


@pytest.fixture
def sales(app):
    """Ana (Sales) and Bo on Mar 2, Ana on Mar 5; rows outside the period and of another app."""
    sales = Department.objects.create(client=app.client, name="Sales")
    ana = user(app.client, "ana@acme.example", sales)
    bo = user(app.client, "bo@acme.example")
    report(app, ana, "2026-03-02", 1000, 1)
    report(app, bo, "2026-03-02", 3000, 2)
    report(app, ana, "2026-03-05", 500, 4)
    report(app, ana, "2026-02-28", 7777, 7)
    report(app, bo, "2026-03-06", 7777, 7)
    report(Application.objects.create(client=app.client, name="Slack"), bo, "2026-03-03", 7777, 7)
    return sales


def points(*values: int) -> list[dict]:
    return [{"date": f"2026-03-0{day}", "value": value} for day, value in enumerate(values, start=1)]


@pytest.mark.parametrize(
    ("metric", "values"),
    [
        ("user-count", (0, 2, 0, 0, 1)),
        ("active-time", (0, 4000, 0, 0, 500)),
        ("session-count", (0, 3, 0, 0, 4)),
    ],
)
def test_it_gives_one_point_per_day(reader, app, sales, metric, values):
    response = reader.get(url(app), {**PERIOD, "metric": metric})
    assert response.status_code == 200
    assert response.json() == {
        "metric": metric,
        "period": {"start_date": "2026-03-01", "end_date": "2026-03-05"},
        "points": points(*values),
    }


def test_it_scopes_to_departments(reader, app, sales):
    response = reader.get(url(app), {**PERIOD, "metric": "active-time", "department_ids": str(sales.id)})
    assert response.status_code == 200
    assert response.json()["points"] == points(0, 1000, 0, 0, 500)


def test_a_one_day_period_has_one_point(reader, app, sales):
    response = reader.get(url(app), {"start_date": "2026-03-02", "end_date": "2026-03-02", "metric": "user-count"})
    assert response.json()["points"] == [{"date": "2026-03-02", "value": 2}]


def test_a_leap_year_has_366_points(reader, app):
    response = reader.get(url(app), {"start_date": "2024-01-01", "end_date": "2024-12-31", "metric": "user-count"})
    assert response.status_code == 200
    assert len(response.json()["points"]) == 366
    assert response.json()["points"][59] == {"date": "2024-02-29", "value": 0}


def test_activity_takes_a_fixed_number_of_queries(reader, app, sales):
    query = {**PERIOD, "metric": "user-count", "department_ids": str(sales.id)}
    reader.get(url(app), query)
    caches["reports"].clear()  # the answer is computed again, not served from the cache
    with CaptureQueriesContext(connection) as queries:
        assert reader.get(url(app), query).status_code == 200
    # token, client with its grant, app, departments, data versions, the series
    assert len(queries) == 6


def error(message: str, details: dict) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def test_it_rejects_missing_metric(reader, app):
    response = reader.get(url(app), PERIOD)
    assert response.status_code == 400
    assert response.json() == error("metric is required", {"metric": None})


def test_it_rejects_an_unknown_metric(reader, app):
    response = reader.get(url(app), {**PERIOD, "metric": "interactions"})
    assert response.status_code == 400
    assert response.json() == error(
        "metric must be one of user-count, active-time, session-count, got 'interactions'", {"metric": "interactions"}
    )


def test_it_rejects_granularity_as_unknown(reader, app):
    response = reader.get(url(app), {**PERIOD, "metric": "user-count", "granularity": "daily"})
    assert response.status_code == 400
    assert response.json() == error(
        "Unknown parameter: granularity. Accepted: department_id, department_ids, end_date, metric, start_date.",
        {"granularity": ["daily"]},
    )


def test_it_rejects_a_period_over_366_days(reader, app):
    response = reader.get(url(app), {"start_date": "2025-01-01", "end_date": "2026-01-02", "metric": "user-count"})
    assert response.status_code == 400
    assert response.json() == error(
        "The period start_date to end_date spans 367 days; at most 366 are allowed.",
        {"start_date": "2025-01-01", "end_date": "2026-01-02"},
    )


def test_activity_rejects_a_malformed_department_uuid(reader, app):
    response = reader.get(url(app), {**PERIOD, "metric": "user-count", "department_ids": "12345"})
    assert response.status_code == 400
    assert response.json() == error("department_ids must be a UUID, got '12345'", {"department_ids": "12345"})


def test_activity_rejects_missing_start_date(reader, app):
    response = reader.get(url(app), {"end_date": "2026-03-05", "metric": "user-count"})
    assert response.status_code == 400
    assert response.json() == error("start_date is required", {"start_date": None})
