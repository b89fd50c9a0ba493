"""The metrics of SPEC §11 cost no query of their own: still the one report statement per request."""

from __future__ import annotations

import pytest

from tests.usage_helpers import make_device, session, utc
from tests.usage_v2.test_query_counts import PER_REQUEST, SIZE_CHECK, TABLE_SIZES, queries, reading_sessions

pytestmark = pytest.mark.django_db

EVERY = (
    "total_time,device_count,session_count,user_count,team_count,avg_session_length,"
    "peak_concurrency,avg_concurrency,utilization"
)


@pytest.mark.parametrize("grouping", ["org", "device", "host"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_every_metric_for_one_or_fifty_devices_over_400_days_is_one_report_query(api, org, grouping, fmt):
    params = {
        "start_date": "2023-12-01",
        "end_date": "2025-01-03",
        "bin_size": "day",
        "display_all": "true",
        "metrics": EVERY,
        "format": fmt,
    }
    make_device(org, "d0@h0.acme.test")
    one = queries(api, f"/v2/usage/{grouping}", params)
    for n in range(1, 50):
        device = make_device(org, f"d{n}@h{n % 7}.acme.test")
        session(device, utc("2024-01-02 10:00"), utc("2024-01-03 11:00"))
        session(device, utc("2024-01-02 10:30"), utc("2024-01-02 11:00"))
    fifty = queries(api, f"/v2/usage/{grouping}", params)
    size_check = SIZE_CHECK if grouping != "org" else 0  # display_all: the groups are counted first
    # Users and teams per device or host are counted by bitmaps; the org's report reads its slots.
    size_check += TABLE_SIZES if grouping != "org" else 0
    assert (len(one), len(fifty)) == (PER_REQUEST + size_check, PER_REQUEST + size_check)
    assert len(reading_sessions(one)) == len(reading_sessions(fifty)) == 1


@pytest.mark.parametrize("grouping", ["team", "user", "device_team", "device_user"])
def test_concurrency_by_team_or_user_is_one_report_query(api, world, grouping):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-31", "bin_size": "hour", "metrics": "peak_concurrency"}
    sql = queries(api, f"/v2/usage/{grouping}", params)
    assert len(sql) == PER_REQUEST and len(reading_sessions(sql)) == 1
