"""CSV output (same fields and values as JSON, neutralized formulas) and POST bodies equal to GET."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest

from tests.usage_helpers import body, get, make_device, session, utc
from tests.usage_v2.conftest import DAY
from usage.models import Team, User

pytestmark = pytest.mark.django_db

DAY_RANGE = {"start_date": "2024-01-01", "end_date": "2024-01-01"}
GROUPINGS = ["org", "device", "team", "user", "host", "device_team", "device_user"]


def as_csv_cell(value) -> str:
    """How a JSON value must appear in the CSV: null empty, numbers as written, text as is."""
    return "" if value is None else str(value)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_of_the_team_report_by_hand(api, world):
    response = api.get("/v2/usage/team?" + urlencode({**DAY, "format": "csv"}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage_team_20240101.csv"'
    day = "2024-01-01 00:00:00,2024-01-01 00:00:00,2024-01-02 00:00:00"
    assert body(response) == (
        "datetime,start_time,end_time,total_time,device_count,session_count,team_id,team_name,unit\n"
        f"{day},3600.0,1,1,{world.alpha.id},Alpha,second\n"
        f"{day},9000.0,2,2,{world.beta.id},Beta,second\n"
        f"{day},900.0,1,1,,,second\n"
    )


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_csv_equals_json_for_every_grouping(api, world, grouping):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "hour", "display_all": "true"}
    _, data = get(api, f"/v2/usage/{grouping}", params)
    status, text = get(api, f"/v2/usage/{grouping}", {**params, "format": "csv"})
    assert status == 200
    header, *lines = csv_rows(text)
    assert data["report"], "the comparison needs rows"
    assert header == list(data["report"][0])
    assert lines == [[as_csv_cell(v) for v in r.values()] for r in data["report"]]


def test_csv_of_an_empty_report_is_the_header(api, world):
    status, text = get(api, "/v2/usage/device", {**DAY, "format": "csv", "filter_team_name": "Nobody"})
    assert status == 200
    assert text == "datetime,start_time,end_time,total_time,device_count,session_count,device_address,unit\n"


def test_csv_neutralizes_formulas(api, org):
    names = ['=HYPERLINK("http://evil.test","click")', "+1", "-1", "@SUM(A1:A2)", "\tindent", "\rreturn", "plain"]
    device = make_device(org, "d1@h1.acme.test")
    teams = [Team.objects.create(organization=org, name=name) for name in names]
    for minute, team in enumerate(teams):
        session(device, utc(f"2024-01-01 10:{minute:02d}"), utc(f"2024-01-01 10:{minute:02d}:30"), team=team)
    status, text = get(api, "/v2/usage/team", {**DAY, "format": "csv"})
    assert status == 200
    cells = sorted(line[7] for line in csv_rows(text)[1:])
    assert cells == sorted(
        [
            '\'=HYPERLINK("http://evil.test","click")',
            "'+1",
            "'-1",
            "'@SUM(A1:A2)",
            "'\tindent",
            "'\rreturn",
            "plain",
        ]
    )
    # JSON is data, not a spreadsheet: the names are unchanged there.
    _, data = get(api, "/v2/usage/team", DAY)
    assert sorted(r["team_name"] for r in data["report"]) == sorted(names)


def test_csv_quotes_a_carriage_return_inside_a_cell(api, org):
    # Unquoted, the bare CR ended the line in a spreadsheet and "=1+1" began a new cell: a formula.
    device = make_device(org, "d1@h1.acme.test")
    team = Team.objects.create(organization=org, name="ok\r=1+1")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"), team=team)
    status, text = get(api, "/v2/usage/team", {**DAY, "format": "csv"})
    assert status == 200
    day = "2024-01-01 00:00:00,2024-01-01 00:00:00,2024-01-02 00:00:00"
    assert text == (
        "datetime,start_time,end_time,total_time,device_count,session_count,team_id,team_name,unit\n"
        f'{day},3600.0,1,1,{team.id},"ok\r=1+1",second\n'
    )


def test_csv_neutralizes_a_formula_in_an_email_and_a_device_address(api, org):
    device = make_device(org, "=cmd@h1.acme.test")
    user = User.objects.create(organization=org, email="+attacker@acme.test")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"), user=user)
    status, text = get(api, "/v2/usage/device_user", {**DAY, "format": "csv"})
    assert status == 200
    assert csv_rows(text)[1][6:9] == ["'=cmd@h1.acme.test", str(user.id), "'+attacker@acme.test"]


FILTERED = [
    ("start_date", "2024-01-01"),
    ("end_date", "2024-01-02"),
    ("bin_size", "hour"),
    ("timezone", "America/Los_Angeles"),
    ("unit", "minute"),
    ("filter_team_name", "Alpha"),
    ("filter_team_name", "Beta"),
    ("display_all", "true"),
]


@pytest.mark.parametrize("grouping", ["org", "team", "device_user"])
def test_post_form_encoded_equals_get(api, world, grouping):
    expected = get(api, f"/v2/usage/{grouping}", FILTERED)
    assert expected[0] == 200
    response = api.post(f"/v2/usage/{grouping}", urlencode(FILTERED), content_type="application/x-www-form-urlencoded")
    assert (response.status_code, body(response)) == expected


@pytest.mark.parametrize("grouping", ["org", "team", "device_user"])
def test_post_json_equals_get(api, world, grouping):
    expected = get(api, f"/v2/usage/{grouping}", FILTERED)
    assert expected[0] == 200 and expected[1]["report"]
    payload = {
        "start_date": "2024-01-01",
        "end_date": "2024-01-02",
        "bin_size": "hour",
        "timezone": "America/Los_Angeles",
        "unit": "minute",
        "filter_team_name": ["Alpha", "Beta"],
        "display_all": True,
    }
    response = api.post(f"/v2/usage/{grouping}", payload, format="json")
    assert (response.status_code, body(response)) == expected


def test_post_json_takes_a_number_of_seconds_and_a_single_filter_value(api, world):
    expected = get(api, "/v2/usage/team", {**DAY, "bin_size": "21600", "filter_team_name": "Beta"})
    assert expected[0] == 200 and expected[1]["report"]
    payload = {"start_date": "20240101", "end_date": "20240101", "bin_size": 21600, "filter_team_name": "Beta"}
    response = api.post("/v2/usage/team", payload, format="json")
    assert (response.status_code, body(response)) == expected


def test_post_form_encoded_csv_equals_get_csv(api, world):
    params = [*DAY.items(), ("format", "csv")]
    expected = get(api, "/v2/usage/host", params)
    assert expected[0] == 200 and expected[1].count("\n") > 1  # a header and rows
    response = api.post("/v2/usage/host", urlencode(params), content_type="application/x-www-form-urlencoded")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (response.status_code, body(response)) == expected


def test_post_errors_are_the_same_envelope(api, world):
    response = api.post(
        "/v2/usage", urlencode({"start_date": "2024-02-30"}), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert body(response) == {
        "error": {
            "code": "invalid_parameter",
            "message": "start_date must be a date as YYYYMMDD or YYYY-MM-DD, got '2024-02-30'",
            "details": {"start_date": "2024-02-30"},
        }
    }


def test_json_content_type(api, world):
    response = api.get("/v2/usage?" + urlencode(DAY))
    assert response["Content-Type"] == "application/json"
    assert response.streaming


@pytest.mark.parametrize("accept", ["text/csv", "application/xml", "text/html"])
def test_the_accept_header_does_not_override_the_format_parameter(api, world, accept):
    # DRF answered these with a 406 (coded "server_error"): format decides, not Accept.
    for path in ("/v2/usage/team", "/v2/usage/event"):
        expected = get(api, path, {**DAY_RANGE, "format": "csv"})
        response = api.get(f"{path}?{urlencode({**DAY_RANGE, 'format': 'csv'})}", HTTP_ACCEPT=accept)
        assert (response.status_code, response["Content-Type"]) == (200, "text/csv; charset=utf-8")
        assert body(response) == expected[1]
        response = api.get(f"{path}?{urlencode(DAY_RANGE)}", HTTP_ACCEPT=accept)
        assert (response.status_code, response["Content-Type"]) == (200, "application/json")


def test_errors_are_json_whatever_the_accept_header(api, world):
    response = api.get("/v2/usage/team?format=csv", HTTP_ACCEPT="text/csv")
    assert (response.status_code, body(response)) == (
        400,
        {"error": {"code": "invalid_parameter", "message": "start_date is required", "details": {"start_date": None}}},
    )
