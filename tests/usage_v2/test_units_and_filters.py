"""The unit of total_time, and the five filters: kinds AND'ed, repeated values OR'ed (seed 000 [1], [2])."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get
from tests.usage_v2.conftest import DAY, DAY_BIN, row
from usage.models import User

pytestmark = pytest.mark.django_db

D1, D2 = "d1@h1.acme.test", "d2@h1.acme.test"


@pytest.mark.parametrize(
    ("unit", "total"),
    [
        ("second", 13500.0),
        ("minute", 225.0),  # 13500 / 60
        ("hour", 3.75),  # 13500 / 3600
        ("day", 0.15625),  # 13500 / 86400
    ],
)
def test_unit_expresses_total_time(api, world, unit, total):
    status, data = get(api, "/v2/usage", {**DAY, "unit": unit})
    assert status == 200
    assert data == {"report": [row(*DAY_BIN, total, 3, 4, unit=unit)]}


def test_unit_applies_to_every_row_of_a_grouping(api, world):
    status, data = get(api, "/v2/usage/host", {**DAY, "unit": "minute"})
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 105.0, 2, 3, unit="minute", hostname="h1.acme.test"),  # 6300 s
            row(*DAY_BIN, 120.0, 1, 1, unit="minute", hostname="h2.acme.test"),  # 7200 s
        ]
    }


def org_report(api, filters: list[tuple[str, str]]) -> tuple[int, dict]:
    return get(api, "/v2/usage", [*DAY.items(), *filters])


def test_filter_team_id(api, world):
    assert org_report(api, [("filter_team_id", str(world.alpha.id))]) == (
        200,
        {"report": [row(*DAY_BIN, 3600.0, 1, 1)]},
    )


def test_filter_team_name(api, world):
    # S2 + S3.
    assert org_report(api, [("filter_team_name", "Beta")]) == (200, {"report": [row(*DAY_BIN, 9000.0, 2, 2)]})


def test_filter_user_id(api, world):
    assert org_report(api, [("filter_user_id", str(world.bob.id))]) == (200, {"report": [row(*DAY_BIN, 1800.0, 1, 1)]})


def test_filter_user_email(api, world):
    # S1 + S3, on d1 and d3.
    assert org_report(api, [("filter_user_email", "ann@acme.test")]) == (
        200,
        {"report": [row(*DAY_BIN, 10800.0, 2, 2)]},
    )


@pytest.mark.parametrize("asked", ["ann@acme.test", "Ann@ACME.test", "ANN@ACME.TEST"])
def test_filter_user_email_ignores_case(api, world, asked):
    # Stored in mixed case, asked in any case: S1 + S3, on d1 and d3 (as test_filter_user_email).
    User.objects.filter(pk=world.ann.pk).update(email="Ann@Acme.Test")
    assert org_report(api, [("filter_user_email", asked)]) == (200, {"report": [row(*DAY_BIN, 10800.0, 2, 2)]})


def test_filter_device_address(api, world):
    # S1 + S4.
    assert org_report(api, [("filter_device_address", D1)]) == (200, {"report": [row(*DAY_BIN, 4500.0, 1, 2)]})


def test_repeated_values_of_one_filter_are_ored(api, world):
    # Alpha (S1) or Beta (S2, S3); S4 has no team.
    filters = [("filter_team_name", "Alpha"), ("filter_team_name", "Beta")]
    assert org_report(api, filters) == (200, {"report": [row(*DAY_BIN, 12600.0, 3, 3)]})


def test_repeated_ids_are_ored(api, world):
    filters = [("filter_user_id", str(world.ann.id)), ("filter_user_id", str(world.bob.id))]
    assert org_report(api, filters) == (200, {"report": [row(*DAY_BIN, 12600.0, 3, 3)]})


def test_different_filters_are_anded(api, world):
    # Beta (S2, S3) and ann (S1, S3): S3 only.
    filters = [("filter_team_name", "Beta"), ("filter_user_email", "ann@acme.test")]
    assert org_report(api, filters) == (200, {"report": [row(*DAY_BIN, 7200.0, 1, 1)]})


def test_ors_within_kinds_and_ands_across_them(api, world):
    # (ann or bob) and (d1 or d2): S1 (d1, ann) and S2 (d2, bob); S3 is on d3, S4 has no user.
    filters = [
        ("filter_user_email", "ann@acme.test"),
        ("filter_user_email", "bob@acme.test"),
        ("filter_device_address", D1),
        ("filter_device_address", D2),
    ]
    assert org_report(api, filters) == (200, {"report": [row(*DAY_BIN, 5400.0, 2, 2)]})


def test_all_five_filters_together(api, world):
    filters = [
        ("filter_team_id", str(world.beta.id)),
        ("filter_team_name", "Beta"),
        ("filter_user_id", str(world.ann.id)),
        ("filter_user_email", "ann@acme.test"),
        ("filter_device_address", "d3@h2.acme.test"),
    ]
    assert org_report(api, filters) == (200, {"report": [row(*DAY_BIN, 7200.0, 1, 1)]})


def test_filters_narrow_a_grouped_report(api, world):
    status, data = get(api, "/v2/usage/device_team", [*DAY.items(), ("filter_team_name", "Beta")])
    assert status == 200
    beta = {"team_id": str(world.beta.id), "team_name": "Beta"}
    assert data == {
        "report": [
            row(*DAY_BIN, 1800.0, 1, 1, device_address=D2, **beta),
            row(*DAY_BIN, 7200.0, 1, 1, device_address="d3@h2.acme.test", **beta),
        ]
    }


@pytest.mark.parametrize(
    "kind",
    ["filter_team_id", "filter_team_name", "filter_user_id", "filter_user_email", "filter_device_address"],
)
def test_a_filter_matching_nothing_gives_zero_rows_for_each_bin(api, world, kind):
    value = {
        "filter_team_id": "00000000-0000-0000-0000-000000000000",
        "filter_team_name": "Nobody",
        "filter_user_id": "00000000-0000-0000-0000-000000000000",
        "filter_user_email": "nobody@acme.test",
        "filter_device_address": "nothing@nowhere.test",
    }[kind]
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "day", kind: value}
    assert get(api, "/v2/usage", params) == (
        200,
        {
            "report": [
                row(*DAY_BIN, 0.0, 0, 0),
                row("2024-01-02 00:00:00", "2024-01-02 00:00:00", "2024-01-03 00:00:00", 0.0, 0, 0),
            ]
        },
    )
    assert get(api, "/v2/usage/team", params) == (200, {"report": []})


def test_a_team_filter_leaves_out_sessions_without_a_team(api, world):
    filters = [("filter_team_name", "Alpha"), ("filter_team_name", "Beta")]
    status, data = get(api, "/v2/usage/team", [*DAY.items(), *filters])
    assert status == 200
    assert data == {
        "report": [
            row(*DAY_BIN, 3600.0, 1, 1, team_id=str(world.alpha.id), team_name="Alpha"),
            row(*DAY_BIN, 9000.0, 2, 2, team_id=str(world.beta.id), team_name="Beta"),
        ]
    }


def test_filter_hostname(api, world):
    # S1 + S2 + S4, on d1 and d2 (h1).
    assert org_report(api, [("filter_hostname", "h1.acme.test")]) == (200, {"report": [row(*DAY_BIN, 6300.0, 2, 3)]})


def test_filter_hostname_repeated_is_ored(api, world):
    # h1 (S1, S2, S4) or h2 (S3): every session.
    params = [("filter_hostname", "h1.acme.test"), ("filter_hostname", "h2.acme.test")]
    assert org_report(api, params) == (200, {"report": [row(*DAY_BIN, 13500.0, 3, 4)]})
