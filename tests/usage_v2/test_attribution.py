"""How a session's time, its count and its device are attributed to bins (SPEC §5, Attribution)."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get, make_device, session, utc
from tests.usage_v2.conftest import row

pytestmark = pytest.mark.django_db


def days(start: str, end: str) -> dict[str, str]:
    return {"start_date": start, "end_date": end, "bin_size": "day"}


def day_row(day: int, total: float, devices: int, sessions: int, **labels) -> dict:
    """A whole UTC day bin of January 2024."""
    nxt = f"2024-01-{day + 1:02d} 00:00:00" if day < 31 else "2024-02-01 00:00:00"
    this = f"2024-01-{day:02d} 00:00:00"
    return row(this, this, nxt, total, devices, sessions, **labels)


def test_a_session_across_midnight_is_split_between_the_days(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 23:30"), utc("2024-01-02 01:30"))
    status, data = get(api, "/v2/usage", days("2024-01-01", "2024-01-02"))
    assert status == 200
    # 30 minutes before midnight, 90 after; counted once, on the day it starts.
    assert data == {"report": [day_row(1, 1800.0, 1, 1), day_row(2, 5400.0, 1, 0)]}


def test_a_multi_day_session_fills_every_day_it_spans(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 12:00"), utc("2024-01-04 06:00"))
    status, data = get(api, "/v2/usage/device", days("2024-01-01", "2024-01-04"))
    assert status == 200
    address = {"device_address": "d1@h1.acme.test"}
    assert data == {
        "report": [
            day_row(1, 12 * 3600.0, 1, 1, **address),
            day_row(2, 24 * 3600.0, 1, 0, **address),
            day_row(3, 24 * 3600.0, 1, 0, **address),
            day_row(4, 6 * 3600.0, 1, 0, **address),
        ]
    }


def test_only_time_inside_the_range_counts(api, org):
    device = make_device(org, "d1@h1.acme.test")
    # Started before the range: its 2 hours inside count, the session does not.
    session(device, utc("2023-12-31 22:00"), utc("2024-01-01 02:00"))
    # Runs past the range end: 1 hour inside, counted (it starts inside).
    session(device, utc("2024-01-02 23:00"), utc("2024-01-03 01:00"))
    # Wholly outside.
    session(device, utc("2023-12-30 10:00"), utc("2023-12-30 11:00"))
    session(device, utc("2024-01-03 00:00"), utc("2024-01-03 05:00"))
    status, data = get(api, "/v2/usage", days("2024-01-01", "2024-01-02"))
    assert status == 200
    assert data == {"report": [day_row(1, 7200.0, 1, 0), day_row(2, 3600.0, 1, 1)]}


def test_a_month_bin_clipped_to_the_range_sums_the_time_inside(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2023-12-31 22:00"), utc("2024-01-01 02:00"))
    session(device, utc("2024-01-02 23:00"), utc("2024-01-03 01:00"))
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "month"}
    status, data = get(api, "/v2/usage", params)
    assert status == 200
    # 2 h + 1 h; one session starts inside.
    assert data == {"report": [row("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-03 00:00:00", 10800.0, 1, 1)]}


def test_session_count_is_in_the_starting_bin_only(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 08:00"), utc("2024-01-01 09:00"))
    session(device, utc("2024-01-01 23:00"), utc("2024-01-03 01:00"))
    session(device, utc("2024-01-02 10:00"), utc("2024-01-02 10:10"))
    status, data = get(api, "/v2/usage", days("2024-01-01", "2024-01-03"))
    assert status == 200
    assert data == {
        "report": [
            day_row(1, 3600.0 + 3600.0, 1, 2),
            day_row(2, 86400.0 + 600.0, 1, 1),
            day_row(3, 3600.0, 1, 0),
        ]
    }


def test_device_count_counts_distinct_devices_with_time_in_the_bin(api, org):
    d1 = make_device(org, "d1@h1.acme.test")
    d2 = make_device(org, "d2@h1.acme.test")
    d3 = make_device(org, "d3@h1.acme.test")
    # d1 twice on day 1, d2 once: two devices. d2 runs over midnight: day 2 has d2 only.
    session(d1, utc("2024-01-01 08:00"), utc("2024-01-01 09:00"))
    session(d1, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"))
    session(d2, utc("2024-01-01 23:00"), utc("2024-01-02 00:30"))
    # d3 ends exactly at midnight: no time (and so no device) on day 2.
    session(d3, utc("2024-01-01 22:00"), utc("2024-01-02 00:00"))
    status, data = get(api, "/v2/usage", days("2024-01-01", "2024-01-02"))
    assert status == 200
    assert data == {
        "report": [
            day_row(1, 3600.0 * 2 + 3600.0 + 7200.0, 3, 4),
            day_row(2, 1800.0, 1, 0),
        ]
    }


def test_a_session_starting_at_midnight_belongs_to_the_new_day(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-02 00:00"), utc("2024-01-02 01:00"))
    status, data = get(api, "/v2/usage/device", days("2024-01-01", "2024-01-02"))
    assert status == 200
    assert data == {"report": [day_row(2, 3600.0, 1, 1, device_address="d1@h1.acme.test")]}


def test_the_org_grouping_returns_every_bin_with_zeros(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-02 06:00"), utc("2024-01-02 06:45"))
    status, data = get(api, "/v2/usage", days("2024-01-01", "2024-01-04"))
    assert status == 200
    assert data == {
        "report": [
            day_row(1, 0.0, 0, 0),
            day_row(2, 2700.0, 1, 1),
            day_row(3, 0.0, 0, 0),
            day_row(4, 0.0, 0, 0),
        ]
    }


def test_sessions_without_team_or_user_keep_v2_totals_whole(api, world):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "day"}
    totals = {}
    for grouping in ("org", "device", "team", "user", "host", "device_team", "device_user"):
        _, data = get(api, f"/v2/usage/{grouping}", params)
        totals[grouping] = (
            sum(r["total_time"] for r in data["report"]),
            sum(r["session_count"] for r in data["report"]),
        )
    assert totals == dict.fromkeys(totals, (13500.0, 4))


def test_a_zero_length_session_is_counted_in_every_grouping(api, org):
    # It starts in the bin (session_count 1) but has no time (total 0, no device with time).
    # Grouped reports dropped its row, so their session_count no longer added up to the org's.
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 10:00"))
    params = days("2024-01-01", "2024-01-01")
    assert get(api, "/v2/usage", params) == (200, {"report": [day_row(1, 0.0, 0, 1)]})
    assert get(api, "/v2/usage/device", params) == (
        200,
        {"report": [day_row(1, 0.0, 0, 1, device_address="d1@h1.acme.test")]},
    )
    assert get(api, "/v2/usage/team", params) == (
        200,
        {"report": [day_row(1, 0.0, 0, 1, team_id=None, team_name=None)]},
    )


def test_a_session_around_the_whole_range_fills_every_bin_and_is_not_counted(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2023-12-31 12:00"), utc("2024-01-04 12:00"))
    address = {"device_address": "d1@h1.acme.test"}
    assert get(api, "/v2/usage/device", days("2024-01-01", "2024-01-02")) == (
        200,
        {"report": [day_row(1, 86400.0, 1, 0, **address), day_row(2, 86400.0, 1, 0, **address)]},
    )


def test_sessions_ending_exactly_on_the_range_edges(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2023-12-31 23:00"), utc("2024-01-01 00:00"))  # ends where the range starts: nothing
    session(device, utc("2024-01-02 23:00"), utc("2024-01-03 00:00"))  # ends where the range ends: all of it
    params = days("2024-01-01", "2024-01-02")
    assert get(api, "/v2/usage", params) == (200, {"report": [day_row(1, 0.0, 0, 0), day_row(2, 3600.0, 1, 1)]})
    assert get(api, "/v2/usage/device", params) == (
        200,
        {"report": [day_row(2, 3600.0, 1, 1, device_address="d1@h1.acme.test")]},
    )


def test_fractions_of_a_second_on_both_sides_of_an_edge(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 23:59:59.250"), utc("2024-01-02 00:00:00.500"))
    session(device, utc("2024-01-01 10:00:00.125"), utc("2024-01-01 10:00:01"))
    assert get(api, "/v2/usage", days("2024-01-01", "2024-01-02")) == (
        200,
        {"report": [day_row(1, 0.875 + 0.75, 1, 2), day_row(2, 0.5, 1, 0)]},
    )
