"""Each v1 option and filter changes the answer (legacy world of conftest, UTC days 03-01 and 03-02)."""

from __future__ import annotations

import pytest

from tests.usage_helpers import body, get
from tests.usage_legacy.conftest import A1, A2, B1, B4, D1, D2, TWO_DAYS, v1row
from tests.usage_legacy.test_v1_routes import ROUTE_CASES
from usage.models import User

pytestmark = pytest.mark.django_db


def test_display_all_adds_the_teams_without_usage(api, legacy):
    status, data = get(api, "/v1/usage/team", {**TWO_DAYS, "display_all": "true"})
    assert status == 200
    assert data == {
        "report": [
            v1row(D1, 3.0, team="Alpha"),
            v1row(D1, 0.5, team="Beta"),
            v1row(D1, 0.0, team="Gamma"),
            v1row(D2, 4.0, team="Alpha"),
            v1row(D2, 2.5, team="Beta"),
            v1row(D2, 0.0, team="Gamma"),
        ]
    }
    assert get(api, "/v1/usage/team", {**TWO_DAYS, "display_all": "false"})[1] == {"report": ROUTE_CASES["team"]}


def test_display_all_gives_null_averages_and_zero_counts(api, legacy):
    params = {**TWO_DAYS, "display_all": "true", "metric": "avg_session_length"}
    _, data = get(api, "/v1/usage/user", params)
    assert data["report"][2] == v1row(D1, None, metric="avg_session_length", unit="minute", user="carol@acme.test")
    _, data = get(api, "/v1/usage/user", {**params, "metric": "session_count"})
    assert data["report"][2] == v1row(D1, 0, metric="session_count", unit=None, user="carol@acme.test")


def test_display_all_lists_every_model_of_the_organization(api, legacy):
    # dev5@host-a (Galaxy S23) is never used; iPhone 14 is used on 03-02 only.
    status, data = get(api, "/v1/usage/devicemodel", {**TWO_DAYS, "display_all": "true"})
    assert status == 200
    assert data == {
        "report": [
            v1row(D1, 2.0, device_model="Fairphone 4"),
            v1row(D1, 1.0, device_model="Galaxy S22"),
            v1row(D1, 0.0, device_model="Galaxy S23"),
            v1row(D1, 0.5, device_model="Galaxy Tab S8"),
            v1row(D1, 0.0, device_model="iPhone 14"),
            v1row(D2, 0.75, device_model="Fairphone 4"),
            v1row(D2, 1.0, device_model="Galaxy S22"),
            v1row(D2, 0.0, device_model="Galaxy S23"),
            v1row(D2, 1.5, device_model="Galaxy Tab S8"),
            v1row(D2, 4.0, device_model="iPhone 14"),
        ]
    }


@pytest.mark.parametrize(
    ("automated", "expected"),
    [
        ("true", [1.0, 1.0]),  # E5 on 03-01, E3 on 03-02
        ("false", [2.5, 6.25]),  # E1 + E2 | E2 + E4 + E6
    ],
)
def test_automated_selects_automated_or_manual_sessions(api, legacy, automated, expected):
    status, data = get(api, "/v1/usage", {**TWO_DAYS, "automated": automated})
    assert status == 200
    assert data == {"report": [v1row(D1, expected[0]), v1row(D2, expected[1])]}


# (option, route) -> rows. combine_phone_os: Fairphone 4 and Galaxy S22 are android phones, iPhone 14
# an ios phone, the tablet stays itself. group_by_device_id: dev1 is on host-a and host-b.
GROUPING_OPTIONS = {
    ("combine_phone_os", "devicemodel"): [
        v1row(D1, 3.0, device_model="AndroidPhone"),
        v1row(D1, 0.5, device_model="Galaxy Tab S8"),
        v1row(D2, 1.75, device_model="AndroidPhone"),
        v1row(D2, 1.5, device_model="Galaxy Tab S8"),
        v1row(D2, 4.0, device_model="iPhone"),
    ],
    ("combine_phone_os", "team/devicemodel"): [
        v1row(D1, 3.0, team="Alpha", device_model="AndroidPhone"),
        v1row(D1, 0.5, team="Beta", device_model="Galaxy Tab S8"),
        v1row(D2, 4.0, team="Alpha", device_model="iPhone"),
        v1row(D2, 1.0, team="Beta", device_model="AndroidPhone"),
        v1row(D2, 1.5, team="Beta", device_model="Galaxy Tab S8"),
    ],
    ("group_by_device_id", "device"): [
        v1row(D1, 3.0, device="dev1"),
        v1row(D1, 0.5, device="dev2"),
        v1row(D2, 1.75, device="dev1"),
        v1row(D2, 1.5, device="dev2"),
        v1row(D2, 4.0, device="dev4"),
    ],
    ("group_by_device_id", "team/device"): [
        v1row(D1, 3.0, team="Alpha", device="dev1"),
        v1row(D1, 0.5, team="Beta", device="dev2"),
        v1row(D2, 4.0, team="Alpha", device="dev4"),
        v1row(D2, 1.0, team="Beta", device="dev1"),
        v1row(D2, 1.5, team="Beta", device="dev2"),
    ],
}


@pytest.mark.parametrize(("option", "route"), GROUPING_OPTIONS)
def test_grouping_options_change_the_groups(api, legacy, option, route):
    assert get(api, f"/v1/usage/{route}", {**TWO_DAYS, option: "true"}) == (
        200,
        {"report": GROUPING_OPTIONS[option, route]},
    )
    assert get(api, f"/v1/usage/{route}", {**TWO_DAYS, option: "false"}) == (200, {"report": ROUTE_CASES[route]})


def test_group_by_device_id_with_display_all_lists_each_device_id_once(api, legacy):
    params = {"start_date": "20230301", "end_date": "20230301", "group_by_device_id": "true", "display_all": "true"}
    status, data = get(api, "/v1/usage/device", params)
    assert status == 200
    month = "2023-03-01"
    assert data == {
        "report": [
            v1row(month, 3.0, device="dev1"),
            v1row(month, 0.5, device="dev2"),
            v1row(month, 0.0, device="dev4"),
            v1row(month, 0.0, device="dev5"),
        ]
    }


@pytest.mark.parametrize("route", ["user", "user/team"])
def test_include_user_notes_adds_the_notes_on_user_routes(api, legacy, route):
    status, data = get(api, f"/v1/usage/{route}", {**TWO_DAYS, "include_user_notes": "true"})
    assert status == 200
    notes = {"alice@acme.test": "Team lead", "bob@acme.test": ""}
    assert data == {"report": [{**row, "user_notes": notes[row["user"]]} for row in ROUTE_CASES[route]]}
    assert list(data["report"][0])[-3:] == ["user_notes", "total_time", "unit"]


@pytest.mark.parametrize(
    ("route", "option"),
    [
        ("team", "include_user_notes"),
        ("host", "group_by_device_id"),
        ("device", "combine_phone_os"),
        ("devicemodel", "group_by_device_id"),
    ],
)
def test_options_do_nothing_on_routes_they_do_not_concern(api, legacy, route, option):
    status, data = get(api, f"/v1/usage/{route}", {**TWO_DAYS, option: "true"})
    assert status == 200
    assert data == {"report": ROUTE_CASES[route]}


def test_filter_on_team_name(api, legacy):
    status, data = get(api, "/v1/usage/device", {**TWO_DAYS, "filter_on.team_name": "Alpha"})
    assert status == 200
    assert data == {"report": [v1row(D1, 2.0, device=A1), v1row(D1, 1.0, device=B1), v1row(D2, 4.0, device=B4)]}


@pytest.mark.parametrize("asked", ["bob@acme.test", "BOB@acme.test"])
def test_filter_on_user_email_ignores_case(api, legacy, asked):
    # bob, stored in mixed case: E2 (Beta) and E5 (Alpha).
    User.objects.filter(email="bob@acme.test").update(email="Bob@Acme.Test")
    status, data = get(api, "/v1/usage/team", {**TWO_DAYS, "filter_on.user_email": asked})
    assert status == 200
    assert data == {"report": [v1row(D1, 1.0, team="Alpha"), v1row(D1, 0.5, team="Beta"), v1row(D2, 1.5, team="Beta")]}


def test_filter_on_hostname(api, legacy):
    # host-b: E5 1 | E3 1 + E6 4.
    status, data = get(api, "/v1/usage", {**TWO_DAYS, "filter_on.hostname": "host-b.example"})
    assert status == 200
    assert data == {"report": [v1row(D1, 1.0), v1row(D2, 5.0)]}


def test_filters_of_one_kind_are_ored_and_kinds_anded(api, legacy):
    params = {
        **TWO_DAYS,
        "filter_on.device_address": [A1, A2],
        "filter_on.team_name": ["Beta", "Gamma"],
    }
    status, data = get(api, "/v1/usage/device", params)
    assert status == 200
    assert data == {"report": [v1row(D1, 0.5, device=A2), v1row(D2, 1.5, device=A2)]}


def test_filter_value_with_an_escaped_space(api, legacy):
    legacy.beta.name = "Team Two"
    legacy.beta.save()
    response = api.get(
        "/v1/usage/team?start_date=20230301&end_date=20230302&bin_size=day&filter_on.team_name=Team%20Two"
    )
    assert response.status_code == 200
    assert body(response) == {"report": [v1row(D1, 0.5, team="Team Two"), v1row(D2, 2.5, team="Team Two")]}


def test_filter_that_matches_nothing_gives_an_empty_report(api, legacy):
    status, data = get(api, "/v1/usage/team", {**TWO_DAYS, "filter_on.team_name": "Nobody"})
    assert (status, data) == (200, {"report": []})
    status, data = get(api, "/v1/usage", {**TWO_DAYS, "filter_on.team_name": "Nobody"})
    assert (status, data) == (200, {"report": [v1row(D1, 0.0), v1row(D2, 0.0)]})
