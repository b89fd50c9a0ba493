"""SPEC §11: the ``metrics`` parameter, peak and average concurrency and utilization, by hand.

Rows are compared whole and with their fields in order (``items``): the metrics come in the order
asked, between ``end_time`` and the group fields.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from tests.usage_helpers import body, get, local, make_device, session, utc
from tests.usage_v2.conftest import DAY, DAY_BIN
from usage.models import Organization

pytestmark = pytest.mark.django_db

NEW = "peak_concurrency,avg_concurrency,utilization"
EVERY = "total_time,device_count,session_count,user_count,team_count,avg_session_length," + NEW
SIX_HOURS = {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "21600"}
QUARTERS = [
    ("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-01 06:00:00"),
    ("2024-01-01 06:00:00", "2024-01-01 06:00:00", "2024-01-01 12:00:00"),
    ("2024-01-01 12:00:00", "2024-01-01 12:00:00", "2024-01-01 18:00:00"),
    ("2024-01-01 18:00:00", "2024-01-01 18:00:00", "2024-01-02 00:00:00"),
]


def mrow(times: tuple[str, str, str], *, unit: str = "second", **fields: Any) -> list[tuple[str, Any]]:
    """An expected row as its (field, value) pairs in order: times, ``fields`` as given, unit."""
    return [*zip(("datetime", "start_time", "end_time"), times, strict=True), *fields.items(), ("unit", unit)]


def report(client, path: str, params: dict[str, Any]) -> list[list[tuple[str, Any]]]:
    status, data = get(client, path, params)
    assert status == 200, data
    return [list(r.items()) for r in data["report"]]


def pct(busy: float, devices: int, seconds: float) -> float:
    """Utilization as the service computes it (same operations, so the same float)."""
    return 100 * busy / (devices * seconds)


# ---- Peak concurrency -------------------------------------------------------------------------


@pytest.fixture
def three(org: Organization):
    return [make_device(org, f"d{i}@h{i % 2}.acme.test") for i in (1, 2, 3)]


def test_two_overlapping_sessions_and_one_touching_an_edge_peak_at_two(api, three):
    d1, d2, d3 = three
    session(d1, utc("2024-01-01 07:00"), utc("2024-01-01 08:00"))
    session(d2, utc("2024-01-01 07:30"), utc("2024-01-01 08:30"))
    session(d3, utc("2024-01-01 08:00"), utc("2024-01-01 09:00"))  # starts as d1's ends: never with it
    assert report(api, "/v2/usage", {**SIX_HOURS, "metrics": NEW}) == [
        mrow(QUARTERS[0], peak_concurrency=0, avg_concurrency=0.0, utilization=0.0),
        mrow(QUARTERS[1], peak_concurrency=2, avg_concurrency=10800 / 21600, utilization=pct(10800, 3, 21600)),
        mrow(QUARTERS[2], peak_concurrency=0, avg_concurrency=0.0, utilization=0.0),
        mrow(QUARTERS[3], peak_concurrency=0, avg_concurrency=0.0, utilization=0.0),
    ]


def test_sessions_ending_where_others_start_on_one_device_peak_at_one(api, three):
    d1 = three[0]
    for hour in (7, 8, 9):
        session(d1, utc(f"2024-01-01 {hour:02}:00"), utc(f"2024-01-01 {hour + 1:02}:00"))
    assert report(api, "/v2/usage/device", {**SIX_HOURS, "metrics": "peak_concurrency,utilization"}) == [
        mrow(QUARTERS[1], peak_concurrency=1, utilization=50.0, device_address="d1@h1.acme.test"),
    ]


def test_a_session_across_the_bin_edge_counts_in_the_next_bins_peak(api, three):
    d1, d2, _ = three
    session(d1, utc("2024-01-01 05:00"), utc("2024-01-01 07:00"))  # runs into the 06:00 bin
    session(d2, utc("2024-01-01 06:30"), utc("2024-01-01 06:45"))
    # Begun before the range, still running at its start.
    session(d2, utc("2023-12-31 23:00"), utc("2024-01-01 01:00"))
    params = {**SIX_HOURS, "metrics": "peak_concurrency,total_time"}
    assert report(api, "/v2/usage", params) == [
        mrow(QUARTERS[0], peak_concurrency=1, total_time=7200.0),
        mrow(QUARTERS[1], peak_concurrency=2, total_time=4500.0),
        mrow(QUARTERS[2], peak_concurrency=0, total_time=0.0),
        mrow(QUARTERS[3], peak_concurrency=0, total_time=0.0),
    ]
    assert report(api, "/v2/usage/device", params) == [
        mrow(QUARTERS[0], peak_concurrency=1, total_time=3600.0, device_address="d1@h1.acme.test"),
        mrow(QUARTERS[0], peak_concurrency=1, total_time=3600.0, device_address="d2@h0.acme.test"),
        mrow(QUARTERS[1], peak_concurrency=1, total_time=3600.0, device_address="d1@h1.acme.test"),
        mrow(QUARTERS[1], peak_concurrency=1, total_time=900.0, device_address="d2@h0.acme.test"),
    ]


def test_two_sessions_ending_at_a_bin_edge_leave_nothing_in_the_next_bin(api, three):
    d1, d2, d3 = three
    session(d1, utc("2024-01-01 04:00"), utc("2024-01-01 06:00"))
    session(d2, utc("2024-01-01 05:00"), utc("2024-01-01 06:00"))
    session(d3, utc("2024-01-01 06:00"), utc("2024-01-01 06:00"))  # zero-length: never in progress
    assert report(api, "/v2/usage", {**SIX_HOURS, "metrics": "peak_concurrency,session_count"}) == [
        mrow(QUARTERS[0], peak_concurrency=2, session_count=2),
        mrow(QUARTERS[1], peak_concurrency=0, session_count=1),
        mrow(QUARTERS[2], peak_concurrency=0, session_count=0),
        mrow(QUARTERS[3], peak_concurrency=0, session_count=0),
    ]


def test_a_session_spanning_whole_bins_is_in_progress_in_each(api, three):
    session(three[0], utc("2024-01-01 03:00"), utc("2024-01-01 20:00"))
    session(three[1], utc("2024-01-01 13:00"), utc("2024-01-01 14:00"))
    assert report(api, "/v2/usage", {**SIX_HOURS, "metrics": "peak_concurrency"}) == [
        mrow(QUARTERS[0], peak_concurrency=1),
        mrow(QUARTERS[1], peak_concurrency=1),
        mrow(QUARTERS[2], peak_concurrency=2),
        mrow(QUARTERS[3], peak_concurrency=1),
    ]


# ---- Utilization --------------------------------------------------------------------------------


def test_a_device_with_two_overlapping_sessions_counts_their_union(api, three):
    d1 = three[0]
    session(d1, utc("2024-01-01 10:00"), utc("2024-01-01 12:00"))
    session(d1, utc("2024-01-01 11:00"), utc("2024-01-01 13:00"))
    # All day twice over: busy all day, never more.
    session(three[1], utc("2024-01-01 00:00"), utc("2024-01-02 00:00"))
    session(three[1], utc("2024-01-01 00:00"), utc("2024-01-02 00:00"))
    params = {**DAY, "metrics": "utilization,avg_concurrency,peak_concurrency,total_time"}
    assert report(api, "/v2/usage/device", params) == [
        mrow(
            DAY_BIN,
            utilization=12.5,
            avg_concurrency=14400 / 86400,
            peak_concurrency=2,
            total_time=14400.0,
            device_address="d1@h1.acme.test",
        ),
        mrow(
            DAY_BIN,
            utilization=100.0,
            avg_concurrency=2.0,
            peak_concurrency=2,
            total_time=172800.0,
            device_address="d2@h0.acme.test",
        ),
    ]
    # The org: 3 devices, busy 3 h and 24 h.
    assert report(api, "/v2/usage", params) == [
        mrow(
            DAY_BIN,
            utilization=pct(97200, 3, 86400),
            avg_concurrency=187200 / 86400,
            peak_concurrency=4,
            total_time=187200.0,
        )
    ]


def test_utilization_on_the_23_and_25_hour_days_of_los_angeles(api, three):
    zone = "America/Los_Angeles"
    # Half of each day busy on one device of three: 11.5 h of 23, 12.5 h of 25, 12 h of 24.
    session(three[0], local("2024-03-10 00:00", zone), local("2024-03-10 12:30", zone))  # clocks skip 02:00-03:00
    session(three[0], local("2024-11-03 00:00", zone), local("2024-11-03 11:30", zone))  # 01:00-02:00 twice
    session(three[0], local("2024-11-04 00:00", zone), local("2024-11-04 12:00", zone))
    params = {"bin_size": "day", "timezone": zone, "metrics": "utilization,avg_concurrency"}
    spring = report(api, "/v2/usage/device", {**params, "start_date": "2024-03-10", "end_date": "2024-03-10"})
    fall = report(api, "/v2/usage/device", {**params, "start_date": "2024-11-03", "end_date": "2024-11-04"})
    device = {"device_address": "d1@h1.acme.test"}
    assert spring == [
        mrow(("2024-03-10 00:00:00",) * 2 + ("2024-03-11 00:00:00",), utilization=50.0, avg_concurrency=0.5, **device)
    ]
    assert fall == [
        mrow(("2024-11-03 00:00:00",) * 2 + ("2024-11-04 00:00:00",), utilization=50.0, avg_concurrency=0.5, **device),
        mrow(("2024-11-04 00:00:00",) * 2 + ("2024-11-05 00:00:00",), utilization=50.0, avg_concurrency=0.5, **device),
    ]
    # The org's three devices, the idle ones included.
    org = report(api, "/v2/usage", {**params, "start_date": "2024-03-10", "end_date": "2024-03-10"})
    assert org == [
        mrow(
            ("2024-03-10 00:00:00",) * 2 + ("2024-03-11 00:00:00",),
            utilization=pct(41400, 3, 82800),
            avg_concurrency=0.5,
        )
    ]


def test_a_short_first_and_last_bin_use_their_own_length(api, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-03 00:00"), utc("2024-01-04 00:00"))  # 1 day of Wed-Sun (5 days)
    session(device, utc("2024-01-08 12:00"), utc("2024-01-09 12:00"))  # 1 day of Mon-Tue (2 days)
    params = {"start_date": "2024-01-03", "end_date": "2024-01-09", "bin_size": "week", "metrics": NEW}
    assert report(api, "/v2/usage", params) == [
        mrow(
            ("2024-01-01 00:00:00", "2024-01-03 00:00:00", "2024-01-08 00:00:00"),
            peak_concurrency=1,
            avg_concurrency=0.2,
            utilization=20.0,
        ),
        mrow(
            ("2024-01-08 00:00:00", "2024-01-08 00:00:00", "2024-01-10 00:00:00"),
            peak_concurrency=1,
            avg_concurrency=0.5,
            utilization=50.0,
        ),
    ]


def test_device_filters_narrow_the_devices_and_session_filters_only_the_busy_time(api, world):
    # Busy: d1 3600 + 900 (h1), d2 1800 (h1), d3 7200 (h2); d4 (h3) idle. Four devices.
    metrics = {**DAY, "metrics": "utilization"}
    pair = {"filter_device_address": ["d1@h1.acme.test", "d2@h1.acme.test"]}
    assert report(api, "/v2/usage", metrics) == [mrow(DAY_BIN, utilization=pct(13500, 4, 86400))]
    assert report(api, "/v2/usage", {**metrics, **pair}) == [mrow(DAY_BIN, utilization=pct(6300, 2, 86400))]
    assert report(api, "/v2/usage", {**metrics, "filter_team_name": "Beta"}) == [
        mrow(DAY_BIN, utilization=pct(9000, 4, 86400))
    ]
    assert report(api, "/v2/usage/host", {**metrics, "display_all": "true"}) == [
        mrow(DAY_BIN, utilization=pct(6300, 2, 86400), hostname="h1.acme.test"),
        mrow(DAY_BIN, utilization=pct(7200, 1, 86400), hostname="h2.acme.test"),
        mrow(DAY_BIN, utilization=0.0, hostname="h3.acme.test"),
    ]
    one = {"filter_device_address": "d1@h1.acme.test", "display_all": "true"}
    assert report(api, "/v2/usage/host", {**metrics, **one}) == [
        mrow(DAY_BIN, utilization=pct(4500, 1, 86400), hostname="h1.acme.test"),
    ]
    assert report(
        api, "/v2/usage/device", {**metrics, "display_all": "true", "filter_user_email": "ann@acme.test"}
    ) == [
        mrow(DAY_BIN, utilization=pct(3600, 1, 86400), device_address="d1@h1.acme.test"),
        mrow(DAY_BIN, utilization=0.0, device_address="d2@h1.acme.test"),
        mrow(DAY_BIN, utilization=pct(7200, 1, 86400), device_address="d3@h2.acme.test"),
        mrow(DAY_BIN, utilization=0.0, device_address="d4@h3.acme.test"),
    ]


def test_an_organization_without_devices_has_no_utilization(api, org):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "day", "metrics": NEW}
    assert report(api, "/v2/usage", params) == [
        mrow(DAY_BIN, peak_concurrency=0, avg_concurrency=0.0, utilization=None),
        mrow(
            ("2024-01-02 00:00:00",) * 2 + ("2024-01-03 00:00:00",),
            peak_concurrency=0,
            avg_concurrency=0.0,
            utilization=None,
        ),
    ]
    # A device filter that matches none of its devices: no device either.
    assert report(api, "/v2/usage", {**params, "filter_device_address": "nope@nowhere", "end_date": "2024-01-01"}) == [
        mrow(DAY_BIN, peak_concurrency=0, avg_concurrency=0.0, utilization=None)
    ]


# ---- The other metrics, order, units, groupings ------------------------------------------------------


def test_the_metrics_come_in_the_order_asked_repeated_or_comma_separated(api, world):
    team = report(api, "/v2/usage/team", {**DAY, "metrics": ["session_count,user_count", "total_time"]})
    assert team == [
        mrow(DAY_BIN, session_count=1, user_count=1, total_time=3600.0, team_id=str(world.alpha.id), team_name="Alpha"),
        mrow(DAY_BIN, session_count=2, user_count=2, total_time=9000.0, team_id=str(world.beta.id), team_name="Beta"),
        mrow(DAY_BIN, session_count=1, user_count=0, total_time=900.0, team_id=None, team_name=None),
    ]


def test_every_metric_of_the_org_by_hand(api, world):
    assert report(api, "/v2/usage", {**DAY, "metrics": EVERY}) == [
        mrow(
            DAY_BIN,
            total_time=13500.0,
            device_count=3,
            session_count=4,
            user_count=2,
            team_count=2,
            avg_session_length=13500 / 4,
            peak_concurrency=1,
            avg_concurrency=13500 / 86400,
            utilization=pct(13500, 4, 86400),
        )
    ]


def test_distinct_counts_of_several_entities_in_one_report(api, world):
    # d1 has ann's session (Alpha) and one without user or team; d3 has ann's (Beta).
    params = {**DAY, "metrics": "device_count,user_count,team_count"}
    assert report(api, "/v2/usage/device", params) == [
        mrow(DAY_BIN, device_count=1, user_count=1, team_count=1, device_address="d1@h1.acme.test"),
        mrow(DAY_BIN, device_count=1, user_count=1, team_count=1, device_address="d2@h1.acme.test"),
        mrow(DAY_BIN, device_count=1, user_count=1, team_count=1, device_address="d3@h2.acme.test"),
    ]
    assert report(api, "/v2/usage/user", params) == [
        mrow(
            DAY_BIN, device_count=2, user_count=1, team_count=2, user_id=str(world.ann.id), user_email="ann@acme.test"
        ),
        mrow(
            DAY_BIN, device_count=1, user_count=1, team_count=1, user_id=str(world.bob.id), user_email="bob@acme.test"
        ),
        mrow(DAY_BIN, device_count=1, user_count=0, team_count=0, user_id=None, user_email=None),
    ]


def test_durations_are_in_the_unit_and_the_ratios_are_not(api, world):
    params = {**DAY, "unit": "hour", "metrics": "avg_session_length,total_time,avg_concurrency,utilization"}
    assert report(api, "/v2/usage", params) == [
        mrow(
            DAY_BIN,
            unit="hour",
            avg_session_length=13500 / 4 / 3600,
            total_time=13500 / 3600,
            avg_concurrency=13500 / 86400,
            utilization=pct(13500, 4, 86400),
        )
    ]


def test_peak_concurrency_per_team_with_display_all(api, world):
    session(world.d2, utc("2024-01-01 10:30"), utc("2024-01-01 11:30"), user=world.bob, team=world.alpha)
    params = {**DAY, "metrics": "peak_concurrency", "display_all": "true"}
    assert report(api, "/v2/usage/team", params) == [
        mrow(DAY_BIN, peak_concurrency=2, team_id=str(world.alpha.id), team_name="Alpha"),
        mrow(DAY_BIN, peak_concurrency=1, team_id=str(world.beta.id), team_name="Beta"),
        mrow(DAY_BIN, peak_concurrency=0, team_id=str(world.gamma.id), team_name="Gamma"),
        mrow(DAY_BIN, peak_concurrency=1, team_id=None, team_name=None),
    ]
    assert report(api, "/v2/usage/device_user", {**DAY, "metrics": "peak_concurrency,session_count"}) == [
        mrow(
            DAY_BIN,
            peak_concurrency=1,
            session_count=1,
            device_address="d1@h1.acme.test",
            user_id=str(world.ann.id),
            user_email="ann@acme.test",
        ),
        mrow(
            DAY_BIN,
            peak_concurrency=1,
            session_count=1,
            device_address="d1@h1.acme.test",
            user_id=None,
            user_email=None,
        ),
        mrow(
            DAY_BIN,
            peak_concurrency=1,
            session_count=2,
            device_address="d2@h1.acme.test",
            user_id=str(world.bob.id),
            user_email="bob@acme.test",
        ),
        mrow(
            DAY_BIN,
            peak_concurrency=1,
            session_count=1,
            device_address="d3@h2.acme.test",
            user_id=str(world.ann.id),
            user_email="ann@acme.test",
        ),
    ]


def test_without_metrics_the_rows_are_the_seeds_three(api, world):
    plain = report(api, "/v2/usage/device", DAY)
    assert plain == report(api, "/v2/usage/device", {**DAY, "metrics": "total_time,device_count,session_count"})
    assert [name for name, _ in plain[0]] == [
        "datetime",
        "start_time",
        "end_time",
        "total_time",
        "device_count",
        "session_count",
        "device_address",
        "unit",
    ]


# ---- CSV and POST ----------------------------------------------------------------------------------


def test_every_metric_under_csv(api, world):
    response = api.get("/v2/usage/device?" + urlencode({**DAY, "format": "csv", "metrics": EVERY}))
    assert response.status_code == 200
    day = ",".join(DAY_BIN)
    assert body(response) == (
        "datetime,start_time,end_time,total_time,device_count,session_count,user_count,team_count,"
        "avg_session_length,peak_concurrency,avg_concurrency,utilization,device_address,unit\n"
        f"{day},4500.0,1,2,1,1,2250.0,1,{4500 / 86400},{pct(4500, 1, 86400)},d1@h1.acme.test,second\n"
        f"{day},1800.0,1,1,1,1,1800.0,1,{1800 / 86400},{pct(1800, 1, 86400)},d2@h1.acme.test,second\n"
        f"{day},7200.0,1,1,1,1,7200.0,1,{7200 / 86400},{pct(7200, 1, 86400)},d3@h2.acme.test,second\n"
    )


def test_an_empty_org_under_csv_leaves_utilization_empty(api, org):
    response = api.get("/v2/usage?" + urlencode({**DAY, "format": "csv", "metrics": "utilization,peak_concurrency"}))
    assert (
        body(response)
        == f"datetime,start_time,end_time,utilization,peak_concurrency,unit\n{','.join(DAY_BIN)},,0,second\n"
    )


def test_post_form_and_json_take_metrics_like_get(api, world):
    expected = report(api, "/v2/usage/host", {**DAY, "metrics": "utilization,peak_concurrency"})
    form = urlencode({**DAY, "metrics": ["utilization", "peak_concurrency"]}, doseq=True)
    response = api.post("/v2/usage/host", form, content_type="application/x-www-form-urlencoded")
    assert [list(r.items()) for r in body(response)["report"]] == expected
    response = api.post("/v2/usage/host", {**DAY, "metrics": ["utilization", "peak_concurrency"]}, format="json")
    assert [list(r.items()) for r in body(response)["report"]] == expected


# ---- Errors ---------------------------------------------------------------------------------------

VALID = (
    "total_time, device_count, session_count, user_count, team_count, avg_session_length, peak_concurrency, "
    "avg_concurrency, utilization"
)


def invalid(message: str, details: dict) -> tuple[int, dict]:
    return 400, {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def test_an_unknown_metric_is_refused_listing_the_valid_ones(api, world):
    assert get(api, "/v2/usage", {**DAY, "metrics": "total_time,peak"}) == invalid(
        f"metrics must be among {VALID}, got 'peak'", {"metrics": "total_time,peak"}
    )
    response = api.post("/v2/usage/device", {**DAY, "metrics": ["total_time", "Utilization"]}, format="json")
    assert (response.status_code, body(response)) == invalid(
        f"metrics must be among {VALID}, got 'Utilization'", {"metrics": "Utilization"}
    )


def test_an_empty_or_repeated_metric_is_refused(api, world):
    assert get(api, "/v2/usage", {**DAY, "metrics": ""}) == invalid(
        "metrics must name a metric, got an empty name", {"metrics": ""}
    )
    assert get(api, "/v2/usage", {**DAY, "metrics": "total_time,,session_count"}) == invalid(
        "metrics must name a metric, got an empty name", {"metrics": "total_time,,session_count"}
    )
    assert get(api, "/v2/usage", {**DAY, "metrics": ["total_time", "total_time"]}) == invalid(
        "metrics names total_time twice", {"metrics": "total_time"}
    )


@pytest.mark.parametrize("grouping", ["team", "user", "device_team", "device-user", "team/device"])
def test_utilization_is_refused_where_a_group_is_not_a_set_of_devices(api, world, grouping):
    canonical = {"device-user": "device_user", "team/device": "device_team"}.get(grouping, grouping)
    assert get(api, f"/v2/usage/{grouping}", {**DAY, "metrics": "peak_concurrency,utilization"}) == invalid(
        f"metrics: utilization needs a grouping of devices: org, device, host, not {canonical}",
        {"metrics": "utilization"},
    )


def test_a_second_tenant_sees_none_of_the_first_ones_busy_time(other_api, other_org, world):
    make_device(other_org, "x1@hx.globex.test")
    assert report(other_api, "/v2/usage", {**DAY, "metrics": NEW}) == [
        mrow(DAY_BIN, peak_concurrency=0, avg_concurrency=0.0, utilization=0.0)
    ]


def test_the_schema_documents_metrics_and_the_fields_they_add(api):
    response = api.get("/api/schema/", secure=True)
    schema = yaml.safe_load(response.content)
    for path in ("/v2/usage", "/v2/usage/{grouping}"):
        for method in ("get", "post"):
            (metrics,) = [q for q in schema["paths"][path][method]["parameters"] if q["name"] == "metrics"]
            assert metrics["schema"]["items"]["enum"] == VALID.split(", ")  # in the order rows list them
            assert metrics["schema"]["uniqueItems"] is True
    row = schema["components"]["schemas"]["UsageReportRow"]["properties"]
    assert {"peak_concurrency", "avg_concurrency", "utilization", "user_count", "team_count"} <= set(row)
    assert row["utilization"]["nullable"] is True
