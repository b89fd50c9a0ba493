"""Tenant isolation: a second organization's token sees none of the first's rows, however it asks.

The second organization (Globex) deliberately shares what it can with the first (Acme, the
``world``): a device on Acme's host h1, a team also named Alpha, a user also called
ann@acme.test. Its one session: x1@h1, 09:00-09:20 UTC on 2024-01-01 (1200 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.usage_helpers import get, make_device, session, utc
from tests.usage_v2.conftest import DAY, DAY_BIN, row
from usage.models import Team, UsageEvent, User

pytestmark = pytest.mark.django_db

GROUPINGS = ["org", "device", "team", "user", "host", "device_team", "device_user"]
ALL = {**DAY, "display_all": "true"}


@dataclass
class Globex:
    team: Team
    user: User
    event: UsageEvent


@pytest.fixture
def globex(other_org, world) -> Globex:
    team = Team.objects.create(organization=other_org, name="Alpha")
    user = User.objects.create(organization=other_org, email="ann@acme.test")
    device = make_device(other_org, "x1@h1.acme.test")
    event = session(device, utc("2024-01-01 09:00"), utc("2024-01-01 09:20"), user=user, team=team)
    return Globex(team, user, event)


def own_rows(g: Globex) -> dict[str, list[dict]]:
    """Globex's report of 2024-01-01, by grouping: its one session and nothing of Acme's."""
    device = {"device_address": "x1@h1.acme.test"}
    team = {"team_id": str(g.team.id), "team_name": "Alpha"}
    user = {"user_id": str(g.user.id), "user_email": "ann@acme.test"}
    return {
        "org": [row(*DAY_BIN, 1200.0, 1, 1)],
        "device": [row(*DAY_BIN, 1200.0, 1, 1, **device)],
        "team": [row(*DAY_BIN, 1200.0, 1, 1, **team)],
        "user": [row(*DAY_BIN, 1200.0, 1, 1, **user)],
        "host": [row(*DAY_BIN, 1200.0, 1, 1, hostname="h1.acme.test")],
        "device_team": [row(*DAY_BIN, 1200.0, 1, 1, **device, **team)],
        "device_user": [row(*DAY_BIN, 1200.0, 1, 1, **device, **user)],
    }


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_every_grouping_shows_only_the_callers_rows(other_api, globex, grouping):
    assert get(other_api, f"/v2/usage/{grouping}", DAY) == (200, {"report": own_rows(globex)[grouping]})


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_display_all_lists_no_foreign_group(other_api, globex, grouping):
    # Acme has three more teams, users and devices and two more hosts: none may appear.
    assert get(other_api, f"/v2/usage/{grouping}", ALL) == (200, {"report": own_rows(globex)[grouping]})


def test_the_first_organization_does_not_see_the_second(api, globex):
    # Acme's host h1 holds Globex's x1 too: Acme's h1 total stays 6300 s on two devices.
    assert get(api, "/v2/usage/host", DAY) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 6300.0, 2, 3, hostname="h1.acme.test"),
                row(*DAY_BIN, 7200.0, 1, 1, hostname="h2.acme.test"),
            ]
        },
    )
    assert get(api, "/v2/usage", DAY) == (200, {"report": [row(*DAY_BIN, 13500.0, 3, 4)]})


def foreign_filters(world) -> list[tuple[str, str]]:
    return [
        ("filter_team_id", str(world.alpha.id)),
        ("filter_user_id", str(world.ann.id)),
        ("filter_device_address", "d1@h1.acme.test"),
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("grouping", GROUPINGS)
def test_filtering_by_the_first_organizations_ids_gives_nothing(other_api, world, globex, grouping, index):
    kind, value = foreign_filters(world)[index]
    expected = [row(*DAY_BIN, 0.0, 0, 0)] if grouping == "org" else []
    assert get(other_api, f"/v2/usage/{grouping}", {**DAY, kind: value}) == (200, {"report": expected})


# The groupings whose listed groups (display_all) a filter kind narrows.
NARROWS = {
    "filter_team_id": {"team", "device_team"},
    "filter_user_id": {"user", "device_user"},
    "filter_device_address": {"device", "host", "device_team", "device_user"},
}


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("grouping", GROUPINGS)
def test_display_all_with_a_foreign_filter_lists_only_the_callers_groups_at_zero(
    other_api, world, globex, grouping, index
):
    # The filter matches no session: every listed group has zeros, and only Globex's groups are
    # listed (none at all when the filter narrows the grouping's own kind to nothing).
    kind, value = foreign_filters(world)[index]
    zeroed = [{**r, "total_time": 0.0, "device_count": 0, "session_count": 0} for r in own_rows(globex)[grouping]]
    expected = [] if grouping in NARROWS[kind] else zeroed
    assert get(other_api, f"/v2/usage/{grouping}", {**ALL, kind: value}) == (200, {"report": expected})


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_filtering_by_a_shared_team_name_or_email_gives_only_the_callers_rows(other_api, globex, grouping):
    for kind, value in [("filter_team_name", "Alpha"), ("filter_user_email", "ann@acme.test")]:
        assert get(other_api, f"/v2/usage/{grouping}", {**DAY, kind: value}) == (
            200,
            {"report": own_rows(globex)[grouping]},
        )


def test_filtering_by_a_name_only_the_first_organization_has_gives_nothing(other_api, globex):
    for kind, value in [("filter_team_name", "Beta"), ("filter_user_email", "bob@acme.test")]:
        assert get(other_api, "/v2/usage/device_team", {**DAY, kind: value}) == (200, {"report": []})
        assert get(other_api, "/v2/usage", {**DAY, kind: value}) == (200, {"report": [row(*DAY_BIN, 0.0, 0, 0)]})
    assert get(other_api, "/v2/usage/team", {**ALL, "filter_team_name": "Beta"}) == (200, {"report": []})
    assert get(other_api, "/v2/usage/user", {**ALL, "filter_user_email": "bob@acme.test"}) == (200, {"report": []})


def test_the_event_route_lists_only_the_callers_sessions(other_api, globex):
    status, data = get(other_api, "/v2/usage/event", {"start_date": "2024-01-01", "end_date": "2024-01-01"})
    assert status == 200
    assert data == {
        "report": [
            {
                "id": str(globex.event.id),
                "device_address": "x1@h1.acme.test",
                "device_id": "x1",
                "hostname": "h1.acme.test",
                "user_id": str(globex.user.id),
                "user_email": "ann@acme.test",
                "team_id": str(globex.team.id),
                "team_name": "Alpha",
                "automated": False,
                "start_time": "2024-01-01 09:00:00",
                "end_time": "2024-01-01 09:20:00",
                "duration": 1200.0,
            }
        ],
        "next_cursor": None,
    }


@pytest.mark.parametrize("index", [0, 1, 2])
def test_event_filters_by_the_first_organizations_ids_give_nothing(other_api, world, globex, index):
    kind, value = foreign_filters(world)[index]
    params = {"start_date": "2024-01-01", "end_date": "2024-01-01", kind: value}
    assert get(other_api, "/v2/usage/event", params) == (200, {"report": [], "next_cursor": None})
    assert get(other_api, "/v2/usage/event", {**params, "format": "csv"})[1].count("\n") == 1  # the header


def test_a_cursor_of_the_first_organization_reveals_nothing(api, other_api, world, globex):
    _, page = get(api, "/v2/usage/event", {"start_date": "2024-01-01", "end_date": "2024-01-01", "limit": "1"})
    params = {"start_date": "2024-01-01", "end_date": "2024-01-01", "cursor": page["next_cursor"]}
    # Globex's only session starts at 09:00, before Acme's first (10:00): after it, nothing.
    assert get(other_api, "/v2/usage/event", params) == (200, {"report": [], "next_cursor": None})
