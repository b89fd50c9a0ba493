"""App Utilization Detail (seed 001): responses, formulas, department scope and every rejection."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps_analytics.models import Application, Department
from apps_analytics.reporting import change_pct
from tests.apps_analytics.conftest import report, spread, user

pytestmark = pytest.mark.django_db


def url(app: Application) -> str:
    return f"/v2/clients/{app.client_id}/analytics/apps/{app.id}/utilization"


def seed_rows(app: Application) -> None:
    """Rows giving seed 001's example numbers.

    February 2026: 42 users, 432,000,000 ms on 28 active days (432000000 / 28 = 15428571.4), 1284 sessions.
    January 2026: 40 users, 446,000,000 ms on 28 of its 31 days (15928571.4 per day), 1191 sessions.
    """
    people = [user(app.client, f"user{n:02}@acme.example") for n in range(42)]
    for month, count, active_ms, sessions in (("02", 42, 432_000_000, 1284), ("01", 40, 446_000_000, 1191)):
        for n, (person, ms, session_count) in enumerate(
            zip(people[:count], spread(active_ms, count), spread(sessions, count), strict=True)
        ):
            report(app, person, f"2026-{month}-{n % 28 + 1:02}", ms, session_count)


def test_it_answers_the_seed_example_without_comparison(reader, app):
    seed_rows(app)
    response = reader.get(url(app), {"granularity": "monthly", "start_date": "2026-02-01", "end_date": "2026-02-28"})
    assert response.status_code == 200
    assert response.json() == {
        "period": {
            "start_date": "2026-02-01",
            "end_date": "2026-02-28",
            "compare_start_date": None,
            "compare_end_date": None,
        },
        "unique_users": {"value": 42, "change_pct": None, "compare_value": None},
        "active_time_ms": {"value": 432000000, "change_pct": None, "compare_value": None},
        "avg_time_ms_per_day": {"value": 15428571, "change_pct": None, "compare_value": None},
        "session_count": {"value": 1284, "change_pct": None, "compare_value": None},
    }


def test_it_answers_the_seed_example_with_comparison(reader, app):
    seed_rows(app)
    response = reader.get(
        url(app),
        {
            "granularity": "monthly",
            "start_date": "2026-02-01",
            "end_date": "2026-02-28",
            "compare_start_date": "2026-01-01",
            "compare_end_date": "2026-01-31",
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "period": {
            "start_date": "2026-02-01",
            "end_date": "2026-02-28",
            "compare_start_date": "2026-01-01",
            "compare_end_date": "2026-01-31",
        },
        # The seed prints 5.2, which its own numbers do not give: (42 - 40) / 40 * 100 = 5.0.
        "unique_users": {"value": 42, "change_pct": 5.0, "compare_value": 40},
        # (432000000 - 446000000) / 446000000 * 100 = -3.139...
        "active_time_ms": {"value": 432000000, "change_pct": -3.1, "compare_value": 446000000},
        # (15428571 - 15928571) / 15928571 * 100 = -3.139...
        "avg_time_ms_per_day": {"value": 15428571, "change_pct": -3.1, "compare_value": 15928571},
        # (1284 - 1191) / 1191 * 100 = 7.808...
        "session_count": {"value": 1284, "change_pct": 7.8, "compare_value": 1191},
    }


def bucket_rows(app: Application) -> None:
    """Rows from Wed 2026-01-28 to Fri 2026-04-03, plus one just outside on either side.

    Per active day: Jan 28 4000 (two users), Jan 31 2000, Feb 2 6000, Mar 31 900, Apr 3 100.
    """
    one, two, three = (user(app.client, f"{name}@acme.example") for name in ("one", "two", "three"))
    report(app, one, "2026-01-27", 50_000, 9)  # the day before the period
    report(app, one, "2026-01-28", 1000, 1)
    report(app, two, "2026-01-28", 3000, 2)
    report(app, one, "2026-01-31", 2000, 3)
    report(app, one, "2026-02-02", 6000, 4)
    report(app, two, "2026-03-31", 900, 5)
    report(app, one, "2026-04-03", 100, 6)
    report(app, three, "2026-04-04", 70_000, 9)  # the day after


@pytest.mark.parametrize(
    ("granularity", "average"),
    [
        # Five active days: (4000 + 2000 + 6000 + 900 + 100) / 5.
        ("daily", 2600),
        # ISO weeks: Jan 26-Feb 1 (6000 / 2 days = 3000), Feb 2-8 (6000), Mar 30-Apr 5 (1000 / 2 = 500):
        # (3000 + 6000 + 500) / 3 = 3166.67.
        ("weekly", 3167),
        # Jan (6000 / 2 = 3000), Feb (6000), Mar (900), Apr (100): 10000 / 4.
        ("monthly", 2500),
        # Q1 (12900 / 4 days = 3225), Q2 (100): 3325 / 2 = 1662.5, rounded half up.
        ("quarterly", 1663),
    ],
)
def test_it_averages_per_day_over_partial_buckets(reader, app, granularity, average):
    bucket_rows(app)
    response = reader.get(url(app), {"granularity": granularity, "start_date": "2026-01-28", "end_date": "2026-04-03"})
    assert response.status_code == 200
    assert response.json() == {
        "period": {
            "start_date": "2026-01-28",
            "end_date": "2026-04-03",
            "compare_start_date": None,
            "compare_end_date": None,
        },
        "unique_users": {"value": 2, "change_pct": None, "compare_value": None},
        "active_time_ms": {"value": 13000, "change_pct": None, "compare_value": None},
        "avg_time_ms_per_day": {"value": average, "change_pct": None, "compare_value": None},
        "session_count": {"value": 21, "change_pct": None, "compare_value": None},
    }


def test_it_computes_both_periods_in_buckets_when_they_overlap(reader, app):
    bucket_rows(app)
    # Comparison Jan 1 - Feb 28 (weekly): Jan 27 alone in week Jan 26-Feb 1 with Jan 28 and 31:
    # (50000 + 4000 + 2000) / 3 days = 18666.67; week Feb 2-8: 6000. Mean 12333.33.
    response = reader.get(
        url(app),
        {
            "granularity": "weekly",
            "start_date": "2026-01-28",
            "end_date": "2026-04-03",
            "compare_start_date": "2026-01-01",
            "compare_end_date": "2026-02-28",
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "period": {
            "start_date": "2026-01-28",
            "end_date": "2026-04-03",
            "compare_start_date": "2026-01-01",
            "compare_end_date": "2026-02-28",
        },
        # users one and two in both periods
        "unique_users": {"value": 2, "change_pct": 0.0, "compare_value": 2},
        # 13000 vs 50000 + 4000 + 2000 + 6000 = 62000: -79.03...
        "active_time_ms": {"value": 13000, "change_pct": -79.0, "compare_value": 62000},
        # 3167 vs 12333: -74.320...
        "avg_time_ms_per_day": {"value": 3167, "change_pct": -74.3, "compare_value": 12333},
        # 21 vs 9 + 1 + 2 + 3 + 4 = 19: 10.526...
        "session_count": {"value": 21, "change_pct": 10.5, "compare_value": 19},
    }


def test_change_pct_is_null_when_the_comparison_value_is_zero(reader, app):
    bucket_rows(app)
    response = reader.get(
        url(app),
        {
            "granularity": "daily",
            "start_date": "2026-01-28",
            "end_date": "2026-04-03",
            "compare_start_date": "2025-01-01",
            "compare_end_date": "2025-12-31",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in body if name != "period"} == {
        "unique_users": {"value": 2, "change_pct": None, "compare_value": 0},
        "active_time_ms": {"value": 13000, "change_pct": None, "compare_value": 0},
        "avg_time_ms_per_day": {"value": 2600, "change_pct": None, "compare_value": 0},
        "session_count": {"value": 21, "change_pct": None, "compare_value": 0},
    }


def test_an_app_nobody_used_has_zeros(reader, app):
    response = reader.get(url(app), {"granularity": "weekly", "start_date": "2026-01-01", "end_date": "2026-01-31"})
    assert response.status_code == 200
    assert response.json() == {
        "period": {
            "start_date": "2026-01-01",
            "end_date": "2026-01-31",
            "compare_start_date": None,
            "compare_end_date": None,
        },
        "unique_users": {"value": 0, "change_pct": None, "compare_value": None},
        "active_time_ms": {"value": 0, "change_pct": None, "compare_value": None},
        "avg_time_ms_per_day": {"value": 0, "change_pct": None, "compare_value": None},
        "session_count": {"value": 0, "change_pct": None, "compare_value": None},
    }


def test_it_counts_only_this_apps_rows(reader, app):
    bucket_rows(app)
    other_app = Application.objects.create(client=app.client, name="Slack")
    report(other_app, user(app.client, "slack@acme.example"), "2026-02-02", 999_999, 99)
    response = reader.get(url(app), {"granularity": "daily", "start_date": "2026-01-28", "end_date": "2026-04-03"})
    assert response.json()["active_time_ms"]["value"] == 13000
    assert response.json()["unique_users"]["value"] == 2


@pytest.fixture
def departments(app):
    """Design: Ana in Design and Sales, Bo in Sales, Cy in none."""
    design = Department.objects.create(client=app.client, name="Design")
    sales = Department.objects.create(client=app.client, name="Sales")
    ana = user(app.client, "ana@acme.example", design, sales)
    bo = user(app.client, "bo@acme.example", sales)
    cy = user(app.client, "cy@acme.example")
    report(app, ana, "2026-03-02", 1000, 1)
    report(app, ana, "2026-03-03", 3000, 2)
    report(app, bo, "2026-03-03", 500, 4)
    report(app, cy, "2026-03-04", 80_000, 8)
    return design, sales


def metrics_for(reader, app, **scope) -> dict:
    query = {"granularity": "daily", "start_date": "2026-03-01", "end_date": "2026-03-31", **scope}
    response = reader.get(url(app), query)
    assert response.status_code == 200, response.json()
    return {name: value["value"] for name, value in response.json().items() if name != "period"}


def test_departments_count_a_member_of_two_once(reader, app, departments):
    design, sales = departments
    # Ana (in both) and Bo: 1000 + 3000 + 500 ms, days Mar 2 (1000) and Mar 3 (3500).
    assert metrics_for(reader, app, department_ids=f"{design.id},{sales.id}") == {
        "unique_users": 2,
        "active_time_ms": 4500,
        "avg_time_ms_per_day": 2250,
        "session_count": 7,
    }


def test_one_department_scopes_to_its_members(reader, app, departments):
    design, _ = departments
    assert metrics_for(reader, app, department_ids=str(design.id)) == {
        "unique_users": 1,
        "active_time_ms": 4000,
        "avg_time_ms_per_day": 2000,
        "session_count": 3,
    }


def test_department_id_is_merged_with_department_ids(reader, app, departments):
    design, sales = departments
    merged = metrics_for(reader, app, department_ids=str(design.id), department_id=str(sales.id))
    assert merged == metrics_for(reader, app, department_ids=f"{design.id},{sales.id}")
    assert merged["unique_users"] == 2


def test_the_deprecated_department_id_alone_scopes(reader, app, departments):
    _, sales = departments
    assert metrics_for(reader, app, department_id=str(sales.id)) == {
        "unique_users": 2,
        "active_time_ms": 4500,
        "avg_time_ms_per_day": 2250,
        "session_count": 7,
    }


def test_a_department_without_members_gives_zeros(reader, app, departments):
    empty = Department.objects.create(client=app.client, name="Empty")
    assert metrics_for(reader, app, department_ids=str(empty.id)) == {
        "unique_users": 0,
        "active_time_ms": 0,
        "avg_time_ms_per_day": 0,
        "session_count": 0,
    }


def test_it_accepts_366_days(reader, app):
    response = reader.get(url(app), {"granularity": "daily", "start_date": "2024-01-01", "end_date": "2024-12-31"})
    assert response.status_code == 200


def test_the_detail_takes_a_fixed_number_of_queries(reader, app, departments):
    design, sales = departments
    query = {
        "granularity": "weekly",
        "start_date": "2026-03-01",
        "end_date": "2026-03-31",
        "compare_start_date": "2026-02-01",
        "compare_end_date": "2026-02-28",
        "department_ids": f"{design.id},{sales.id}",
    }
    reader.get(url(app), query)  # the token's first use also records last_used_at
    caches["reports"].clear()  # the answer is computed again, not served from the cache
    with CaptureQueriesContext(connection) as queries:
        assert reader.get(url(app), query).status_code == 200
    # token, client with its grant, app, departments, data versions, then both periods in one report query
    assert len(queries) == 6
    assert sum("WITH periods (idx" in q["sql"] for q in queries.captured_queries) == 1


@pytest.mark.parametrize(
    ("value", "compare_value", "expected"),
    [(42, 40, 5.0), (1, 0, None), (0, 0, None), (0, 5, -100.0), (2001, 2000, 0.1), (1999, 2000, -0.1), (3, 8, -62.5)],
)
def test_change_pct_rounds_half_away_from_zero(value, compare_value, expected):
    assert change_pct(value, compare_value) == expected


# --- rejections ------------------------------------------------------------------------------

VALID = {"granularity": "monthly", "start_date": "2026-02-01", "end_date": "2026-02-28"}


def rejected(reader, app, query: dict) -> dict:
    response = reader.get(url(app), query)
    assert response.status_code == 400
    return response.json()


def error(message: str, details: dict) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def test_it_rejects_lone_compare_start_date(reader, app):
    body = rejected(reader, app, {**VALID, "compare_start_date": "2026-01-01"})
    assert body == error(
        "compare_start_date requires compare_end_date to be provided",
        {"compare_start_date": "2026-01-01", "compare_end_date": None},
    )


def test_it_rejects_lone_compare_end_date(reader, app):
    body = rejected(reader, app, {**VALID, "compare_end_date": "2026-01-31"})
    assert body == error(
        "compare_end_date requires compare_start_date to be provided",
        {"compare_start_date": None, "compare_end_date": "2026-01-31"},
    )


def test_it_rejects_missing_granularity(reader, app):
    body = rejected(reader, app, {"start_date": "2026-02-01", "end_date": "2026-02-28"})
    assert body == error("granularity is required", {"granularity": None})


def test_it_rejects_unknown_granularity(reader, app):
    body = rejected(reader, app, {**VALID, "granularity": "hourly"})
    assert body == error(
        "granularity must be one of daily, weekly, monthly, quarterly, got 'hourly'", {"granularity": "hourly"}
    )


def test_it_rejects_missing_start_date(reader, app):
    body = rejected(reader, app, {"granularity": "daily", "end_date": "2026-02-28"})
    assert body == error("start_date is required", {"start_date": None})


def test_it_rejects_missing_end_date(reader, app):
    body = rejected(reader, app, {"granularity": "daily", "start_date": "2026-02-01"})
    assert body == error("end_date is required", {"end_date": None})


def test_it_rejects_a_date_in_another_format(reader, app):
    body = rejected(reader, app, {**VALID, "start_date": "20260201"})
    assert body == error("start_date must be a date as YYYY-MM-DD, got '20260201'", {"start_date": "20260201"})


def test_it_rejects_an_impossible_date(reader, app):
    body = rejected(reader, app, {**VALID, "end_date": "2026-02-30"})
    assert body == error("end_date must be a date as YYYY-MM-DD, got '2026-02-30'", {"end_date": "2026-02-30"})


def test_it_rejects_a_malformed_compare_date(reader, app):
    body = rejected(reader, app, {**VALID, "compare_start_date": "2026-1-1", "compare_end_date": "2026-01-31"})
    message = "compare_start_date must be a date as YYYY-MM-DD, got '2026-1-1'"
    assert body == error(message, {"compare_start_date": "2026-1-1"})


def test_it_rejects_end_before_start(reader, app):
    body = rejected(reader, app, {**VALID, "start_date": "2026-03-01"})
    assert body == error(
        "end_date must not be before start_date.", {"start_date": "2026-03-01", "end_date": "2026-02-28"}
    )


def test_it_rejects_compare_end_before_compare_start(reader, app):
    body = rejected(reader, app, {**VALID, "compare_start_date": "2026-01-31", "compare_end_date": "2026-01-01"})
    assert body == error(
        "compare_end_date must not be before compare_start_date.",
        {"compare_start_date": "2026-01-31", "compare_end_date": "2026-01-01"},
    )


def test_it_rejects_a_period_over_366_days(reader, app):
    body = rejected(reader, app, {**VALID, "start_date": "2025-01-01", "end_date": "2026-01-02"})
    assert body == error(
        "The period start_date to end_date spans 367 days; at most 366 are allowed.",
        {"start_date": "2025-01-01", "end_date": "2026-01-02"},
    )


def test_it_rejects_a_comparison_over_366_days(reader, app):
    body = rejected(reader, app, {**VALID, "compare_start_date": "2024-01-01", "compare_end_date": "2025-01-31"})
    assert body == error(
        "The period compare_start_date to compare_end_date spans 397 days; at most 366 are allowed.",
        {"compare_start_date": "2024-01-01", "compare_end_date": "2025-01-31"},
    )


def test_it_rejects_a_malformed_department_uuid(reader, app):
    body = rejected(reader, app, {**VALID, "department_ids": "not-a-uuid"})
    assert body == error(
        "department_ids must be a UUID, got 'not-a-uuid'",
        {"department_ids": "not-a-uuid"},
    )


def test_it_rejects_an_empty_item_in_department_ids(reader, app, departments):
    design, _ = departments
    body = rejected(reader, app, {**VALID, "department_ids": f"{design.id},"})
    assert body == error(
        "department_ids must be a UUID, got ''",
        {"department_ids": ""},
    )


def test_it_rejects_blank_department_ids(reader, app):
    body = rejected(reader, app, {**VALID, "department_ids": ""})
    assert body == error("department_ids must be a UUID, got ''", {"department_ids": ""})


def test_it_rejects_another_clients_department(reader, app, globex):
    foreign = Department.objects.create(client=globex, name="Globex R&D")
    body = rejected(reader, app, {**VALID, "department_ids": str(foreign.id)})
    assert body == error(
        f"department_ids: no department {foreign.id} in this client.", {"department_ids": [str(foreign.id)]}
    )


def test_it_rejects_an_unknown_department_given_as_department_id(reader, app):
    missing = "0b8f7c1e-0000-4000-8000-000000000000"
    body = rejected(reader, app, {**VALID, "department_id": missing})
    assert body == error(f"department_id: no department {missing} in this client.", {"department_id": [missing]})


def test_it_rejects_unknown_query_parameters(reader, app):
    body = rejected(reader, app, {**VALID, "granularty": "daily", "dept": "x"})
    assert body == error(
        "Unknown parameters: dept, granularty. Accepted: compare_end_date, compare_start_date, department_id, "
        "department_ids, end_date, granularity, start_date.",
        {"granularty": ["daily"], "dept": ["x"]},
    )


def test_it_rejects_a_repeated_parameter(reader, app):
    body = rejected(reader, app, {**VALID, "start_date": ["2026-02-01", "2026-02-02"]})
    assert body == error("start_date was given 2 times; give it once.", {"start_date": ["2026-02-01", "2026-02-02"]})
