"""Bins: DST-correct calendar bins in the requested zone, N-second bins, clipped first and last bins.

Most tests use one session that covers the whole range (it starts before it, so session_count is
0 everywhere) to make each bin's total_time its length in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.usage_helpers import get, local, make_device, session, utc
from tests.usage_v2.conftest import row

pytestmark = pytest.mark.django_db

H = 3600.0


@pytest.fixture
def device(org):
    return make_device(org, "d1@h1.acme.test")


@pytest.fixture
def always_on(device):
    """A session from 2023-12-01 to 2025-01-01 UTC: every bin of 2024 is full of it."""
    return session(device, utc("2023-12-01 00:00"), utc("2025-01-01 00:00"))


def report(api, zone: str, start: str, end: str, bin_size: str | int, grouping: str = "org") -> list[dict]:
    params = {"start_date": start, "end_date": end, "bin_size": bin_size, "timezone": zone}
    status, data = get(api, f"/v2/usage/{grouping}" if grouping != "org" else "/v2/usage", params)
    assert status == 200, data
    return data["report"]


# ---- America/Los_Angeles -------------------------------------------------------------------


def test_los_angeles_spring_forward_day_has_23_hours(api, always_on):
    assert report(api, "America/Los_Angeles", "2024-03-09", "2024-03-11", "day") == [
        row("2024-03-09 00:00:00", "2024-03-09 00:00:00", "2024-03-10 00:00:00", 24 * H, 1, 0),
        row("2024-03-10 00:00:00", "2024-03-10 00:00:00", "2024-03-11 00:00:00", 23 * H, 1, 0),
        row("2024-03-11 00:00:00", "2024-03-11 00:00:00", "2024-03-12 00:00:00", 24 * H, 1, 0),
    ]


def test_los_angeles_fall_back_day_has_25_hours(api, always_on):
    assert report(api, "America/Los_Angeles", "2024-11-02", "2024-11-04", "day") == [
        row("2024-11-02 00:00:00", "2024-11-02 00:00:00", "2024-11-03 00:00:00", 24 * H, 1, 0),
        row("2024-11-03 00:00:00", "2024-11-03 00:00:00", "2024-11-04 00:00:00", 25 * H, 1, 0),
        row("2024-11-04 00:00:00", "2024-11-04 00:00:00", "2024-11-05 00:00:00", 24 * H, 1, 0),
    ]


def test_los_angeles_spring_forward_hours_skip_two_oclock(api, always_on):
    rows = report(api, "America/Los_Angeles", "2024-03-10", "2024-03-10", "hour")
    hours = [0, 1, *range(3, 24)]
    assert [r["datetime"] for r in rows] == [f"2024-03-10 {h:02d}:00:00" for h in hours]
    assert rows[:3] == [
        row("2024-03-10 00:00:00", "2024-03-10 00:00:00", "2024-03-10 01:00:00", H, 1, 0),
        # 01:59:59 PST is followed by 03:00:00 PDT.
        row("2024-03-10 01:00:00", "2024-03-10 01:00:00", "2024-03-10 03:00:00", H, 1, 0),
        row("2024-03-10 03:00:00", "2024-03-10 03:00:00", "2024-03-10 04:00:00", H, 1, 0),
    ]
    assert rows[-1] == row("2024-03-10 23:00:00", "2024-03-10 23:00:00", "2024-03-11 00:00:00", H, 1, 0)
    assert sum(r["total_time"] for r in rows) == 23 * H


def test_los_angeles_fall_back_repeated_hour_is_two_bins(api, device):
    # 01:30 PDT (08:30 UTC) to 01:30 PST (09:30 UTC): half in each 01:00 hour.
    session(device, local("2024-11-03 01:30", "America/Los_Angeles"), utc("2024-11-03 09:30"))
    rows = report(api, "America/Los_Angeles", "2024-11-03", "2024-11-03", "hour")
    assert len(rows) == 25
    assert [r["datetime"] for r in rows[:4]] == [
        "2024-11-03 00:00:00",
        "2024-11-03 01:00:00",
        "2024-11-03 01:00:00",
        "2024-11-03 02:00:00",
    ]
    # Wall-clock times without an offset: the first 01:00 hour ends when the clock reads 01:00 again.
    assert rows[1:3] == [
        row("2024-11-03 01:00:00", "2024-11-03 01:00:00", "2024-11-03 01:00:00", 1800.0, 1, 1),
        row("2024-11-03 01:00:00", "2024-11-03 01:00:00", "2024-11-03 02:00:00", 1800.0, 1, 0),
    ]
    assert sum(r["total_time"] for r in rows) == 3600.0


def test_us_pacific_is_accepted_as_los_angeles(api, always_on):
    assert report(api, "US/Pacific", "2024-03-10", "2024-03-10", "day") == [
        row("2024-03-10 00:00:00", "2024-03-10 00:00:00", "2024-03-11 00:00:00", 23 * H, 1, 0),
    ]


# ---- Half- and quarter-hour zones --------------------------------------------------------------


def test_kolkata_hours_start_at_half_past_utc(api, device):
    # 04:00-05:00 UTC is 09:30-10:30 IST: half an hour in each local hour.
    session(device, utc("2024-01-01 04:00"), utc("2024-01-01 05:00"))
    address = {"device_address": "d1@h1.acme.test"}
    assert report(api, "Asia/Kolkata", "2024-01-01", "2024-01-01", "hour", "device") == [
        row("2024-01-01 09:00:00", "2024-01-01 09:00:00", "2024-01-01 10:00:00", 1800.0, 1, 1, **address),
        row("2024-01-01 10:00:00", "2024-01-01 10:00:00", "2024-01-01 11:00:00", 1800.0, 1, 0, **address),
    ]


def test_kolkata_org_report_has_24_local_hours(api, device):
    session(device, utc("2024-01-01 04:00"), utc("2024-01-01 05:00"))
    rows = report(api, "Asia/Kolkata", "2024-01-01", "2024-01-01", "hour")
    assert [r["datetime"] for r in rows] == [f"2024-01-01 {h:02d}:00:00" for h in range(24)]
    assert [r["total_time"] for r in rows] == [0.0] * 9 + [1800.0, 1800.0] + [0.0] * 13


def test_kathmandu_hours_start_at_quarter_past_utc(api, device):
    # 04:00-05:00 UTC is 09:45-10:45 NPT (+05:45): 15 minutes, then 45.
    session(device, utc("2024-01-01 04:00"), utc("2024-01-01 05:00"))
    address = {"device_address": "d1@h1.acme.test"}
    assert report(api, "Asia/Kathmandu", "2024-01-01", "2024-01-01", "hour", "device") == [
        row("2024-01-01 09:00:00", "2024-01-01 09:00:00", "2024-01-01 10:00:00", 900.0, 1, 1, **address),
        row("2024-01-01 10:00:00", "2024-01-01 10:00:00", "2024-01-01 11:00:00", 2700.0, 1, 0, **address),
    ]


# ---- Australia/Lord_Howe: a 30-minute DST shift -------------------------------------------------


def test_lord_howe_dst_day_has_23_and_a_half_hours(api, always_on):
    # 2024-10-06 02:00 LHST (+10:30) becomes 02:30 LHDT (+11:00).
    assert report(api, "Australia/Lord_Howe", "2024-10-05", "2024-10-07", "day") == [
        row("2024-10-05 00:00:00", "2024-10-05 00:00:00", "2024-10-06 00:00:00", 24 * H, 1, 0),
        row("2024-10-06 00:00:00", "2024-10-06 00:00:00", "2024-10-07 00:00:00", 23.5 * H, 1, 0),
        row("2024-10-07 00:00:00", "2024-10-07 00:00:00", "2024-10-08 00:00:00", 24 * H, 1, 0),
    ]


def test_lord_howe_dst_hour_two_is_half_an_hour(api, always_on):
    rows = report(api, "Australia/Lord_Howe", "2024-10-06", "2024-10-06", "hour")
    assert [r["datetime"] for r in rows] == [f"2024-10-06 {h:02d}:00:00" for h in range(24)]
    assert rows[1:4] == [
        row("2024-10-06 01:00:00", "2024-10-06 01:00:00", "2024-10-06 02:30:00", H, 1, 0),
        row("2024-10-06 02:00:00", "2024-10-06 02:30:00", "2024-10-06 03:00:00", 0.5 * H, 1, 0),
        row("2024-10-06 03:00:00", "2024-10-06 03:00:00", "2024-10-06 04:00:00", H, 1, 0),
    ]
    assert sum(r["total_time"] for r in rows) == 23.5 * H


def test_lord_howe_fall_back_day_has_24_and_a_half_hours(api, always_on):
    # 2024-04-07 02:00 LHDT (+11:00) becomes 01:30 LHST (+10:30).
    assert report(api, "Australia/Lord_Howe", "2024-04-07", "2024-04-07", "day") == [
        row("2024-04-07 00:00:00", "2024-04-07 00:00:00", "2024-04-08 00:00:00", 24.5 * H, 1, 0),
    ]


def test_a_day_without_midnight_starts_at_the_first_instant_that_exists(api, always_on):
    # Chile springs forward at 00:00 on 2024-09-08: that day starts at 01:00 (-03) and lasts 23 h.
    assert report(api, "America/Santiago", "2024-09-07", "2024-09-08", "day") == [
        row("2024-09-07 00:00:00", "2024-09-07 00:00:00", "2024-09-08 01:00:00", 24 * H, 1, 0),
        row("2024-09-08 00:00:00", "2024-09-08 01:00:00", "2024-09-09 00:00:00", 23 * H, 1, 0),
    ]


# ---- N-second bins -----------------------------------------------------------------------------


def test_six_hour_bins_in_utc(api, device):
    session(device, utc("2024-01-01 05:00"), utc("2024-01-01 07:00"))
    assert report(api, "UTC", "2024-01-01", "2024-01-01", 21600) == [
        row("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-01 06:00:00", H, 1, 1),
        row("2024-01-01 06:00:00", "2024-01-01 06:00:00", "2024-01-01 12:00:00", H, 1, 0),
        row("2024-01-01 12:00:00", "2024-01-01 12:00:00", "2024-01-01 18:00:00", 0.0, 0, 0),
        row("2024-01-01 18:00:00", "2024-01-01 18:00:00", "2024-01-02 00:00:00", 0.0, 0, 0),
    ]


def test_six_hour_bins_are_absolute_time_across_a_dst_change(api, always_on):
    # The 23-hour day: 6 h bins from local midnight (08:00 UTC), the last one clipped to 5 h.
    assert report(api, "America/Los_Angeles", "2024-03-10", "2024-03-10", 21600) == [
        row("2024-03-10 00:00:00", "2024-03-10 00:00:00", "2024-03-10 07:00:00", 6 * H, 1, 0),
        row("2024-03-10 07:00:00", "2024-03-10 07:00:00", "2024-03-10 13:00:00", 6 * H, 1, 0),
        row("2024-03-10 13:00:00", "2024-03-10 13:00:00", "2024-03-10 19:00:00", 6 * H, 1, 0),
        row("2024-03-10 19:00:00", "2024-03-10 19:00:00", "2024-03-11 00:00:00", 5 * H, 1, 0),
    ]


def test_an_uneven_n_second_bin_clips_the_last_one(api, always_on):
    # 86400 s in 25000 s bins: three whole bins and one of 11400 s.
    assert report(api, "UTC", "2024-01-01", "2024-01-01", 25000) == [
        row("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-01 06:56:40", 25000.0, 1, 0),
        row("2024-01-01 06:56:40", "2024-01-01 06:56:40", "2024-01-01 13:53:20", 25000.0, 1, 0),
        row("2024-01-01 13:53:20", "2024-01-01 13:53:20", "2024-01-01 20:50:00", 25000.0, 1, 0),
        row("2024-01-01 20:50:00", "2024-01-01 20:50:00", "2024-01-02 00:00:00", 11400.0, 1, 0),
    ]


def test_a_bin_longer_than_the_range_is_one_bin(api, always_on):
    # 10^14 s is beyond Python's timedelta: this was a 500.
    assert report(api, "UTC", "2024-01-01", "2024-01-02", 10**14) == [
        row("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-03 00:00:00", 48 * H, 1, 0),
    ]


# ---- Week and month bins starting mid-bin --------------------------------------------------------


def test_week_bins_start_monday_and_are_clipped_to_the_range(api, device):
    # 2024-01-03 is a Wednesday: its week is labelled Monday 2024-01-01 but starts on the 3rd.
    session(device, utc("2024-01-02 12:00"), utc("2024-01-03 12:00"))  # 12 h inside, began before
    session(device, utc("2024-01-10 08:00"), utc("2024-01-10 09:00"))
    session(device, utc("2024-01-16 23:00"), utc("2024-01-17 02:00"))  # 1 h inside
    assert report(api, "UTC", "2024-01-03", "2024-01-16", "week") == [
        row("2024-01-01 00:00:00", "2024-01-03 00:00:00", "2024-01-08 00:00:00", 12 * H, 1, 0),
        row("2024-01-08 00:00:00", "2024-01-08 00:00:00", "2024-01-15 00:00:00", H, 1, 1),
        row("2024-01-15 00:00:00", "2024-01-15 00:00:00", "2024-01-17 00:00:00", H, 1, 1),
    ]


def test_month_bins_start_on_the_first_and_are_clipped_to_the_range(api, always_on):
    # In Los Angeles: February from the 15th (2024 is a leap year: 15 days), then March to the
    # 15th inclusive, one hour short for the spring-forward on the 10th.
    assert report(api, "America/Los_Angeles", "2024-02-15", "2024-03-15", "month") == [
        row("2024-02-01 00:00:00", "2024-02-15 00:00:00", "2024-03-01 00:00:00", 15 * 24 * H, 1, 0),
        row("2024-03-01 00:00:00", "2024-03-01 00:00:00", "2024-03-16 00:00:00", 15 * 24 * H - H, 1, 0),
    ]


def test_whole_month_bins_over_a_year(api, always_on):
    rows = report(api, "UTC", "2024-01-01", "2024-12-31", "month")
    lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert [r["datetime"] for r in rows] == [f"2024-{m:02d}-01 00:00:00" for m in range(1, 13)]
    assert [r["total_time"] for r in rows] == [d * 24 * H for d in lengths]
    assert rows[-1]["end_time"] == "2025-01-01 00:00:00"


def test_month_is_the_default_bin_size(api, always_on):
    params = {"start_date": "2024-01-20", "end_date": "2024-02-10"}
    status, data = get(api, "/v2/usage", params)
    assert status == 200
    assert data == {
        "report": [
            row("2024-01-01 00:00:00", "2024-01-20 00:00:00", "2024-02-01 00:00:00", 12 * 24 * H, 1, 0),
            row("2024-02-01 00:00:00", "2024-02-01 00:00:00", "2024-02-11 00:00:00", 10 * 24 * H, 1, 0),
        ]
    }


def test_hours_of_a_day_without_midnight_start_at_one(api, always_on):
    # Santiago 2024-09-08: 00:00 does not exist; the first hour bin is 01:00 and the day has 23.
    rows = report(api, "America/Santiago", "2024-09-08", "2024-09-08", "hour")
    assert [r["datetime"] for r in rows] == [f"2024-09-08 {h:02d}:00:00" for h in range(1, 24)]
    assert rows[0] == row("2024-09-08 01:00:00", "2024-09-08 01:00:00", "2024-09-08 02:00:00", H, 1, 0)
    assert sum(r["total_time"] for r in rows) == 23 * H


def test_without_end_date_the_range_ends_now(api, device):
    from django.utils import timezone

    now = timezone.now()
    yesterday = (now - timedelta(days=1)).date()
    session(device, now - timedelta(minutes=90), now - timedelta(minutes=30))
    status, data = get(api, "/v2/usage", {"start_date": yesterday.isoformat(), "bin_size": "day"})
    assert status == 200
    first, last = data["report"]
    assert first["datetime"] == first["start_time"] == f"{yesterday} 00:00:00"
    assert last["datetime"] == last["start_time"] == f"{now.date()} 00:00:00"
    # The last bin ends at the request's now, to the second.
    ends = datetime.strptime(last["end_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert timedelta(0) <= ends - now.replace(microsecond=0) < timedelta(seconds=5)
    assert sum(r["total_time"] for r in data["report"]) == 3600.0
    assert sum(r["session_count"] for r in data["report"]) == 1
