"""display_all lists every group of the organization with zeros; rows are ordered by bin, then label."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get, make_device, session, utc
from tests.usage_v2.conftest import DAY, DAY_BIN, row
from usage.models import Team

pytestmark = pytest.mark.django_db

D1, D2, D3, D4 = "d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h3.acme.test"
ALL = {**DAY, "display_all": "true"}


def team(t) -> dict:
    return {"team_id": str(t.id), "team_name": t.name} if t else {"team_id": None, "team_name": None}


def user(u) -> dict:
    return {"user_id": str(u.id), "user_email": u.email} if u else {"user_id": None, "user_email": None}


def test_team_display_all_lists_empty_teams_and_keeps_the_null_team(api, world):
    assert get(api, "/v2/usage/team", ALL) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 3600.0, 1, 1, **team(world.alpha)),
                row(*DAY_BIN, 9000.0, 2, 2, **team(world.beta)),
                row(*DAY_BIN, 0.0, 0, 0, **team(world.gamma)),
                row(*DAY_BIN, 900.0, 1, 1, **team(None)),
            ]
        },
    )


def test_user_display_all(api, world):
    assert get(api, "/v2/usage/user", ALL) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 10800.0, 2, 2, **user(world.ann)),
                row(*DAY_BIN, 1800.0, 1, 1, **user(world.bob)),
                row(*DAY_BIN, 0.0, 0, 0, **user(world.carl)),
                row(*DAY_BIN, 900.0, 1, 1, **user(None)),
            ]
        },
    )


def test_device_display_all(api, world):
    assert get(api, "/v2/usage/device", ALL) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 4500.0, 1, 2, device_address=D1),
                row(*DAY_BIN, 1800.0, 1, 1, device_address=D2),
                row(*DAY_BIN, 7200.0, 1, 1, device_address=D3),
                row(*DAY_BIN, 0.0, 0, 0, device_address=D4),
            ]
        },
    )


def test_host_display_all(api, world):
    assert get(api, "/v2/usage/host", ALL) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 6300.0, 2, 3, hostname="h1.acme.test"),
                row(*DAY_BIN, 7200.0, 1, 1, hostname="h2.acme.test"),
                row(*DAY_BIN, 0.0, 0, 0, hostname="h3.acme.test"),
            ]
        },
    )


def test_device_team_display_all_is_every_device_times_every_team(api, world):
    alpha, beta, gamma = team(world.alpha), team(world.beta), team(world.gamma)
    zero = (0.0, 0, 0)
    assert get(api, "/v2/usage/device_team", ALL) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 3600.0, 1, 1, device_address=D1, **alpha),
                row(*DAY_BIN, *zero, device_address=D1, **beta),
                row(*DAY_BIN, *zero, device_address=D1, **gamma),
                row(*DAY_BIN, 900.0, 1, 1, device_address=D1, **team(None)),
                row(*DAY_BIN, *zero, device_address=D2, **alpha),
                row(*DAY_BIN, 1800.0, 1, 1, device_address=D2, **beta),
                row(*DAY_BIN, *zero, device_address=D2, **gamma),
                row(*DAY_BIN, *zero, device_address=D3, **alpha),
                row(*DAY_BIN, 7200.0, 1, 1, device_address=D3, **beta),
                row(*DAY_BIN, *zero, device_address=D3, **gamma),
                row(*DAY_BIN, *zero, device_address=D4, **alpha),
                row(*DAY_BIN, *zero, device_address=D4, **beta),
                row(*DAY_BIN, *zero, device_address=D4, **gamma),
            ]
        },
    )


def test_device_user_display_all_covers_every_pair(api, world):
    status, data = get(api, "/v2/usage/device_user", ALL)
    assert status == 200
    # 4 devices x 3 users, plus d1's session without a user.
    assert len(data["report"]) == 13
    assert sum(r["total_time"] for r in data["report"]) == 13500.0
    assert [(r["device_address"], r["user_email"]) for r in data["report"][:4]] == [
        (D1, "ann@acme.test"),
        (D1, "bob@acme.test"),
        (D1, "carl@acme.test"),
        (D1, None),
    ]


def test_display_all_repeats_every_group_in_every_bin(api, world):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "day", "display_all": "true"}
    day2 = ("2024-01-02 00:00:00", "2024-01-02 00:00:00", "2024-01-03 00:00:00")
    assert get(api, "/v2/usage/team", params) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 3600.0, 1, 1, **team(world.alpha)),
                row(*DAY_BIN, 9000.0, 2, 2, **team(world.beta)),
                row(*DAY_BIN, 0.0, 0, 0, **team(world.gamma)),
                row(*DAY_BIN, 900.0, 1, 1, **team(None)),
                # No session on day 2: every team with zeros, and no null team (it has no time).
                row(*day2, 0.0, 0, 0, **team(world.alpha)),
                row(*day2, 0.0, 0, 0, **team(world.beta)),
                row(*day2, 0.0, 0, 0, **team(world.gamma)),
            ]
        },
    )


def test_display_all_false_is_the_default(api, world):
    assert get(api, "/v2/usage/team", {**DAY, "display_all": "false"}) == get(api, "/v2/usage/team", DAY)


def test_display_all_lists_only_the_filtered_groups(api, world):
    params = {**ALL, "filter_team_name": "Beta"}
    assert get(api, "/v2/usage/team", params) == (200, {"report": [row(*DAY_BIN, 9000.0, 2, 2, **team(world.beta))]})
    params = {**ALL, "filter_device_address": D1}
    h1 = row(*DAY_BIN, 4500.0, 1, 2, hostname="h1.acme.test")
    assert get(api, "/v2/usage/host", params) == (200, {"report": [h1]})


def test_rows_are_ordered_by_bin_then_label_with_nulls_last(api, org):
    # Created in the reverse of the expected order, so that neither insertion order nor ids can pass.
    zulu = Team.objects.create(organization=org, name="zulu")
    mike = Team.objects.create(organization=org, name="mike")
    alpha = Team.objects.create(organization=org, name="alpha")
    device = make_device(org, "d9@h9.acme.test")
    session(device, utc("2024-01-02 09:00"), utc("2024-01-02 10:00"), team=alpha)
    session(device, utc("2024-01-02 08:00"), utc("2024-01-02 08:30"))
    session(device, utc("2024-01-01 12:00"), utc("2024-01-01 12:10"), team=zulu)
    session(device, utc("2024-01-01 11:00"), utc("2024-01-01 11:20"), team=mike)
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 10:30"))
    session(device, utc("2024-01-01 09:00"), utc("2024-01-01 09:40"), team=alpha)
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "day"}
    day2 = ("2024-01-02 00:00:00", "2024-01-02 00:00:00", "2024-01-03 00:00:00")
    assert get(api, "/v2/usage/team", params) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 2400.0, 1, 1, **team(alpha)),
                row(*DAY_BIN, 1200.0, 1, 1, **team(mike)),
                row(*DAY_BIN, 600.0, 1, 1, **team(zulu)),
                row(*DAY_BIN, 1800.0, 1, 1, **team(None)),
                row(*day2, 3600.0, 1, 1, **team(alpha)),
                row(*day2, 1800.0, 1, 1, **team(None)),
            ]
        },
    )
