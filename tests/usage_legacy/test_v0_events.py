"""``/v0/usage/events`` over the legacy world of conftest: shapes, body handling, range rules, errors.

[2023-03-01, 2023-03-03) UTC overlaps, in start order: E5 (from 02-28 23:00, automated, Alpha),
E1, E2 (bob has no name: his email stands in), E3 (automated, Beta), E4 and E6 (to 03-03 02:00).
E7 (03-05) is outside; X1 belongs to the other organization.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import orjson
import pytest
from django.utils import timezone

from tests.conftest import api_client
from tests.usage_helpers import body, make_device, session, utc
from tests.usage_legacy.conftest import SEED_EVENT_KEYS

pytestmark = pytest.mark.django_db

ROUTE = "/v0/usage/events"
RANGE = {"start_date": "20230301", "end_date": "20230303"}


def alice(device_id: str, hostname: str, start: str, end: str, duration: float, day: str) -> dict:
    return manual("Alice", "alice@acme.test", device_id, hostname, start, end, duration, day)


def bob(start: str, end: str, duration: float, day: str) -> dict:
    """bob has no name: his email stands in; all his sessions here are on dev2@host-a."""
    return manual("bob@acme.test", "bob@acme.test", "dev2", "host-a.example", start, end, duration, day)


def manual(user, email, device_id, hostname, start, end, duration, day) -> dict:
    return {"user": user, "email": email, **times(device_id, hostname, start, end, duration, day)}


def automated(team, device_id, hostname, start, end, duration, day) -> dict:
    return {"team": team, **times(device_id, hostname, start, end, duration, day)}


def times(device_id, hostname, start, end, duration, day) -> dict:
    return {
        "device_id": device_id,
        "hostname": hostname,
        "start_time": start,
        "end_time": end,
        "duration": duration,
        "date": day,
    }


E5 = automated("Alpha", "dev1", "host-b.example", "2023-02-28 23:00:00", "2023-03-01 01:00:00", 7200.0, "20230228")
E1 = alice("dev1", "host-a.example", "2023-03-01 10:00:00", "2023-03-01 12:00:00", 7200.0, "20230301")
E2 = bob("2023-03-01 23:30:00", "2023-03-02 01:30:00", 7200.0, "20230301")
E3 = automated("Beta", "dev1", "host-b.example", "2023-03-02 08:00:00", "2023-03-02 09:00:00", 3600.0, "20230302")
E4 = alice("dev1", "host-a.example", "2023-03-02 14:00:00", "2023-03-02 14:45:00", 2700.0, "20230302")
E6 = alice("dev4", "host-b.example", "2023-03-02 20:00:00", "2023-03-03 02:00:00", 21600.0, "20230302")
E7 = bob("2023-03-05 10:00:00", "2023-03-05 11:00:00", 3600.0, "20230305")

CSV = (
    "User/Team,Email,Device Id,Hostname,Start time,End time,Duration,Date\n"
    "Alpha,N/A,dev1,host-b.example,2023-02-28 23:00:00,2023-03-01 01:00:00,7200.0,20230228\n"
    "Alice,alice@acme.test,dev1,host-a.example,2023-03-01 10:00:00,2023-03-01 12:00:00,7200.0,20230301\n"
    "bob@acme.test,bob@acme.test,dev2,host-a.example,2023-03-01 23:30:00,2023-03-02 01:30:00,7200.0,20230301\n"
    "Beta,N/A,dev1,host-b.example,2023-03-02 08:00:00,2023-03-02 09:00:00,3600.0,20230302\n"
    "Alice,alice@acme.test,dev1,host-a.example,2023-03-02 14:00:00,2023-03-02 14:45:00,2700.0,20230302\n"
    "Alice,alice@acme.test,dev4,host-b.example,2023-03-02 20:00:00,2023-03-03 02:00:00,21600.0,20230302\n"
)


def call(client, method: str, payload, *, content_type: str = "application/json", query: str = ""):
    """``method`` on the route with ``payload`` (a dict, sent as JSON text, or raw text) as the body."""
    data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    response = client.generic(method, f"{ROUTE}?{query}" if query else ROUTE, data, content_type=content_type)
    return response.status_code, body(response)


def error(message: str, details: dict | None = None) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details or {}}}


def test_json_rows_in_the_seeds_shape(api, legacy):
    assert call(api, "GET", RANGE) == (200, {"report": [E5, E1, E2, E3, E4, E6]})


def test_key_order_follows_the_seed(api, legacy):
    _, data = call(api, "GET", RANGE)
    assert list(data["report"][1]) == list(SEED_EVENT_KEYS)
    assert list(data["report"][0]) == ["team", *SEED_EVENT_KEYS[2:]]


def test_csv_with_the_seeds_header_and_na_emails(api, legacy):
    response = api.generic("GET", ROUTE, orjson.dumps({**RANGE, "format": "csv"}), content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage_events_20230301.csv"'
    assert body(response) == CSV


@pytest.mark.parametrize(
    ("method", "content_type"),
    [
        ("GET", "application/x-www-form-urlencoded"),  # what curl -d sends
        ("GET", "application/json"),
        ("GET", "text/plain"),
        ("POST", "application/json"),
        ("POST", "application/x-www-form-urlencoded"),
    ],
)
def test_a_json_body_is_read_whatever_its_content_type(api, legacy, method, content_type):
    assert call(api, method, RANGE, content_type=content_type) == (200, {"report": [E5, E1, E2, E3, E4, E6]})


def test_query_parameters_and_form_bodies_work_too(api, legacy):
    expected = (200, {"report": [E5, E1, E2, E3, E4, E6]})
    assert call(api, "GET", "", query=urlencode(RANGE)) == expected
    assert call(api, "POST", urlencode(RANGE), content_type="application/x-www-form-urlencoded") == expected
    assert call(api, "GET", urlencode(RANGE), content_type="application/x-www-form-urlencoded") == expected
    # Query string and body merge.
    assert call(api, "POST", {"end_date": "20230303"}, query="start_date=20230301") == expected


def test_devices_narrow_to_addresses(api, legacy):
    payload = {**RANGE, "devices": ["dev1@host-a.example", "dev4@host-b.example"]}
    assert call(api, "GET", payload) == (200, {"report": [E1, E4, E6]})
    query = urlencode({**RANGE, "devices": ["dev1@host-b.example"]}, doseq=True)
    assert call(api, "GET", "", query=query) == (200, {"report": [E5, E3]})
    assert call(api, "GET", {**RANGE, "devices": "dev2@host-a.example"}) == (200, {"report": [E2]})
    assert call(api, "GET", {**RANGE, "devices": ["nothing@nowhere"]}) == (200, {"report": []})


def test_empty_devices_list_means_all_devices(api, legacy):
    assert call(api, "GET", {**RANGE, "devices": []}) == (200, {"report": [E5, E1, E2, E3, E4, E6]})


def test_end_date_is_excluded(api, legacy):
    # [03-02, 03-03): E2 (still running at 00:00), E3, E4, E6; E1 ended on 03-01.
    assert call(api, "GET", {"start_date": "20230302", "end_date": "20230303"}) == (200, {"report": [E2, E3, E4, E6]})
    # [03-01, 03-02): E5 (running at 00:00), E1, E2.
    assert call(api, "GET", {"start_date": "20230301", "end_date": "20230302"}) == (200, {"report": [E5, E1, E2]})


@pytest.mark.parametrize("form", [("2023/03/01", "2023/03/03"), ("2023-03-01", "2023-03-03")])
def test_other_date_forms(api, legacy, form):
    payload = {"start_date": form[0], "end_date": form[1]}
    assert call(api, "GET", payload) == (200, {"report": [E5, E1, E2, E3, E4, E6]})


def test_end_date_defaults_to_today_utc(api, org):
    device = make_device(org, "now@host-n.example")
    today = timezone.now().date()
    start = today - timedelta(days=2)
    yesterday = session(device, utc(f"{today - timedelta(days=1)} 10:00"), utc(f"{today - timedelta(days=1)} 10:30"))
    session(device, utc(f"{today} 00:00"), utc(f"{today} 00:00:01"))  # today: excluded
    status, data = call(api, "GET", {"start_date": start.strftime("%Y%m%d")})
    assert status == 200
    assert data == {
        "report": [
            manual(
                None,
                None,
                "now",
                "host-n.example",
                f"{yesterday.start_time:%Y-%m-%d} 10:00:00",
                f"{yesterday.start_time:%Y-%m-%d} 10:30:00",
                1800.0,
                f"{yesterday.start_time:%Y%m%d}",
            )
        ]
    }


def test_sessions_without_user_or_team(api, org):
    # A legacy manual session charged to a team has no user; an automated one without a team has no team.
    device = make_device(org, "old@host-o.example")
    session(device, utc("2021-01-04 09:00"), utc("2021-01-04 09:00:30.6"))
    session(device, utc("2021-01-04 10:00"), utc("2021-01-04 10:00"), automated=True)  # zero length
    payload = {"start_date": "20210104", "end_date": "20210105"}
    assert call(api, "GET", payload) == (
        200,
        {
            "report": [
                manual(
                    None,
                    None,
                    "old",
                    "host-o.example",
                    "2021-01-04 09:00:00",
                    "2021-01-04 09:00:30",
                    30.6,
                    "20210104",
                ),
                automated(None, "old", "host-o.example", "2021-01-04 10:00:00", "2021-01-04 10:00:00", 0.0, "20210104"),
            ]
        },
    )
    response = api.get(ROUTE, {**payload, "format": "csv"})
    assert body(response) == (
        "User/Team,Email,Device Id,Hostname,Start time,End time,Duration,Date\n"
        ",,old,host-o.example,2021-01-04 09:00:00,2021-01-04 09:00:30,30.6,20210104\n"
        ",N/A,old,host-o.example,2021-01-04 10:00:00,2021-01-04 10:00:00,0.0,20210104\n"
    )


def test_120_days_at_most(api, legacy):
    assert call(api, "GET", {"start_date": "20230101", "end_date": "20230501"}) == (
        200,
        {"report": [E5, E1, E2, E3, E4, E6, E7]},
    )
    assert call(api, "GET", {"start_date": "20230101", "end_date": "20230502"}) == (
        400,
        error(
            "The range from start_date 2023-01-01 to end_date 2023-05-02 is 121 days, more than the 120 allowed: "
            "ask for shorter ranges",
            {"start_date": "2023-01-01", "end_date": "2023-05-02"},
        ),
    )


BAD = [
    ({}, error("start_date is required", {"start_date": None})),
    (
        {"start_date": "01/06/2020"},
        error(
            "start_date must be a date as YYYYMMDD or YYYY/MM/DD or YYYY-MM-DD, got '01/06/2020'",
            {"start_date": "01/06/2020"},
        ),
    ),
    (
        {"start_date": "20230301", "end_date": "20230301"},
        error(
            "end_date 2023-03-01 must be after start_date 2023-03-01: "
            "events are listed from start_date up to, not including, end_date",
            {"start_date": "2023-03-01", "end_date": "2023-03-01"},
        ),
    ),
    (
        {"start_date": "20230301", "end_date": "20230201"},
        error(
            "end_date 2023-02-01 must be after start_date 2023-03-01: "
            "events are listed from start_date up to, not including, end_date",
            {"start_date": "2023-03-01", "end_date": "2023-02-01"},
        ),
    ),
    (
        {"start_date": "20230301", "format": "xlsx"},
        error("format must be one of json, csv, got 'xlsx'", {"format": "xlsx"}),
    ),
    (
        {"start_date": "20230301", "devices": [""]},
        error("devices must not be empty", {"devices": ""}),
    ),
    (
        {"start_date": "20230301", "end_date": "20230302", "timezone": "UTC", "device": "x@y"},
        error(
            "Unknown parameters: device, timezone. Accepted: devices, end_date, format, org_id, start_date.",
            {"device": ["x@y"], "timezone": ["UTC"]},
        ),
    ),
    ({"start_date": "20230301", "org_id": "7"}, error("org_id must be a UUID, got '7'", {"org_id": "7"})),
    ('["20230301"]', error('The request body must be a JSON object, such as {"start_date": "20200601"}.')),
    ('{"start_date": "20230301"', error("The request body is not valid JSON.")),
]


@pytest.mark.parametrize(("payload", "expected"), BAD)
def test_bad_input_is_a_400_naming_the_parameter(api, legacy, payload, expected):
    assert call(api, "GET", payload) == (400, expected)


def test_future_start_date_with_the_default_end_date(api):
    start = timezone.now().date() + timedelta(days=1)
    today = timezone.now().date()
    assert call(api, "GET", {"start_date": start.strftime("%Y%m%d")}) == (
        400,
        error(
            f"end_date {today} (end_date defaults to today, UTC) must be after start_date {start}: "
            "events are listed from start_date up to, not including, end_date",
            {"start_date": start.isoformat(), "end_date": today.isoformat()},
        ),
    )


def test_a_parameter_in_both_query_and_body_is_refused(api, legacy):
    assert call(api, "GET", RANGE, query="start_date=20230301") == (
        400,
        error("start_date was given 2 times; give it once.", {"start_date": ["20230301", "20230301"]}),
    )


def test_a_token_is_required(legacy):
    status, data = call(api_client(None), "GET", RANGE)
    assert status == 401
    assert data["error"]["code"] == "authentication_required"


def test_another_organization_sees_only_its_own_sessions(other_api, legacy):
    x1 = automated("Omega", "odev", "host-c.example", "2023-03-01 05:00:00", "2023-03-01 06:00:00", 3600.0, "20230301")
    assert call(other_api, "GET", RANGE) == (200, {"report": [x1]})
    assert call(other_api, "GET", {**RANGE, "devices": ["dev1@host-a.example"]}) == (200, {"report": []})
    assert call(other_api, "GET", {**RANGE, "format": "csv"})[1].count("\n") == 2


def test_one_query_whatever_the_size(api, legacy, org, django_assert_num_queries):
    call(api, "GET", RANGE)  # records the token's last use
    device = legacy.devices["a5"]
    for hour in range(200):
        start = utc("2023-03-10 00:00") + timedelta(hours=hour)
        session(device, start, start + timedelta(minutes=30))
    for payload, rows in ((RANGE, 6), ({"start_date": "20230301", "end_date": "20230320"}, 207)):
        with django_assert_num_queries(3):  # token, organization membership, the events query
            status, data = call(api, "GET", payload)
        assert (status, len(data["report"])) == (200, rows)


def test_a_body_over_the_upload_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = {**RANGE, "devices": ["d@h"] * 500}
    assert call(api, "GET", payload) == (
        413,
        {"error": {"code": "payload_too_large", "message": "The request body is too large.", "details": {}}},
    )
