"""The v2 error table: every bad parameter is a 400 (403/404 for tenancy) in the envelope, naming it."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.conftest import api_client, make_token
from tests.usage_helpers import get
from tests.usage_v2.conftest import row

pytestmark = pytest.mark.django_db

OK = {"start_date": "2024-01-05", "end_date": "2024-01-05"}
REPORT_PARAMS = (
    "bin_size, display_all, end_date, filter_device_address, filter_hostname, filter_team_id, filter_team_name, "
    "filter_user_email, filter_user_id, format, metrics, org_id, start_date, timezone, unit"
)
EVENT_PARAMS = (
    "cursor, end_date, filter_device_address, filter_hostname, filter_team_id, filter_team_name, "
    "filter_user_email, filter_user_id, format, limit, org_id, start_date, timezone"
)


def invalid(message: str, details: dict) -> tuple[int, dict]:
    return 400, {"error": {"code": "invalid_parameter", "message": message, "details": details}}


def date_error(name: str, text: str) -> tuple[int, dict]:
    return invalid(f"{name} must be a date as YYYYMMDD or YYYY-MM-DD, got {text!r}", {name: text})


# ---- Dates and range ---------------------------------------------------------------------------


def test_it_rejects_a_missing_start_date(api):
    assert get(api, "/v2/usage", {"end_date": "2024-01-05"}) == invalid("start_date is required", {"start_date": None})


def test_it_rejects_a_malformed_start_date(api):
    assert get(api, "/v2/usage", {"start_date": "01/05/2024"}) == date_error("start_date", "01/05/2024")


def test_it_rejects_the_v0_slash_form_on_v2(api):
    assert get(api, "/v2/usage", {"start_date": "2024/01/05"}) == date_error("start_date", "2024/01/05")


def test_it_rejects_an_impossible_start_date(api):
    assert get(api, "/v2/usage", {"start_date": "20240230"}) == date_error("start_date", "20240230")


def test_it_rejects_a_month_13(api):
    assert get(api, "/v2/usage", {"start_date": "2024-13-01"}) == date_error("start_date", "2024-13-01")


def test_it_rejects_a_malformed_end_date(api):
    assert get(api, "/v2/usage", {"start_date": "2024-01-05", "end_date": "tomorrow"}) == date_error(
        "end_date", "tomorrow"
    )


def test_it_rejects_an_empty_end_date(api):
    assert get(api, "/v2/usage", {"start_date": "2024-01-05", "end_date": ""}) == date_error("end_date", "")


def test_it_rejects_an_end_date_before_the_start_date(api):
    assert get(api, "/v2/usage", {"start_date": "20240105", "end_date": "20240104"}) == invalid(
        "end_date 2024-01-04 is before start_date 2024-01-05", {"start_date": "2024-01-05", "end_date": "2024-01-04"}
    )


def test_it_rejects_a_future_start_date_without_end_date(api):
    assert get(api, "/v2/usage", {"start_date": "2999-12-31"}) == invalid(
        "start_date 2999-12-31 is in the future; give an end_date or an earlier start_date",
        {"start_date": "2999-12-31"},
    )


def test_it_rejects_a_start_date_before_1900(api):
    # Year 1 in Tokyo is year 0 in UTC, which Python cannot represent: this was a 500.
    params = {"start_date": "0001-01-01", "end_date": "0001-01-02", "timezone": "Asia/Tokyo"}
    assert get(api, "/v2/usage", params) == invalid(
        "start_date must be between 1900-01-01 and 2999-12-31, got '0001-01-01'", {"start_date": "0001-01-01"}
    )


def test_it_rejects_an_end_date_after_2999(api):
    # The day after 9999-12-31 does not exist in Python: this was a 500.
    params = {"start_date": "2024-01-01", "end_date": "9999-12-31"}
    assert get(api, "/v2/usage", params) == invalid(
        "end_date must be between 1900-01-01 and 2999-12-31, got '9999-12-31'", {"end_date": "9999-12-31"}
    )


def test_it_accepts_the_date_bounds(api):
    status, data = get(api, "/v2/usage", {"start_date": "1900-01-01", "end_date": "1900-01-01"})
    assert (status, data) == (
        200,
        {"report": [row("1900-01-01 00:00:00", "1900-01-01 00:00:00", "1900-01-02 00:00:00", 0.0, 0, 0)]},
    )
    params = {"start_date": "2999-12-31", "end_date": "2999-12-31", "timezone": "Pacific/Kiritimati"}
    status, data = get(api, "/v2/usage", params)
    assert (status, data) == (
        200,
        {"report": [row("2999-12-01 00:00:00", "2999-12-31 00:00:00", "3000-01-01 00:00:00", 0.0, 0, 0)]},
    )


def test_it_rejects_an_unknown_timezone(api):
    assert get(api, "/v2/usage", {**OK, "timezone": "Mars/Olympus_Mons"}) == invalid(
        "timezone must be an IANA time zone name such as UTC or America/Los_Angeles, got 'Mars/Olympus_Mons'",
        {"timezone": "Mars/Olympus_Mons"},
    )


def test_it_rejects_a_timezone_path(api):
    assert get(api, "/v2/usage", {**OK, "timezone": "../../etc/passwd"}) == invalid(
        "timezone must be an IANA time zone name such as UTC or America/Los_Angeles, got '../../etc/passwd'",
        {"timezone": "../../etc/passwd"},
    )


# ---- bin_size, unit, format, display_all -------------------------------------------------------

BIN_CHOICES = "hour, day, week, month or a number of seconds (at least 60)"


def test_it_rejects_a_bin_size_of_59_seconds(api):
    assert get(api, "/v2/usage", {**OK, "bin_size": "59"}) == invalid(
        "bin_size must be at least 60 seconds, got 59", {"bin_size": "59"}
    )


def test_it_rejects_bin_size_fortnight(api):
    assert get(api, "/v2/usage", {**OK, "bin_size": "fortnight"}) == invalid(
        f"bin_size must be one of {BIN_CHOICES}, got 'fortnight'", {"bin_size": "fortnight"}
    )


def test_it_rejects_a_negative_bin_size(api):
    assert get(api, "/v2/usage", {**OK, "bin_size": "-60"}) == invalid(
        f"bin_size must be one of {BIN_CHOICES}, got '-60'", {"bin_size": "-60"}
    )


def test_it_rejects_a_fractional_bin_size(api):
    assert get(api, "/v2/usage", {**OK, "bin_size": "90.5"}) == invalid(
        f"bin_size must be one of {BIN_CHOICES}, got '90.5'", {"bin_size": "90.5"}
    )


def test_it_rejects_a_bin_size_too_long_to_be_a_number(api):
    # More digits than Python converts to an int: this was a 500.
    digits = "9" * 5000
    assert get(api, "/v2/usage", {**OK, "bin_size": digits}) == invalid(
        f"bin_size must be one of {BIN_CHOICES}, got {digits!r}", {"bin_size": digits}
    )


def test_it_rejects_a_bin_size_of_non_ascii_digits(api):
    # "²".isdigit() is true but int("²") fails: this was a 500.
    assert get(api, "/v2/usage", {**OK, "bin_size": "6²"}) == invalid(
        f"bin_size must be one of {BIN_CHOICES}, got '6²'", {"bin_size": "6²"}
    )


def test_it_rejects_unit_week(api):
    assert get(api, "/v2/usage", {**OK, "unit": "week"}) == invalid(
        "unit must be one of second, minute, hour, day, got 'week'", {"unit": "week"}
    )


def test_it_rejects_format_xml(api):
    assert get(api, "/v2/usage", {**OK, "format": "xml"}) == invalid(
        "format must be one of json, csv, got 'xml'", {"format": "xml"}
    )


def test_it_rejects_display_all_maybe(api):
    assert get(api, "/v2/usage/team", {**OK, "display_all": "maybe"}) == invalid(
        "display_all must be true or false, got 'maybe'", {"display_all": "maybe"}
    )


def test_it_rejects_more_than_100000_bins(api):
    # A year of minutes: 365 * 1440 = 525,600 bins.
    params = {"start_date": "2023-01-01", "end_date": "2023-12-31", "bin_size": "60"}
    assert get(api, "/v2/usage", params) == invalid(
        "The report would have 525,600 bins, more than the 100,000 allowed: "
        "use a larger bin_size or a shorter date range.",
        {"bin_size": "60"},
    )


def test_it_rejects_more_than_100000_hour_bins(api):
    # 12 years of hours is more than 100,000 whatever the zone.
    params = {"start_date": "2012-01-01", "end_date": "2023-12-31", "bin_size": "hour"}
    status, data = get(api, "/v2/usage", params)
    assert status == 400
    assert data["error"]["code"] == "invalid_parameter"
    assert data["error"]["details"] == {"bin_size": "hour"}
    assert "use a larger bin_size" in data["error"]["message"]


def test_it_accepts_exactly_100000_bins(api):
    # 2024-01-01 to 2024-05-04 is 125 days = 10,800,000 s: 100,000 bins of 108 s, 100,935 of 107 s.
    params = {"start_date": "2024-01-01", "end_date": "2024-05-04", "bin_size": "108", "format": "csv"}
    status, text = get(api, "/v2/usage", params)
    assert status == 200
    lines = text.splitlines()
    assert len(lines) == 1 + 100_000
    assert lines[-1] == "2024-05-04 23:58:12,2024-05-04 23:58:12,2024-05-05 00:00:00,0.0,0,0,second"
    status, data = get(api, "/v2/usage", {**params, "bin_size": "107"})
    assert status == 400
    assert data["error"]["message"].startswith("The report would have 100,935 bins")


# ---- Parameters not accepted -------------------------------------------------------------------


def test_it_rejects_an_unknown_parameter(api):
    assert get(api, "/v2/usage", {**OK, "filter_teamname": "Alpha"}) == invalid(
        f"Unknown parameter: filter_teamname. Accepted: {REPORT_PARAMS}.", {"filter_teamname": ["Alpha"]}
    )


def test_it_rejects_unknown_parameters_naming_each(api):
    assert get(api, "/v2/usage/device", {**OK, "metric": "total_time", "bin": "day"}) == invalid(
        f"Unknown parameters: bin, metric. Accepted: {REPORT_PARAMS}.", {"bin": ["day"], "metric": ["total_time"]}
    )


def test_it_rejects_a_scalar_parameter_given_twice(api):
    params = [("start_date", "2024-01-05"), ("bin_size", "day"), ("bin_size", "hour")]
    assert get(api, "/v2/usage", params) == invalid(
        "bin_size was given 2 times; give it once.", {"bin_size": ["day", "hour"]}
    )


def test_it_rejects_a_parameter_given_in_the_query_and_the_body(api):
    response = api.post("/v2/usage?start_date=2024-01-05", {"start_date": "2024-01-06"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "start_date was given 2 times; give it once.",
            "details": {"start_date": ["2024-01-05", "2024-01-06"]},
        }
    }


def test_it_rejects_a_report_parameter_on_the_event_route(api):
    assert get(api, "/v2/usage/event", {**OK, "bin_size": "day"}) == invalid(
        f"Unknown parameter: bin_size. Accepted: {EVENT_PARAMS}.", {"bin_size": ["day"]}
    )


def test_it_rejects_a_json_body_that_is_not_an_object(api):
    response = api.post("/v2/usage", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "The request body must be a JSON object or form-encoded parameters.",
            "details": {},
        }
    }


def test_it_rejects_a_body_that_is_not_json(api):
    response = api.post("/v2/usage", "{start_date: 2024}", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["message"].startswith("JSON parse error")


# ---- Filters -----------------------------------------------------------------------------------


def test_it_rejects_a_malformed_team_id(api):
    assert get(api, "/v2/usage", {**OK, "filter_team_id": "not-a-uuid"}) == invalid(
        "filter_team_id must be a UUID, got 'not-a-uuid'", {"filter_team_id": "not-a-uuid"}
    )


def test_it_rejects_a_malformed_user_id_among_good_ones_naming_it(api):
    # The details name the bad value, not the last one given (they named the last one).
    good = "00000000-0000-0000-0000-000000000001"
    params = [*OK.items(), ("filter_user_id", good), ("filter_user_id", "42"), ("filter_user_id", good)]
    assert get(api, "/v2/usage", params) == invalid("filter_user_id must be a UUID, got '42'", {"filter_user_id": "42"})


def test_it_rejects_an_empty_team_id(api):
    assert get(api, "/v2/usage", {**OK, "filter_team_id": ""}) == invalid(
        "filter_team_id must be a UUID, got ''", {"filter_team_id": ""}
    )


def test_it_names_the_bad_value_of_a_repeated_text_filter(api):
    params = [*OK.items(), ("filter_team_name", "Alpha"), ("filter_team_name", "  "), ("filter_team_name", "Beta")]
    assert get(api, "/v2/usage", params) == invalid("filter_team_name must not be empty", {"filter_team_name": "  "})


def test_it_rejects_a_null_character_in_a_filter(api):
    # PostgreSQL cannot store or compare NUL in text: it must not reach the query.
    assert get(api, "/v2/usage", {**OK, "filter_team_name": "a\x00b"}) == invalid(
        "filter_team_name must not contain a NUL character, got 'a\\x00b'", {"filter_team_name": "a\x00b"}
    )


def test_it_rejects_an_empty_filter_value(api):
    assert get(api, "/v2/usage", {**OK, "filter_user_email": ""}) == invalid(
        "filter_user_email must not be empty", {"filter_user_email": ""}
    )


# ---- Tenancy -----------------------------------------------------------------------------------


def test_it_rejects_a_staff_token_without_org_id(db):
    staff = api_client(make_token("root", staff=True))
    assert get(staff, "/v2/usage", OK) == invalid(
        "org_id is required for a staff token that belongs to no organization", {"org_id": None}
    )


def test_a_staff_token_reads_the_organization_it_names(org):
    from tests.usage_helpers import make_device, session, utc

    session(make_device(org, "d1@h1.acme.test"), utc("2024-01-05 10:00"), utc("2024-01-05 10:05"))
    staff = api_client(make_token("root", staff=True))
    assert get(staff, "/v2/usage", {**OK, "org_id": str(org.id), "bin_size": "day"}) == (
        200,
        {"report": [row("2024-01-05 00:00:00", "2024-01-05 00:00:00", "2024-01-06 00:00:00", 300.0, 1, 1)]},
    )


def test_it_rejects_an_unknown_org_id_for_staff(db):
    staff = api_client(make_token("root", staff=True))
    unknown = "00000000-0000-0000-0000-000000000000"
    assert get(staff, "/v2/usage", {**OK, "org_id": unknown}) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": f"No organization has id {unknown}.",
                "details": {"org_id": unknown},
            }
        },
    )


def test_it_rejects_another_organizations_org_id(api, other_org):
    assert get(api, "/v2/usage", {**OK, "org_id": str(other_org.id)}) == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "org_id names an organization this token cannot read.",
                "details": {"org_id": str(other_org.id)},
            }
        },
    )


def test_it_rejects_another_organizations_org_id_on_the_event_route(api, other_org):
    status, data = get(api, "/v2/usage/event", {**OK, "org_id": str(other_org.id)})
    assert status == 403
    assert data["error"]["code"] == "permission_denied"


def test_it_accepts_the_tokens_own_org_id(api, org):
    # No sessions: the one (month) bin, cut to the day, zeros.
    expected = (200, {"report": [row("2024-01-01 00:00:00", "2024-01-05 00:00:00", "2024-01-06 00:00:00", 0.0, 0, 0)]})
    assert get(api, "/v2/usage", {**OK, "org_id": str(org.id)}) == get(api, "/v2/usage", OK) == expected


def test_it_rejects_a_malformed_org_id(api):
    assert get(api, "/v2/usage", {**OK, "org_id": "acme"}) == invalid(
        "org_id must be a UUID, got 'acme'", {"org_id": "acme"}
    )


def test_it_rejects_a_token_without_organization(db):
    orphan = api_client(make_token("nobody"))
    assert get(orphan, "/v2/usage", OK) == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "This token's user belongs to no organization.",
                "details": {},
            }
        },
    )


def test_it_requires_a_token(db):
    status, data = get(api_client(None), "/v2/usage/team", OK)
    assert status == 401
    assert data["error"]["code"] == "authentication_required"


# ---- Event route: cursor and limit ---------------------------------------------------------------

CURSOR_ERROR = "cursor is not valid: pass the next_cursor value of the previous page unchanged"


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def test_it_rejects_a_malformed_cursor(api):
    assert get(api, "/v2/usage/event", {**OK, "cursor": "not a cursor!"}) == invalid(
        CURSOR_ERROR, {"cursor": "not a cursor!"}
    )


@pytest.mark.parametrize(
    "value",
    [
        ["2024-01-05T10:00:00+00:00", 5],  # an id that is not text: this was a 500
        ["2024-01-05T10:00:00+00:00", None],
        [20240105, "00000000-0000-0000-0000-000000000000"],
        ["2024-01-05T10:00:00+00:00", "not-a-uuid"],
        ["2024-01-05T10:00:00+00:00"],
        {"start": "2024-01-05T10:00:00+00:00", "id": "00000000-0000-0000-0000-000000000000"},
        "2024-01-05",
    ],
)
def test_it_rejects_a_tampered_cursor(api, value):
    cursor = cursor_of(value)
    assert get(api, "/v2/usage/event", {**OK, "cursor": cursor}) == invalid(CURSOR_ERROR, {"cursor": cursor})


def test_it_rejects_limit_0(api):
    expected = invalid("limit must be at least 1, got 0", {"limit": "0"})
    assert get(api, "/v2/usage/event", {**OK, "limit": "0"}) == expected


def test_it_rejects_limit_10001(api):
    assert get(api, "/v2/usage/event", {**OK, "limit": "10001"}) == invalid(
        "limit must be at most 10000, got 10001", {"limit": "10001"}
    )


def test_it_rejects_a_limit_that_is_not_a_number(api):
    assert get(api, "/v2/usage/event", {**OK, "limit": "ten"}) == invalid(
        "limit must be a whole number, got 'ten'", {"limit": "ten"}
    )


def test_it_rejects_a_null_character_in_the_cursor(api):
    assert get(api, "/v2/usage/event", {**OK, "cursor": "a\x00"}) == invalid(
        "cursor must not contain a NUL character, got 'a\\x00'", {"cursor": "a\x00"}
    )


def test_it_rejects_a_limit_on_the_report_routes(api):
    status, data = get(api, "/v2/usage", {**OK, "limit": "10"})
    assert (status, data["error"]["message"]) == (400, f"Unknown parameter: limit. Accepted: {REPORT_PARAMS}.")
