"""Every bad input to a v1 route is a 400 (or 403/404) in the error envelope, naming the parameter."""

from __future__ import annotations

import pytest

from tests.conftest import api_client, make_token
from tests.usage_helpers import get
from tests.usage_legacy.conftest import D1, TWO_DAYS, v1row

pytestmark = pytest.mark.django_db

ACCEPTED = (
    "automated, bin_size, combine_phone_os, display_all, end_date, filter_on.device_address, filter_on.hostname, "
    "filter_on.team_name, filter_on.user_email, format, group_by_device_id, include_user_notes, metric, org_id, "
    "start_date, timezone"
)
START = {"start_date": "20230301"}


def error(message: str, details: dict) -> dict:
    return {"error": {"code": "invalid_parameter", "message": message, "details": details}}


BAD_INPUTS = [
    ({}, error("start_date is required", {"start_date": None})),
    (
        {"start_date": "2023-13-01"},
        error("start_date must be a date as YYYYMMDD or YYYY-MM-DD, got '2023-13-01'", {"start_date": "2023-13-01"}),
    ),
    (
        {"start_date": "2023/03/01"},  # a v0 form only
        error("start_date must be a date as YYYYMMDD or YYYY-MM-DD, got '2023/03/01'", {"start_date": "2023/03/01"}),
    ),
    (
        {**START, "end_date": "20230201"},
        error(
            "end_date 2023-02-01 is before start_date 2023-03-01",
            {"start_date": "2023-03-01", "end_date": "2023-02-01"},
        ),
    ),
    (
        {"start_date": "29990101"},
        error(
            "start_date 2999-01-01 is in the future; give an end_date or an earlier start_date",
            {"start_date": "2999-01-01"},
        ),
    ),
    (
        {**START, "metric": "total"},
        error(
            "metric must be one of total_time, avg_session_length, session_count, device_count, user_count, "
            "team_count, got 'total'",
            {"metric": "total"},
        ),
    ),
    (
        {**START, "bin_size": "3600"},  # seconds are a v2 bin size only
        error("bin_size must be one of hour, day, week, month, got '3600'", {"bin_size": "3600"}),
    ),
    (
        {**START, "bin_size": "year"},
        error("bin_size must be one of hour, day, week, month, got 'year'", {"bin_size": "year"}),
    ),
    (
        {**START, "timezone": "Mars/Olympus"},
        error(
            "timezone must be an IANA time zone name such as UTC or America/Los_Angeles, got 'Mars/Olympus'",
            {"timezone": "Mars/Olympus"},
        ),
    ),
    ({**START, "format": "xml"}, error("format must be one of json, csv, got 'xml'", {"format": "xml"})),
    (
        {**START, "display_all": "maybe"},
        error("display_all must be true or false, got 'maybe'", {"display_all": "maybe"}),
    ),
    ({**START, "automated": "often"}, error("automated must be true or false, got 'often'", {"automated": "often"})),
    (
        {**START, "combine_phone_os": "2"},
        error("combine_phone_os must be true or false, got '2'", {"combine_phone_os": "2"}),
    ),
    (
        {**START, "group_by_device_id": "x"},
        error("group_by_device_id must be true or false, got 'x'", {"group_by_device_id": "x"}),
    ),
    (
        {**START, "include_user_notes": "no way"},
        error("include_user_notes must be true or false, got 'no way'", {"include_user_notes": "no way"}),
    ),
    (
        {**START, "filter_on.team_name": " "},
        error("filter_on.team_name must not be empty", {"filter_on.team_name": " "}),
    ),
    (
        {**START, "metric": ["total_time", "session_count"]},
        error("metric was given 2 times; give it once.", {"metric": ["total_time", "session_count"]}),
    ),
    ({**START, "org_id": "acme"}, error("org_id must be a UUID, got 'acme'", {"org_id": "acme"})),
    (
        {**START, "filter_on.country": "US"},
        error(f"Unknown parameter: filter_on.country. Accepted: {ACCEPTED}.", {"filter_on.country": ["US"]}),
    ),
    (
        # v2 parameter names are not v1's.
        {**START, "filter_team_name": "Alpha", "unit": "hour"},
        error(
            f"Unknown parameters: filter_team_name, unit. Accepted: {ACCEPTED}.",
            {"filter_team_name": ["Alpha"], "unit": ["hour"]},
        ),
    ),
    (
        {"start_date": "19000101", "end_date": "20230101", "bin_size": "hour"},
        error(
            "The report would have 1,078,225 bins, more than the 100,000 allowed: "
            "use a larger bin_size or a shorter date range.",
            {"bin_size": "hour"},
        ),
    ),
]


@pytest.mark.parametrize(("params", "expected"), BAD_INPUTS)
def test_bad_input_is_a_400_naming_the_parameter(api, legacy, params, expected):
    assert get(api, "/v1/usage/team", params) == (400, expected)


@pytest.mark.parametrize("route", ["", "/device", "/user/team", "/team/devicemodel"])
def test_every_route_validates(api, route):
    assert get(api, f"/v1/usage{route}", {**START, "metric": "hours"})[0] == 400
    assert get(api, f"/v1/usage{route}", {"end_date": "20230301"}) == (
        400,
        error("start_date is required", {"start_date": None}),
    )


def test_unknown_route_is_a_404_envelope(api):
    response = api.get("/v1/usage/region?start_date=20230301")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No API route matches '/v1/usage/region'. See /api/docs/ for the routes.",
            "details": {},
        }
    }


def test_malformed_json_body_is_a_400(api):
    response = api.post("/v1/usage/team", "{bad", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["message"].startswith("JSON parse error")


def test_a_token_is_required(legacy):
    response = api_client(None).get("/v1/usage", TWO_DAYS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "authentication_required"


def test_org_id_of_another_organization_is_refused(api, legacy, other_org):
    assert get(api, "/v1/usage", {**TWO_DAYS, "org_id": str(other_org.id)}) == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "org_id names an organization this token cannot read.",
                "details": {"org_id": str(other_org.id)},
            }
        },
    )


def test_staff_picks_the_organization_with_org_id(legacy, org):
    staff = api_client(make_token("staffer", staff=True))
    assert get(staff, "/v1/usage", TWO_DAYS) == (
        400,
        error("org_id is required for a staff token that belongs to no organization", {"org_id": None}),
    )
    status, data = get(staff, "/v1/usage", {**TWO_DAYS, "org_id": str(org.id)})
    assert status == 200
    assert data["report"][0] == v1row(D1, 3.5)
