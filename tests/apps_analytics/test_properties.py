"""Properties on generated data: the detail equals a naive Python computation of seed 001's formulas,
and the list's row for an app equals that app's detail."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps_analytics import rollup
from apps_analytics.models import Application, Department
from apps_analytics.reporting import PERIOD_METRICS
from tests.apps_analytics.conftest import report, user

pytestmark = pytest.mark.django_db

FIRST_DAY = date(2025, 12, 1)
DAYS = 75  # Dec 2025 to mid-Feb 2026: crosses a year, months and a quarter boundary
USERS = 4
# user index -> departments (0 = "A", 1 = "B") it belongs to; user 1 is in both, user 3 in none.
MEMBERSHIP = {0: (0,), 1: (0, 1), 2: (1,), 3: ()}

rows_strategy = st.dictionaries(
    keys=st.tuples(st.integers(0, USERS - 1), st.integers(0, DAYS - 1)),
    values=st.tuples(st.integers(0, 5_000_000), st.integers(0, 30)),
    max_size=40,
)
period_strategy = st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)).map(sorted)


def bucket(day: date, granularity: str):
    return {
        "daily": day,
        "weekly": day - timedelta(days=day.weekday()),
        "monthly": (day.year, day.month),
        "quarterly": (day.year, (day.month - 1) // 3),
    }[granularity]


def expected_metrics(rows: dict, start: date, end: date, granularity: str, users: set[int] | None) -> dict[str, int]:
    chosen = {
        (u, FIRST_DAY + timedelta(days=d)): value
        for (u, d), value in rows.items()
        if start <= FIRST_DAY + timedelta(days=d) <= end and (users is None or u in users)
    }
    per_bucket: dict = defaultdict(lambda: [0, set()])
    for (_, day), (ms, _) in chosen.items():
        per_bucket[bucket(day, granularity)][0] += ms
        per_bucket[bucket(day, granularity)][1].add(day)
    means = [Fraction(total, len(days)) for total, days in per_bucket.values()]
    average = math.floor(sum(means, Fraction(0)) / len(means) + Fraction(1, 2)) if means else 0
    return {
        "unique_users": len({u for u, _ in chosen}),
        "active_time_ms": sum(ms for ms, _ in chosen.values()),
        "avg_time_ms_per_day": average,
        "session_count": sum(sessions for _, sessions in chosen.values()),
    }


def expected_change(value: int, compare_value: int) -> float | None:
    if compare_value == 0:
        return None
    with localcontext() as context:
        context.prec = 50
        pct = (Decimal(value) - Decimal(compare_value)) / Decimal(compare_value) * 100
        return float(pct.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=rows_strategy,
    period=period_strategy,
    compare=st.none() | period_strategy,
    granularity=st.sampled_from(["daily", "weekly", "monthly", "quarterly"]),
    departments=st.none() | st.sampled_from([(0,), (1,), (0, 1)]),
)
def test_the_detail_matches_a_naive_computation(reader, app, rows, period, compare, granularity, departments):
    with transaction.atomic():
        groups = [Department.objects.create(client=app.client, name=name) for name in ("A", "B")]
        people = [user(app.client, f"u{n}@acme.example", *(groups[g] for g in MEMBERSHIP[n])) for n in range(USERS)]
        for (u, d), (ms, sessions) in rows.items():
            report(app, people[u], (FIRST_DAY + timedelta(days=d)).isoformat(), ms, sessions)
        start, end = (FIRST_DAY + timedelta(days=d) for d in period)
        query = {"granularity": granularity, "start_date": start.isoformat(), "end_date": end.isoformat()}
        members = None
        if departments is not None:
            query["department_ids"] = ",".join(str(groups[g].id) for g in departments)
            members = {n for n, belongs in MEMBERSHIP.items() if set(belongs) & set(departments)}
        values = expected_metrics(rows, start, end, granularity, members)
        compare_values = None
        if compare is not None:
            compare_start, compare_end = (FIRST_DAY + timedelta(days=d) for d in compare)
            query.update(compare_start_date=compare_start.isoformat(), compare_end_date=compare_end.isoformat())
            compare_values = expected_metrics(rows, compare_start, compare_end, granularity, members)

        response = reader.get(f"/v2/clients/{app.client_id}/analytics/apps/{app.id}/utilization", query)
        assert response.status_code == 200
        body = response.json()
        for name, value in values.items():
            compare_value = None if compare_values is None else compare_values[name]
            change = None if compare_value is None else expected_change(value, compare_value)
            assert body[name] == {"value": value, "change_pct": change, "compare_value": compare_value}, name

        # The list gives the same numbers for this app (one app among several).
        Application.objects.create(client=app.client, name="Another app")
        listed = reader.get(f"/v2/clients/{app.client_id}/analytics/apps/utilization", query).json()["results"]
        (row,) = [row for row in listed if row["app_id"] == str(app.id)]
        assert {name: row[name] for name in values} == {name: body[name] for name in values}
        transaction.set_rollback(True)


# A department scope with monthly or quarterly buckets reads its members' months (apps_analytics.rollup)
# for the periods' whole months and the report rows for their other days: periods that start and end on
# and around the months' edges (Dec 1, Dec 2, Dec 31, Jan 1, Jan 2, Jan 31, Feb 1, Feb 2, the last day).
MONTH_EDGES = [0, 1, 30, 31, 32, 61, 62, 63, DAYS - 1]
month_period_strategy = st.tuples(
    st.sampled_from(MONTH_EDGES) | st.integers(0, DAYS - 1), st.sampled_from(MONTH_EDGES) | st.integers(0, DAYS - 1)
).map(sorted)
two_apps_rows_strategy = st.dictionaries(
    keys=st.tuples(st.integers(0, 1), st.integers(0, USERS - 1), st.integers(0, DAYS - 1)),
    values=st.tuples(st.integers(0, 5_000_000), st.integers(0, 30)),
    max_size=60,
)


def split_user_months() -> None:
    """Leave every key of the per-user months in two rows, and add a key whose rows cancel out, as
    concurrent writers leave them (each merges the rows no other transaction holds)."""
    table = rollup.USER_MONTHS
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH old AS (DELETE FROM {table} RETURNING *)
                INSERT INTO {table}
                SELECT o.client_id, o.application_id, o.user_id, o.month, part.active_ms, part.sessions, part.days
                FROM old o CROSS JOIN LATERAL (VALUES (o.active_ms - 7, o.sessions - 1, o.days - (o.days & -o.days)),
                                                      (7, 1, o.days & -o.days)) AS part (active_ms, sessions, days)"""
        )
        cursor.execute(
            f"""INSERT INTO {table}
                SELECT client_id, application_id, user_id, month + interval '1 month', sign * 5, sign * 2, sign * 4
                FROM (SELECT * FROM {table} LIMIT 1) AS one CROSS JOIN (VALUES (1), (-1)) AS signs (sign)"""
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=two_apps_rows_strategy,
    period=month_period_strategy,
    compare=st.none() | month_period_strategy,
    granularity=st.sampled_from(["monthly", "quarterly"]),
    departments=st.sampled_from([(0,), (1,), (0, 1)]),
    split=st.booleans(),
)
def test_department_months_match_a_naive_computation(
    reader, app, rows, period, compare, granularity, departments, split
):
    with transaction.atomic():
        apps = [app, Application.objects.create(client=app.client, name="Slack")]
        groups = [Department.objects.create(client=app.client, name=name) for name in ("A", "B")]
        people = [user(app.client, f"u{n}@acme.example", *(groups[g] for g in MEMBERSHIP[n])) for n in range(USERS)]
        for (a, u, d), (ms, sessions) in rows.items():
            report(apps[a], people[u], (FIRST_DAY + timedelta(days=d)).isoformat(), ms, sessions)
        if split:
            split_user_months()
        members = {n for n, belongs in MEMBERSHIP.items() if set(belongs) & set(departments)}
        start, end = (FIRST_DAY + timedelta(days=d) for d in period)
        query = {
            "granularity": granularity,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "department_ids": ",".join(str(groups[g].id) for g in departments),
        }
        if compare is not None:
            compare_start, compare_end = (FIRST_DAY + timedelta(days=d) for d in compare)
            query.update(compare_start_date=compare_start.isoformat(), compare_end_date=compare_end.isoformat())
        expected = {}
        for a, application in enumerate(apps):
            app_rows = {(u, d): value for (row_app, u, d), value in rows.items() if row_app == a}
            values = expected_metrics(app_rows, start, end, granularity, members)
            compare_values = None
            if compare is not None:
                compare_values = expected_metrics(app_rows, compare_start, compare_end, granularity, members)
            expected[str(application.id)] = {
                name: {
                    "value": value,
                    "change_pct": None if compare_values is None else expected_change(value, compare_values[name]),
                    "compare_value": None if compare_values is None else compare_values[name],
                }
                for name, value in values.items()
            }

        base = f"/v2/clients/{app.client_id}/analytics/apps"
        listed = reader.get(f"{base}/utilization", query)
        assert listed.status_code == 200
        assert {row["app_id"]: {name: row[name] for name in PERIOD_METRICS} for row in listed.json()["results"]} == (
            expected
        )
        detail = reader.get(f"{base}/{app.id}/utilization", query)
        assert detail.status_code == 200
        assert {name: detail.json()[name] for name in PERIOD_METRICS} == expected[str(app.id)]
        transaction.set_rollback(True)
