"""Every v2 grouping over the small world of conftest (one day bin, 2024-01-01 UTC)."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get
from tests.usage_v2.conftest import DAY, DAY_BIN, row

pytestmark = pytest.mark.django_db

D1, D2, D3 = "d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test"


def test_org_grouping_totals_every_session(api, world):
    # 3600 + 1800 + 7200 + 900 = 13500 s on three devices, four sessions.
    status, data = get(api, "/v2/usage/org", DAY)
    assert status == 200
    assert data == {"report": [row(*DAY_BIN, 13500.0, 3, 4)]}


def test_bare_route_is_the_org_grouping(api, world):
    assert get(api, "/v2/usage", DAY) == get(api, "/v2/usage/org", DAY)
    assert get(api, "/v2/usage", DAY)[1]["report"][0]["total_time"] == 13500.0


def test_rows_carry_the_fields_in_order(api, world):
    _, data = get(api, "/v2/usage/device_team", DAY)
    assert list(data["report"][0]) == [
        "datetime",
        "start_time",
        "end_time",
        "total_time",
        "device_count",
        "session_count",
        "device_address",
        "team_id",
        "team_name",
        "unit",
    ]


def test_device_grouping(api, world):
    # d1: S1 3600 + S4 900; d4 has no time and is left out.
    status, data = get(api, "/v2/usage/device", DAY)
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 4500.0, 1, 2, device_address=D1),
            row(*DAY_BIN, 1800.0, 1, 1, device_address=D2),
            row(*DAY_BIN, 7200.0, 1, 1, device_address=D3),
        ]
    }


def test_team_grouping_with_the_null_team_last(api, world):
    # Alpha: S1; Beta: S2 + S3 = 9000 on d2 and d3; no team: S4.
    status, data = get(api, "/v2/usage/team", DAY)
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 3600.0, 1, 1, team_id=str(world.alpha.id), team_name="Alpha"),
            row(*DAY_BIN, 9000.0, 2, 2, team_id=str(world.beta.id), team_name="Beta"),
            row(*DAY_BIN, 900.0, 1, 1, team_id=None, team_name=None),
        ]
    }


def test_user_grouping_with_the_null_user_last(api, world):
    # ann: S1 + S3 = 10800 on d1 and d3; bob: S2; no user: S4.
    status, data = get(api, "/v2/usage/user", DAY)
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 10800.0, 2, 2, user_id=str(world.ann.id), user_email="ann@acme.test"),
            row(*DAY_BIN, 1800.0, 1, 1, user_id=str(world.bob.id), user_email="bob@acme.test"),
            row(*DAY_BIN, 900.0, 1, 1, user_id=None, user_email=None),
        ]
    }


def test_host_grouping(api, world):
    # h1: S1 + S2 + S4 = 6300 on d1 and d2; h2: S3.
    status, data = get(api, "/v2/usage/host", DAY)
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 6300.0, 2, 3, hostname="h1.acme.test"),
            row(*DAY_BIN, 7200.0, 1, 1, hostname="h2.acme.test"),
        ]
    }


DEVICE_TEAM_ROWS = [
    ("d1", 3600.0, "alpha"),
    ("d1", 900.0, None),
    ("d2", 1800.0, "beta"),
    ("d3", 7200.0, "beta"),
]


def expected_device_team(world) -> dict:
    addresses = {"d1": D1, "d2": D2, "d3": D3}
    rows = []
    for device, total, team in DEVICE_TEAM_ROWS:
        t = getattr(world, team) if team else None
        rows.append(
            row(
                *DAY_BIN,
                total,
                1,
                1,
                device_address=addresses[device],
                team_id=str(t.id) if t else None,
                team_name=t.name if t else None,
            )
        )
    return {"report": rows}


@pytest.mark.parametrize("grouping", ["device_team", "device-team", "team/device"])
def test_device_team_grouping_and_its_aliases(api, world, grouping):
    status, data = get(api, f"/v2/usage/{grouping}", DAY)
    assert status == 200
    assert data == expected_device_team(world)


@pytest.mark.parametrize("grouping", ["device_user", "device-user", "user/device"])
def test_device_user_grouping_and_its_aliases(api, world, grouping):
    ann = {"user_id": str(world.ann.id), "user_email": "ann@acme.test"}
    bob = {"user_id": str(world.bob.id), "user_email": "bob@acme.test"}
    nobody = {"user_id": None, "user_email": None}
    status, data = get(api, f"/v2/usage/{grouping}", DAY)
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 3600.0, 1, 1, device_address=D1, **ann),
            row(*DAY_BIN, 900.0, 1, 1, device_address=D1, **nobody),
            row(*DAY_BIN, 1800.0, 1, 1, device_address=D2, **bob),
            row(*DAY_BIN, 7200.0, 1, 1, device_address=D3, **ann),
        ]
    }


def test_a_trailing_slash_is_the_same_grouping(api, world):
    # As test_team_grouping_with_the_null_team_last.
    expected = {
        "report": [
            row(*DAY_BIN, 3600.0, 1, 1, team_id=str(world.alpha.id), team_name="Alpha"),
            row(*DAY_BIN, 9000.0, 2, 2, team_id=str(world.beta.id), team_name="Beta"),
            row(*DAY_BIN, 900.0, 1, 1, team_id=None, team_name=None),
        ]
    }
    assert get(api, "/v2/usage/team/", DAY) == get(api, "/v2/usage/team", DAY) == (200, expected)


def test_unknown_grouping_is_a_404_listing_the_valid_ones(api, world):
    status, data = get(api, "/v2/usage/region", DAY)
    assert status == 404
    assert data == {
        "error": {
            "code": "not_found",
            "message": "Unknown grouping 'region'. Valid groupings: org, device, team, user, host, device_team, "
            "device_user, device-team, team/device, device-user, user/device, event.",
            "details": {"grouping": "region"},
        }
    }
