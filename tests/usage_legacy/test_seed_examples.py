"""The example requests of seed 000's legacy section, sent exactly as written there (host aside).

In US/Pacific (UTC-8 until 03-12) March 2023 of the legacy world is:
    03-01: E1 2 h (Alpha), E2 2 h (15:30-17:30, Beta)       (E5 ends 02-28 17:00 local: outside)
    03-02: E3 1 h (Beta), E4 0.75 h (no team), E6 6 h (12:00-18:00, Alpha)
    03-05: E7 1 h (Beta)
"""

from __future__ import annotations

import pytest

from tests.usage_helpers import body, make_device, session, utc
from tests.usage_legacy.conftest import v1row
from usage.models import Team

pytestmark = pytest.mark.django_db

TOTAL_PER_DAY = (
    "/v1/usage?start_date=20230301&end_date=20230331&metric=total_time&timezone=US/Pacific&bin_size=day"
    "&display_all=false"
)
PER_TEAM = "/v1/usage/team?start_date=20230301&end_date=20230331&metric=total_time&timezone=US/Pacific&bin_size=day"
TEAMS_AND_DEVICE = (
    "/v1/usage/team/device?start_date=20230301&end_date=20230331&metric=total_time&timezone=US/Pacific"
    "&bin_size=month&display_all=false&filter_on.team_name=team_1_to_include&filter_on.team_name=team2%20to%20include"
    "&filter_on.device_address=device_id@hostname"
)


def test_total_device_usage_time_per_day(api, legacy):
    response = api.get(TOTAL_PER_DAY)
    assert response.status_code == 200
    hours = {1: 4.0, 2: 7.75, 5: 1.0}  # E1 + E2 | E3 + E4 + E6 | E7
    assert body(response) == {"report": [v1row(f"2023-03-{day:02d}", hours.get(day, 0.0)) for day in range(1, 32)]}


def test_usage_per_team_per_day(api, legacy):
    # The seed's sample output shows avg_session_length, but the request asks for metric=total_time.
    response = api.get(PER_TEAM)
    assert response.status_code == 200
    assert body(response) == {
        "report": [
            v1row("2023-03-01", 2.0, team="Alpha"),
            v1row("2023-03-01", 2.0, team="Beta"),
            v1row("2023-03-02", 6.0, team="Alpha"),
            v1row("2023-03-02", 1.0, team="Beta"),
            v1row("2023-03-05", 1.0, team="Beta"),
        ]
    }


def test_device_usage_for_specific_teams_and_device_address(api, legacy, org):
    team_1 = Team.objects.create(organization=org, name="team_1_to_include")
    team_2 = Team.objects.create(organization=org, name="team2 to include")
    team_3 = Team.objects.create(organization=org, name="team_3")
    device = make_device(org, "device_id@hostname")
    other = make_device(org, "other@hostname")
    session(device, utc("2023-03-10 18:00"), utc("2023-03-10 20:00"), team=team_2)  # counted
    session(device, utc("2023-03-15 18:00"), utc("2023-03-15 19:00"), team=team_3)  # another team
    session(other, utc("2023-03-20 18:00"), utc("2023-03-20 19:00"), team=team_1)  # another device
    session(device, utc("2023-04-01 07:00"), utc("2023-04-01 08:00"), team=team_2)  # April in Pacific time
    response = api.get(TEAMS_AND_DEVICE)
    assert response.status_code == 200
    assert body(response) == {
        "report": [v1row("2023-03-01", 2.0, team="team2 to include", device="device_id@hostname")]
    }


# curl -X GET -H "Authorization: Bearer <your_api_token>" https://api-dev.headspin.io/v0/usage/events
#      -d '{"start_date": "20200601", "end_date": "20200701"}'
# curl -d sends the JSON text with Content-Type application/x-www-form-urlencoded.
V0_BODY = '{"start_date": "20200601", "end_date": "20200701"}'
CURL_CONTENT_TYPE = "application/x-www-form-urlencoded"


def june_2020(legacy) -> list[dict]:
    """Sessions around June 2020; the expected report of the seed's June request."""
    device = legacy.devices["a1"]
    session(device, utc("2020-05-31 23:00"), utc("2020-06-01 00:30"), user=legacy.alice, team=legacy.alpha)
    session(device, utc("2020-05-31 22:00"), utc("2020-06-01 00:00"), user=legacy.alice)  # ends as June starts
    session(device, utc("2020-06-15 09:00"), utc("2020-06-15 10:15"), team=legacy.beta, automated=True)
    session(device, utc("2020-06-30 23:59:59"), utc("2020-07-01 00:10"), user=legacy.bob, team=legacy.beta)
    session(device, utc("2020-07-01 00:00"), utc("2020-07-01 01:00"), user=legacy.bob)  # end_date is excluded
    where = {"device_id": "dev1", "hostname": "host-a.example"}
    return [
        {
            "user": "Alice",
            "email": "alice@acme.test",
            **where,
            "start_time": "2020-05-31 23:00:00",
            "end_time": "2020-06-01 00:30:00",
            "duration": 5400.0,
            "date": "20200531",
        },
        {
            "team": "Beta",
            **where,
            "start_time": "2020-06-15 09:00:00",
            "end_time": "2020-06-15 10:15:00",
            "duration": 4500.0,
            "date": "20200615",
        },
        {
            "user": "bob@acme.test",
            "email": "bob@acme.test",
            **where,
            "start_time": "2020-06-30 23:59:59",
            "end_time": "2020-07-01 00:10:00",
            "duration": 601.0,
            "date": "20200630",
        },
    ]


def test_v0_events_for_june_2020(api, legacy):
    expected = june_2020(legacy)
    response = api.generic("GET", "/v0/usage/events", V0_BODY, content_type=CURL_CONTENT_TYPE)
    assert response.status_code == 200
    assert body(response) == {"report": expected}
