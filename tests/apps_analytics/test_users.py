"""App Utilization Users for One App: per-user totals, ordering, pagination, scope."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps_analytics.models import Application, Department
from tests.apps_analytics.conftest import report, user

pytestmark = pytest.mark.django_db

MARCH = {"start_date": "2026-03-01", "end_date": "2026-03-31"}


def url(app: Application) -> str:
    return f"/v2/clients/{app.client_id}/analytics/apps/{app.id}/utilization/users"


@pytest.fixture
def people(app):
    """Ana (Sales): Mar 2, 5, 20; Bo: Mar 2; Cy: only February; Di: only another app."""
    sales = Department.objects.create(client=app.client, name="Sales")
    ana = user(app.client, "ana@acme.example", sales)
    bo = user(app.client, "bo@acme.example")
    cy = user(app.client, "cy@acme.example")
    di = user(app.client, "di@acme.example")
    report(app, ana, "2026-03-02", 1000, 1)
    report(app, ana, "2026-03-05", 500, 2)
    report(app, ana, "2026-03-20", 250, 3)
    report(app, bo, "2026-03-02", 3000, 1)
    report(app, cy, "2026-02-27", 9000, 9)
    report(Application.objects.create(client=app.client, name="Slack"), di, "2026-03-02", 9000, 9)
    return {"ana": ana, "bo": bo, "sales": sales}


def ana(people) -> dict:
    return {
        "user_id": str(people["ana"].id),
        "email": "ana@acme.example",
        "active_time_ms": 1750,
        "session_count": 6,
        "active_days": 3,
        "first_active_date": "2026-03-02",
        "last_active_date": "2026-03-20",
    }


def bo(people) -> dict:
    return {
        "user_id": str(people["bo"].id),
        "email": "bo@acme.example",
        "active_time_ms": 3000,
        "session_count": 1,
        "active_days": 1,
        "first_active_date": "2026-03-02",
        "last_active_date": "2026-03-02",
    }


def test_it_lists_users_with_activity_by_active_time(reader, app, people):
    response = reader.get(url(app), MARCH)
    assert response.status_code == 200
    assert response.json() == {
        "period": {"start_date": "2026-03-01", "end_date": "2026-03-31"},
        "count": 2,
        "next": None,
        "previous": None,
        "results": [bo(people), ana(people)],
    }


@pytest.mark.parametrize(
    ("ordering", "emails"),
    [
        ("email", ["ana", "bo"]),
        ("-email", ["bo", "ana"]),
        ("-session_count", ["ana", "bo"]),
        ("active_days", ["bo", "ana"]),
        ("-last_active_date", ["ana", "bo"]),
        ("first_active_date", ["ana", "bo"]),  # a tie, broken by email
        ("-first_active_date", ["ana", "bo"]),
    ],
)
def test_it_orders_users(reader, app, people, ordering, emails):
    response = reader.get(url(app), {**MARCH, "ordering": ordering})
    assert response.status_code == 200
    assert [row["email"].split("@")[0] for row in response.json()["results"]] == emails


def test_it_paginates(reader, app, people):
    response = reader.get(url(app), {**MARCH, "limit": 1})
    assert response.status_code == 200
    assert response.json() == {
        "period": {"start_date": "2026-03-01", "end_date": "2026-03-31"},
        "count": 2,
        "next": f"http://testserver{url(app)}?end_date=2026-03-31&limit=1&offset=1&start_date=2026-03-01",
        "previous": None,
        "results": [bo(people)],
    }
    second = reader.get(response.json()["next"])
    assert second.json()["results"] == [ana(people)]
    assert second.json()["next"] is None


def test_it_scopes_to_departments_and_the_period(reader, app, people):
    response = reader.get(
        url(app), {"start_date": "2026-03-03", "end_date": "2026-03-31", "department_id": str(people["sales"].id)}
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "user_id": str(people["ana"].id),
            "email": "ana@acme.example",
            "active_time_ms": 750,
            "session_count": 5,
            "active_days": 2,
            "first_active_date": "2026-03-05",
            "last_active_date": "2026-03-20",
        }
    ]


def test_an_unused_app_has_no_users(reader, app):
    response = reader.get(url(app), MARCH)
    assert response.json() == {
        "period": {"start_date": "2026-03-01", "end_date": "2026-03-31"},
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_users_take_a_fixed_number_of_queries(reader, app, people):
    reader.get(url(app), MARCH)
    caches["reports"].clear()  # the answer is computed again, not served from the cache
    with CaptureQueriesContext(connection) as queries:
        assert reader.get(url(app), MARCH).status_code == 200
    # token, client with its grant, app, data versions, one query for the page and the total
    assert len(queries) == 5


def error(message: str, details: dict) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def test_it_rejects_an_unknown_user_ordering(reader, app):
    response = reader.get(url(app), {**MARCH, "ordering": "name"})
    assert response.status_code == 400
    assert response.json() == error(
        "ordering must be one of email, -email, active_time_ms, -active_time_ms, session_count, -session_count, "
        "active_days, -active_days, first_active_date, -first_active_date, last_active_date, -last_active_date, "
        "got 'name'",
        {"ordering": "name"},
    )


def test_users_reject_comparison_dates_as_unknown(reader, app):
    response = reader.get(url(app), {**MARCH, "compare_start_date": "2026-02-01"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Unknown parameter: compare_start_date.")


def test_users_reject_end_before_start(reader, app):
    response = reader.get(url(app), {"start_date": "2026-03-02", "end_date": "2026-03-01"})
    assert response.status_code == 400
    assert response.json() == error(
        "end_date must not be before start_date.", {"start_date": "2026-03-02", "end_date": "2026-03-01"}
    )


def test_users_reject_a_limit_over_500(reader, app):
    response = reader.get(url(app), {**MARCH, "limit": 1000})
    assert response.status_code == 400
    assert response.json() == error("limit must be at most 500, got 1000", {"limit": "1000"})
