"""Properties on generated data: the detail equals a naive Python computation of seed 001's formulas,
and the list's row for an app equals that app's detail."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps_analytics.models import Application, Department
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
