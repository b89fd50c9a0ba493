"""One parameter layer: the same mistake gets the same words on every route (core.params)."""

from __future__ import annotations

import pytest

from apps_analytics.models import Application, Client, ClientGrant
from tests.conftest import api_client, make_token
from tests.usage_helpers import get

pytestmark = pytest.mark.django_db

USAGE_ROUTES = ["/v0/usage/events", "/v1/usage", "/v1/usage/team", "/v2/usage", "/v2/usage/device", "/v2/usage/event"]
APP_ROUTES = [
    "/apps",
    "/analytics/apps/utilization",
    "/analytics/apps/{app}/utilization",
    "/analytics/apps/{app}/utilization/users",
    "/analytics/apps/{app}/activity",
]
ROUTES = USAGE_ROUTES + APP_ROUTES
DATED_ROUTES = [route for route in ROUTES if route != "/apps"]  # the app list takes limit and offset only


@pytest.fixture
def reader(org, django_user_model):
    """A member of ``org`` granted one client; ``path(route)`` resolves the app routes' ids."""
    token = make_token("wording", organization=org)
    client = Client.objects.create(name="Acme", timezone="UTC")
    app = Application.objects.create(client=client, name="Figma")
    ClientGrant.objects.create(user=django_user_model.objects.get(username="wording"), client=client)
    caller = api_client(token)

    def call(route: str, params: list[tuple[str, str]]) -> tuple[int, dict]:
        if route in APP_ROUTES:
            route = f"/v2/clients/{client.id}" + route.format(app=app.id)
        return get(caller, route, params)

    return call


def invalid(message: str, details: dict) -> tuple[int, dict]:
    return 400, {"error": {"code": "invalid_parameter", "message": message, "details": details}}


@pytest.mark.parametrize("route", DATED_ROUTES)
def test_a_repeated_parameter(reader, route):
    params = [("start_date", "2024-01-01"), ("start_date", "2024-01-02")]
    assert reader(route, params) == invalid(
        "start_date was given 2 times; give it once.", {"start_date": ["2024-01-01", "2024-01-02"]}
    )


@pytest.mark.parametrize("route", ROUTES)
def test_an_unknown_parameter(reader, route):
    status, body = reader(route, [("bogus", "1")])
    assert status == 400
    assert body["error"]["message"].startswith("Unknown parameter: bogus. Accepted: ")
    assert body["error"]["details"] == {"bogus": ["1"]}


@pytest.mark.parametrize("route", DATED_ROUTES)
def test_a_date_without_leading_zeros(reader, route):
    # strptime read 2026-9-1 as a date; no route accepts it.
    status, body = reader(route, [("start_date", "2026-9-1")])
    assert status == 400
    assert body["error"]["message"].startswith("start_date must be a date as ")
    assert body["error"]["message"].endswith(", got '2026-9-1'")
    assert body["error"]["details"] == {"start_date": "2026-9-1"}


@pytest.mark.parametrize("route", ["/v2/usage/event", "/apps"])
def test_a_limit_below_one(reader, route):
    params = [("start_date", "2024-01-01")] if route in USAGE_ROUTES else []
    assert reader(route, [*params, ("limit", "0")])[1]["error"]["message"] == ("limit must be at least 1, got 0")


@pytest.mark.parametrize("route", ["/apps", "/analytics/apps/utilization", "/analytics/apps/{app}/utilization/users"])
def test_an_offset_past_the_database_bigint(reader, route):
    # It reached PostgreSQL as "bigint out of range": a 500.
    params = [("start_date", "2024-01-01"), ("end_date", "2024-01-01"), ("granularity", "daily")]
    params = [p for p in params if route != "/apps"] + [("offset", "9223372036854775808")]
    if "users" in route:
        params = [p for p in params if p[0] != "granularity"]
    assert reader(route, params) == invalid(
        "offset must be at most 2147483647, got 9223372036854775808", {"offset": "9223372036854775808"}
    )


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "utc ", "Mars/Olympus"])
def test_names_that_are_not_iana_time_zones(reader, zone):
    assert reader("/v2/usage", [("start_date", "2024-01-01"), ("end_date", "2024-01-01"), ("timezone", zone)]) == (
        invalid(
            f"timezone must be an IANA time zone name such as UTC or America/Los_Angeles, got {zone!r}",
            {"timezone": zone},
        )
    )


def test_a_legacy_zone_alias_stays_valid(reader):
    status, _ = reader(
        "/v2/usage", [("start_date", "2024-01-01"), ("end_date", "2024-01-01"), ("timezone", "US/Pacific")]
    )
    assert status == 200
