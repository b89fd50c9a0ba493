"""v1 and v2 run one reporting core: on the same range and zone their numbers agree exactly.

v1 shows total_time in hours (minutes for hour bins) and leaves out sessions without a group key;
v2 shows seconds and keeps them as a null group. Converted, every v1 row is the v2 row of the
same bin and group, and the v1 org route is the v2 org route.
"""

from __future__ import annotations

import pytest

from tests.usage_helpers import get

pytestmark = pytest.mark.django_db

# (timezone, bin_size): DST change in the range for US/Pacific (03-12) and Europe/Berlin (03-26).
CASES = [("UTC", "day"), ("US/Pacific", "hour"), ("Asia/Kolkata", "hour"), ("Europe/Berlin", "week"), ("UTC", "month")]
SECONDS = {"hour": 60}  # v1 total_time unit per bin_size: minutes for hour bins, hours otherwise
# v1 route -> (v2 grouping, v2 label field, v1 label field)
GROUPINGS = {
    "device": ("device", "device_address", "device"),
    "team": ("team", "team_name", "team"),
    "user": ("user", "user_email", "user"),
    "host": ("host", "hostname", "hostname"),
}


def params(zone: str, bin_size: str) -> dict[str, str]:
    return {"start_date": "20230225", "end_date": "20230331", "timezone": zone, "bin_size": bin_size}


def v1_label(v2_datetime: str, bin_size: str) -> str:
    return v2_datetime[:16] if bin_size == "hour" else v2_datetime[:10]


@pytest.mark.parametrize(("zone", "bin_size"), CASES)
def test_org_total_time_session_and_device_counts_agree(api, legacy, zone, bin_size):
    _, v2 = get(api, "/v2/usage", params(zone, bin_size))
    divisor = SECONDS.get(bin_size, 3600)
    expected = {
        metric: [
            {"datetime": v1_label(row["datetime"], bin_size), metric: convert(row[metric])} for row in v2["report"]
        ]
        for metric, convert in (
            ("total_time", lambda seconds: seconds / divisor),
            ("session_count", int),
            ("device_count", int),
        )
    }
    assert sum(row["total_time"] for row in v2["report"]) == 53100.0  # all of E1-E7: 2+2+1+0.75+2+6+1 h
    for metric, rows in expected.items():
        status, v1 = get(api, "/v1/usage", {**params(zone, bin_size), "metric": metric})
        assert status == 200
        assert [{k: row[k] for k in ("datetime", metric)} for row in v1["report"]] == rows


@pytest.mark.parametrize(("zone", "bin_size"), CASES)
@pytest.mark.parametrize("route", GROUPINGS)
def test_grouped_total_time_agrees(api, legacy, zone, bin_size, route):
    grouping, v2_label, v1_field = GROUPINGS[route]
    _, v2 = get(api, f"/v2/usage/{grouping}", params(zone, bin_size))
    divisor = SECONDS.get(bin_size, 3600)
    expected = [
        {
            "datetime": v1_label(row["datetime"], bin_size),
            v1_field: row[v2_label],
            "total_time": row["total_time"] / divisor,
            "unit": "minute" if bin_size == "hour" else "hour",
        }
        for row in v2["report"]
        if row[v2_label] is not None
    ]
    if route in ("team", "user"):  # E4 has no team, E3 no user: v2 shows them as a null group, v1 leaves them out
        assert any(row[v2_label] is None for row in v2["report"])
    status, v1 = get(api, f"/v1/usage/{route}", params(zone, bin_size))
    assert status == 200
    assert v1 == {"report": expected}
