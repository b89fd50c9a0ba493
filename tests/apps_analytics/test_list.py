"""App Utilization across apps: every app of the client, comparison, scope, ordering, pagination."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps_analytics.models import Application, Client, Department
from tests.apps_analytics.conftest import report, user

pytestmark = pytest.mark.django_db

MARCH = {"granularity": "daily", "start_date": "2026-03-01", "end_date": "2026-03-31"}
NO_COMPARISON = {
    "start_date": "2026-03-01",
    "end_date": "2026-03-31",
    "compare_start_date": None,
    "compare_end_date": None,
}


def url(client: Client) -> str:
    return f"/v2/clients/{client.id}/analytics/apps/utilization"


@pytest.fixture
def apps(acme, globex):
    """Asana (Ana and Bo), Figma (Bo), Zoom (nobody); Globex has an app of its own."""
    sales = Department.objects.create(client=acme, name="Sales")
    ana = user(acme, "ana@acme.example", sales)
    bo = user(acme, "bo@acme.example")
    asana, figma, zoom = (Application.objects.create(client=acme, name=name) for name in ("Asana", "Figma", "Zoom"))
    report(asana, ana, "2026-03-02", 1000, 1)
    report(asana, bo, "2026-03-02", 3000, 2)
    report(asana, ana, "2026-03-05", 500, 1)
    report(asana, ana, "2026-02-10", 2000, 2)  # February, for comparisons
    report(figma, bo, "2026-03-10", 9000, 3)
    foreign = Application.objects.create(client=globex, name="Aardvark")
    report(foreign, user(globex, "eve@globex.example"), "2026-03-02", 1, 1)
    return {"asana": asana, "figma": figma, "zoom": zoom, "sales": sales}


def metrics(users: int, active: int, avg: int, sessions: int) -> dict:
    return {
        "unique_users": {"value": users, "change_pct": None, "compare_value": None},
        "active_time_ms": {"value": active, "change_pct": None, "compare_value": None},
        "avg_time_ms_per_day": {"value": avg, "change_pct": None, "compare_value": None},
        "session_count": {"value": sessions, "change_pct": None, "compare_value": None},
    }


def rows(apps) -> dict[str, dict]:
    # Asana: days Mar 2 (4000) and Mar 5 (500), so 2250 per active day.
    return {
        "Asana": {"app_id": str(apps["asana"].id), "name": "Asana", **metrics(2, 4500, 2250, 4)},
        "Figma": {"app_id": str(apps["figma"].id), "name": "Figma", **metrics(1, 9000, 9000, 3)},
        "Zoom": {"app_id": str(apps["zoom"].id), "name": "Zoom", **metrics(0, 0, 0, 0)},
    }


def test_it_lists_every_app_by_name_with_zeros_for_unused_ones(reader, acme, apps):
    response = reader.get(url(acme), MARCH)
    assert response.status_code == 200
    expected = rows(apps)
    assert response.json() == {
        "period": NO_COMPARISON,
        "count": 3,
        "next": None,
        "previous": None,
        "results": [expected["Asana"], expected["Figma"], expected["Zoom"]],
    }


@pytest.mark.parametrize(
    ("ordering", "names"),
    [
        ("-active_time_ms", ["Figma", "Asana", "Zoom"]),
        ("active_time_ms", ["Zoom", "Asana", "Figma"]),
        ("unique_users", ["Zoom", "Figma", "Asana"]),
        ("-unique_users", ["Asana", "Figma", "Zoom"]),
        ("-avg_time_ms_per_day", ["Figma", "Asana", "Zoom"]),
        ("-session_count", ["Asana", "Figma", "Zoom"]),
        ("-name", ["Zoom", "Figma", "Asana"]),
    ],
)
def test_it_orders_by_any_metric(reader, acme, apps, ordering, names):
    response = reader.get(url(acme), {**MARCH, "ordering": ordering})
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == names


def test_ties_are_ordered_by_name(reader, acme, apps):
    Application.objects.create(client=acme, name="Basecamp")
    response = reader.get(url(acme), {**MARCH, "ordering": "session_count"})
    assert [row["name"] for row in response.json()["results"]] == ["Basecamp", "Zoom", "Figma", "Asana"]


def test_it_paginates_with_limit_and_offset(reader, acme, apps):
    response = reader.get(url(acme), {**MARCH, "ordering": "-active_time_ms", "limit": 1, "offset": 1})
    assert response.status_code == 200
    base = f"http://testserver{url(acme)}?end_date=2026-03-31&granularity=daily&limit=1"
    assert response.json() == {
        "period": NO_COMPARISON,
        "count": 3,
        "next": f"{base}&offset=2&ordering=-active_time_ms&start_date=2026-03-01",
        "previous": f"{base}&ordering=-active_time_ms&start_date=2026-03-01",
        "results": [rows(apps)["Asana"]],
    }


def test_a_page_past_the_end_is_empty_but_counted(reader, acme, apps):
    response = reader.get(url(acme), {**MARCH, "limit": 2, "offset": 10})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["results"]) == (3, None, [])
    assert body["previous"].endswith("offset=8&start_date=2026-03-01")


def test_it_compares_every_app(reader, acme, apps):
    response = reader.get(url(acme), {**MARCH, "compare_start_date": "2026-02-01", "compare_end_date": "2026-02-28"})
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "app_id": str(apps["asana"].id),
            "name": "Asana",
            # February: Ana alone, 2000 ms on one day, 2 sessions.
            "unique_users": {"value": 2, "change_pct": 100.0, "compare_value": 1},
            "active_time_ms": {"value": 4500, "change_pct": 125.0, "compare_value": 2000},
            "avg_time_ms_per_day": {"value": 2250, "change_pct": 12.5, "compare_value": 2000},
            "session_count": {"value": 4, "change_pct": 100.0, "compare_value": 2},
        },
        {
            "app_id": str(apps["figma"].id),
            "name": "Figma",
            "unique_users": {"value": 1, "change_pct": None, "compare_value": 0},
            "active_time_ms": {"value": 9000, "change_pct": None, "compare_value": 0},
            "avg_time_ms_per_day": {"value": 9000, "change_pct": None, "compare_value": 0},
            "session_count": {"value": 3, "change_pct": None, "compare_value": 0},
        },
        {
            "app_id": str(apps["zoom"].id),
            "name": "Zoom",
            "unique_users": {"value": 0, "change_pct": None, "compare_value": 0},
            "active_time_ms": {"value": 0, "change_pct": None, "compare_value": 0},
            "avg_time_ms_per_day": {"value": 0, "change_pct": None, "compare_value": 0},
            "session_count": {"value": 0, "change_pct": None, "compare_value": 0},
        },
    ]
    assert response.json()["period"] == {
        "start_date": "2026-03-01",
        "end_date": "2026-03-31",
        "compare_start_date": "2026-02-01",
        "compare_end_date": "2026-02-28",
    }


def test_it_scopes_to_departments(reader, acme, apps):
    response = reader.get(url(acme), {**MARCH, "department_ids": str(apps["sales"].id)})
    assert response.status_code == 200
    # Ana only: Asana Mar 2 (1000) and Mar 5 (500).
    assert [{k: row[k] for k in ("name", "unique_users", "active_time_ms")} for row in response.json()["results"]] == [
        {
            "name": "Asana",
            "unique_users": {"value": 1, "change_pct": None, "compare_value": None},
            "active_time_ms": {"value": 1500, "change_pct": None, "compare_value": None},
        },
        {
            "name": "Figma",
            "unique_users": {"value": 0, "change_pct": None, "compare_value": None},
            "active_time_ms": {"value": 0, "change_pct": None, "compare_value": None},
        },
        {
            "name": "Zoom",
            "unique_users": {"value": 0, "change_pct": None, "compare_value": None},
            "active_time_ms": {"value": 0, "change_pct": None, "compare_value": None},
        },
    ]


def test_the_list_does_not_query_per_app(reader, acme, apps):
    query = {**MARCH, "compare_start_date": "2026-02-01", "compare_end_date": "2026-02-28"}
    reader.get(url(acme), query)  # the token's first use also records last_used_at

    def count_queries() -> int:
        caches["reports"].clear()  # the answer is computed again, not served from the cache
        with CaptureQueriesContext(connection) as queries:
            assert reader.get(url(acme), query).status_code == 200
        return len(queries)

    # token, client with its grant, data versions, one report query (with the page and the total count)
    assert count_queries() == 4
    Application.objects.bulk_create(Application(client=acme, name=f"Extra {n}") for n in range(20))
    assert count_queries() == 4


def rejected(reader, acme, query: dict) -> dict:
    response = reader.get(url(acme), query)
    assert response.status_code == 400
    return response.json()


def error(message: str, details: dict) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def test_it_rejects_an_unknown_ordering(reader, acme):
    body = rejected(reader, acme, {**MARCH, "ordering": "-popularity"})
    assert body == error(
        "ordering must be one of name, -name, unique_users, -unique_users, active_time_ms, -active_time_ms, "
        "avg_time_ms_per_day, -avg_time_ms_per_day, session_count, -session_count, got '-popularity'",
        {"ordering": "-popularity"},
    )


def test_it_rejects_a_zero_limit(reader, acme):
    assert rejected(reader, acme, {**MARCH, "limit": 0}) == error("limit must be at least 1, got 0", {"limit": "0"})


def test_it_rejects_a_limit_over_500(reader, acme):
    body = rejected(reader, acme, {**MARCH, "limit": 501})
    assert body == error("limit must be at most 500, got 501", {"limit": "501"})


def test_it_rejects_a_non_integer_limit(reader, acme):
    body = rejected(reader, acme, {**MARCH, "limit": "ten"})
    assert body == error("limit must be a whole number, got 'ten'", {"limit": "ten"})


def test_it_rejects_a_negative_offset(reader, acme):
    body = rejected(reader, acme, {**MARCH, "offset": -1})
    assert body == error("offset must be at least 0, got -1", {"offset": "-1"})


def test_it_rejects_a_page_parameter(reader, acme):
    body = rejected(reader, acme, {**MARCH, "page": 2})
    assert body["error"]["message"].startswith("Unknown parameter: page. Accepted: ")
    assert body["error"]["details"] == {"page": ["2"]}


def test_the_list_rejects_lone_compare_start_date(reader, acme):
    body = rejected(reader, acme, {**MARCH, "compare_start_date": "2026-01-01"})
    assert body == error(
        "compare_start_date requires compare_end_date to be provided",
        {"compare_start_date": "2026-01-01", "compare_end_date": None},
    )


def test_the_list_rejects_missing_granularity(reader, acme):
    body = rejected(reader, acme, {"start_date": "2026-03-01", "end_date": "2026-03-31"})
    assert body == error("granularity is required", {"granularity": None})


def test_the_list_rejects_another_clients_department(reader, acme, globex):
    foreign = Department.objects.create(client=globex, name="Globex R&D")
    body = rejected(reader, acme, {**MARCH, "department_ids": str(foreign.id)})
    assert body == error(
        f"department_ids: no department {foreign.id} in this client.", {"department_ids": [str(foreign.id)]}
    )
