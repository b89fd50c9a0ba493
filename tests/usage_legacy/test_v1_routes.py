"""Every v1 route and every metric over the legacy world (conftest), worked out by hand.

Day bins of 2023-03-01 and 2023-03-02 (UTC). What lands in each day (hours):

    03-01: E1 2 (dev1@host-a, alice, Alpha), E2 0.5 (dev2@host-a, bob, Beta), E5 1 (dev1@host-b, bob, Alpha)
    03-02: E2 1.5, E3 1 (dev1@host-b, no user, Beta), E4 0.75 (dev1@host-a, alice, no team),
           E6 4 (dev4@host-b, alice, Alpha)

E5 started before the range (no session counted for it); E2 and E6 cross a day edge.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.usage_helpers import body, get, make_device, session, utc
from tests.usage_legacy.conftest import A1, A2, B1, B4, D1, D2, TWO_DAYS, v1row

pytestmark = pytest.mark.django_db


def test_org_route_total_time_in_hours(api, legacy):
    # 03-01: 2 + 0.5 + 1; 03-02: 1.5 + 1 + 0.75 + 4. X1 (other organization) and E7 (03-05) are outside.
    status, data = get(api, "/v1/usage", TWO_DAYS)
    assert status == 200
    assert data == {"report": [v1row(D1, 3.5), v1row(D2, 7.25)]}


def test_org_route_fields_in_order(api, legacy):
    _, data = get(api, "/v1/usage/team/device", TWO_DAYS)
    assert list(data["report"][0]) == ["datetime", "team", "device", "total_time", "unit"]


# Per route, total_time (hours). Sessions without a value for the group key are left out:
# E4 (no team) on team routes, E3 (no user) on user routes.
ROUTE_CASES = {
    "device": [
        v1row(D1, 2.0, device=A1),
        v1row(D1, 1.0, device=B1),
        v1row(D1, 0.5, device=A2),
        v1row(D2, 0.75, device=A1),
        v1row(D2, 1.0, device=B1),
        v1row(D2, 1.5, device=A2),
        v1row(D2, 4.0, device=B4),
    ],
    "user": [
        v1row(D1, 2.0, user="alice@acme.test"),  # E1
        v1row(D1, 1.5, user="bob@acme.test"),  # E2 0.5 + E5 1
        v1row(D2, 4.75, user="alice@acme.test"),  # E4 0.75 + E6 4
        v1row(D2, 1.5, user="bob@acme.test"),  # E2 1.5 (E3 has no user)
    ],
    "team": [
        v1row(D1, 3.0, team="Alpha"),  # E1 2 + E5 1
        v1row(D1, 0.5, team="Beta"),  # E2
        v1row(D2, 4.0, team="Alpha"),  # E6
        v1row(D2, 2.5, team="Beta"),  # E2 1.5 + E3 1 (E4 has no team)
    ],
    "host": [
        v1row(D1, 2.5, hostname="host-a.example"),
        v1row(D1, 1.0, hostname="host-b.example"),
        v1row(D2, 2.25, hostname="host-a.example"),
        v1row(D2, 5.0, hostname="host-b.example"),
    ],
    "country": [
        v1row(D1, 1.0, country="DE"),
        v1row(D1, 2.5, country="US"),
        v1row(D2, 5.0, country="DE"),
        v1row(D2, 2.25, country="US"),
    ],
    "team/device": [
        v1row(D1, 2.0, team="Alpha", device=A1),
        v1row(D1, 1.0, team="Alpha", device=B1),
        v1row(D1, 0.5, team="Beta", device=A2),
        v1row(D2, 4.0, team="Alpha", device=B4),
        v1row(D2, 1.0, team="Beta", device=B1),
        v1row(D2, 1.5, team="Beta", device=A2),
    ],
    "user/team": [
        v1row(D1, 2.0, user="alice@acme.test", teams=["Alpha", "Beta"]),
        v1row(D1, 1.5, user="bob@acme.test", teams=["Beta"]),
        v1row(D2, 4.75, user="alice@acme.test", teams=["Alpha", "Beta"]),
        v1row(D2, 1.5, user="bob@acme.test", teams=["Beta"]),
    ],
    "devicemodel": [
        v1row(D1, 2.0, device_model="Fairphone 4"),
        v1row(D1, 1.0, device_model="Galaxy S22"),
        v1row(D1, 0.5, device_model="Galaxy Tab S8"),
        v1row(D2, 0.75, device_model="Fairphone 4"),
        v1row(D2, 1.0, device_model="Galaxy S22"),
        v1row(D2, 1.5, device_model="Galaxy Tab S8"),
        v1row(D2, 4.0, device_model="iPhone 14"),
    ],
    "team/devicemodel": [
        v1row(D1, 2.0, team="Alpha", device_model="Fairphone 4"),
        v1row(D1, 1.0, team="Alpha", device_model="Galaxy S22"),
        v1row(D1, 0.5, team="Beta", device_model="Galaxy Tab S8"),
        v1row(D2, 4.0, team="Alpha", device_model="iPhone 14"),
        v1row(D2, 1.0, team="Beta", device_model="Galaxy S22"),
        v1row(D2, 1.5, team="Beta", device_model="Galaxy Tab S8"),
    ],
}


@pytest.mark.parametrize("route", ROUTE_CASES)
def test_route_total_time(api, legacy, route):
    status, data = get(api, f"/v1/usage/{route}", TWO_DAYS)
    assert status == 200
    assert data == {"report": ROUTE_CASES[route]}


# Per metric on the org route. avg_session_length (minutes) and session_count only count sessions
# starting in the bin: 03-01 E1 120, E2 120; 03-02 E3 60, E4 45, E6 360.
ORG_METRICS = {
    "total_time": ([3.5, 7.25], "hour"),
    "avg_session_length": ([120.0, 155.0], "minute"),
    "session_count": ([2, 3], None),
    "device_count": ([3, 4], None),  # 03-01: dev1@host-a, dev2@host-a, dev1@host-b; 03-02: + dev4@host-b
    "user_count": ([2, 2], None),  # alice and bob on both days
    "team_count": ([2, 2], None),  # Alpha and Beta on both days
}


@pytest.mark.parametrize("metric", ORG_METRICS)
def test_org_route_metric(api, legacy, metric):
    (first, second), unit = ORG_METRICS[metric]
    status, data = get(api, "/v1/usage", {**TWO_DAYS, "metric": metric})
    assert status == 200
    assert data == {"report": [v1row(D1, first, metric=metric, unit=unit), v1row(D2, second, metric=metric, unit=unit)]}


# Per metric on the team route: [03-01 Alpha, 03-01 Beta, 03-02 Alpha, 03-02 Beta].
TEAM_METRICS = {
    "total_time": ([3.0, 0.5, 4.0, 2.5], "hour"),
    "avg_session_length": ([120.0, 120.0, 360.0, 60.0], "minute"),  # E1, E2 | E6, E3 (E5 started before)
    "session_count": ([1, 1, 1, 1], None),
    "device_count": ([2, 1, 1, 2], None),  # Alpha 03-01: dev1@host-a (E1), dev1@host-b (E5)
    "user_count": ([2, 1, 1, 1], None),  # Beta 03-02: bob (E2); E3 has no user
    "team_count": ([1, 1, 1, 1], None),
}


@pytest.mark.parametrize("metric", TEAM_METRICS)
def test_team_route_metric(api, legacy, metric):
    values, unit = TEAM_METRICS[metric]
    teams = ["Alpha", "Beta", "Alpha", "Beta"]
    days = [D1, D1, D2, D2]
    status, data = get(api, "/v1/usage/team", {**TWO_DAYS, "metric": metric})
    assert status == 200
    assert data == {
        "report": [
            v1row(day, value, metric=metric, unit=unit, team=team)
            for day, value, team in zip(days, values, teams, strict=True)
        ]
    }


def test_team_count_per_user(api, legacy):
    # bob on 03-01: Beta (E2) and Alpha (E5); alice on 03-02: Alpha (E6), E4 has no team.
    status, data = get(api, "/v1/usage/user", {**TWO_DAYS, "metric": "team_count"})
    assert status == 200
    assert data == {
        "report": [
            v1row(D1, 1, metric="team_count", unit=None, user="alice@acme.test"),
            v1row(D1, 2, metric="team_count", unit=None, user="bob@acme.test"),
            v1row(D2, 1, metric="team_count", unit=None, user="alice@acme.test"),
            v1row(D2, 1, metric="team_count", unit=None, user="bob@acme.test"),
        ]
    }


def test_hour_bins_give_total_time_in_minutes(api, legacy):
    # 03-01 hour by hour: E5 00:00-01:00 (bob), E1 10:00-12:00 (alice), E2 23:30-24:00 (bob).
    status, data = get(api, "/v1/usage/user", {"start_date": "20230301", "end_date": "20230301", "bin_size": "hour"})
    assert status == 200
    assert data == {
        "report": [
            v1row("2023-03-01 00:00", 60.0, unit="minute", user="bob@acme.test"),
            v1row("2023-03-01 10:00", 60.0, unit="minute", user="alice@acme.test"),
            v1row("2023-03-01 11:00", 60.0, unit="minute", user="alice@acme.test"),
            v1row("2023-03-01 23:00", 30.0, unit="minute", user="bob@acme.test"),
        ]
    }


def test_hour_bins_keep_avg_session_length_in_minutes(api, legacy):
    # Sessions starting on 03-01: E1 at 10:00 (120 min), E2 at 23:30 (120 min).
    params = {"start_date": "20230301", "end_date": "20230301", "bin_size": "hour", "metric": "avg_session_length"}
    status, data = get(api, "/v1/usage/team", params)
    assert status == 200
    assert data == {
        "report": [
            v1row("2023-03-01 00:00", None, metric="avg_session_length", unit="minute", team="Alpha"),  # E5 only
            v1row("2023-03-01 10:00", 120.0, metric="avg_session_length", unit="minute", team="Alpha"),
            v1row("2023-03-01 11:00", None, metric="avg_session_length", unit="minute", team="Alpha"),
            v1row("2023-03-01 23:00", 120.0, metric="avg_session_length", unit="minute", team="Beta"),
        ]
    }


def test_week_and_month_bins_are_labelled_by_their_first_day(api, legacy):
    # 2023-02-27 is the Monday of the week of 03-01; the range starts on 03-01, so E5's 02-28 part is out.
    params = {"start_date": "20230301", "end_date": "20230306", "bin_size": "week"}
    status, data = get(api, "/v1/usage", params)
    assert status == 200
    # Week of 02-27 (clipped to 03-01..03-05): 3.5 + 7.25 + E6's 03-03 part 2 + E7 1; week of 03-06: nothing.
    assert data == {"report": [v1row("2023-02-27", 13.75), v1row("2023-03-06", 0.0)]}
    status, data = get(api, "/v1/usage", {"start_date": "20230301", "end_date": "20230331"})
    assert status == 200
    assert data == {"report": [v1row("2023-03-01", 13.75)]}  # bin_size defaults to month


def test_timezone_moves_the_day_edges(api, legacy):
    # In Asia/Tokyo (UTC+9) 03-01 is 02-28 15:00 to 03-01 15:00 UTC: E5 2 h and E1 2 h.
    params = {"start_date": "2023-03-01", "end_date": "2023-03-01", "bin_size": "day", "timezone": "Asia/Tokyo"}
    status, data = get(api, "/v1/usage/team", params)
    assert status == 200
    assert data == {"report": [v1row(D1, 4.0, team="Alpha")]}


def test_post_form_takes_the_same_parameters(api, legacy):
    params = {**TWO_DAYS, "metric": "device_count"}
    form = api.post("/v1/usage/team", urlencode(params), content_type="application/x-www-form-urlencoded")
    as_json = api.post("/v1/usage/team", params, format="json")
    assert (form.status_code, as_json.status_code) == (200, 200)
    expected = get(api, "/v1/usage/team", params)[1]
    assert body(form) == body(as_json) == expected
    assert expected["report"][0] == v1row(D1, 2, metric="device_count", unit=None, team="Alpha")


def test_csv_has_the_json_fields_as_header(api, legacy):
    response = api.get("/v1/usage/user/team", {**TWO_DAYS, "format": "csv", "include_user_notes": "true"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage_v1_user_team_20230301.csv"'
    assert body(response) == (
        "datetime,user,teams,user_notes,total_time,unit\n"
        "2023-03-01,alice@acme.test,Alpha;Beta,Team lead,2.0,hour\n"
        "2023-03-01,bob@acme.test,Beta,,1.5,hour\n"
        "2023-03-02,alice@acme.test,Alpha;Beta,Team lead,4.75,hour\n"
        "2023-03-02,bob@acme.test,Beta,,1.5,hour\n"
    )


def test_csv_of_a_count_leaves_the_unit_empty(api, legacy):
    response = api.get("/v1/usage", {**TWO_DAYS, "format": "csv", "metric": "session_count"})
    assert response.status_code == 200
    assert body(response) == "datetime,session_count,unit\n2023-03-01,2,\n2023-03-02,3,\n"


def test_legacy_routes_leave_out_sessions_without_a_country_or_model(api, legacy, org):
    # A device with no model on a host with no country: counted by the org route only.
    bare = make_device(org, "bare@host-z.example")
    session(bare, utc("2023-03-01 03:00"), utc("2023-03-01 04:00"))
    params = {"start_date": "20230301", "end_date": "20230301", "bin_size": "day"}
    assert get(api, "/v1/usage", params) == (200, {"report": [v1row(D1, 4.5)]})
    assert get(api, "/v1/usage/country", params) == (
        200,
        {"report": [v1row(D1, 1.0, country="DE"), v1row(D1, 2.5, country="US")]},
    )
    assert get(api, "/v1/usage/devicemodel", params)[1]["report"] == ROUTE_CASES["devicemodel"][:3]
    assert get(api, "/v1/usage/host", params)[1]["report"][-1] == v1row(D1, 1.0, hostname="host-z.example")
