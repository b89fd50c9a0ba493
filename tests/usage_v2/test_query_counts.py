"""A report is one aggregation query whatever its size; the others are authentication and tenancy.

Every request makes exactly: the token lookup, the token's last_used_at update (at most once a
minute, so each measurement clears it first), the organization membership lookup, and the one
report (or page) query. Counted around the request and its whole streamed body.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ApiToken
from tests.conftest import api_client, make_token
from tests.usage_helpers import body, make_device, session, utc
from usage.models import Team, User

pytestmark = pytest.mark.django_db

PER_REQUEST = 5  # token, last_used_at, membership, data versions (core.report_cache), report
EVENT_REQUEST = 4  # token, last_used_at, membership, the events (not cached: pages of a cursor, or a CSV stream)
SIZE_CHECK = 1  # display_all on a grouping: the groups are counted first (usage/limits.py)
# Distinct counts of what is not a group key (devices per team, say): whether the organization's
# counted tables are small enough for bitmaps is asked first (usage.reporting._bitmaps_fit).
TABLE_SIZES = 1


def queries(client, path: str, params: dict) -> list[str]:
    """The SQL of one request, its streamed body included (status 200 asserted)."""
    ApiToken.objects.update(last_used_at=None)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{path}?{urlencode(params, doseq=True)}")
        body(response)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def reading_sessions(sql: list[str]) -> list[str]:
    """The statements reading the sessions, or the organization's slots of them (usage.rollup)."""
    return [q for q in sql if "usage_usageevent" in q or "usage_org_slots" in q]


@pytest.mark.parametrize("grouping", ["org", "device", "team", "device_user"])
def test_one_bin_and_400_bins_cost_the_same_queries(api, world, grouping):
    one = queries(
        api, f"/v2/usage/{grouping}", {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "day"}
    )
    # 2023-12-01 .. 2025-01-03 is 400 days.
    many_params = {"start_date": "2023-12-01", "end_date": "2025-01-03", "bin_size": "day", "display_all": "true"}
    many = queries(api, f"/v2/usage/{grouping}", many_params)
    # Devices are counted per team by bitmaps; the org's report reads its slots (usage.rollup).
    sizes = TABLE_SIZES if grouping == "team" else 0
    assert (len(one), len(many)) == (
        PER_REQUEST + sizes,
        PER_REQUEST + sizes + (SIZE_CHECK if grouping != "org" else 0),
    )
    assert len(reading_sessions(one)) == len(reading_sessions(many)) == 1
    assert "core_apitoken" in one[0] and one[1].startswith("UPDATE") and "membership" in one[2]


def test_the_400_bin_report_really_has_400_bins(api, world):
    params = {"start_date": "2023-12-01", "end_date": "2025-01-03", "bin_size": "day"}
    assert len(body(api.get(f"/v2/usage?{urlencode(params)}"))["report"]) == 400


def test_one_and_fifty_devices_cost_the_same_queries(api, org):
    team = Team.objects.create(organization=org, name="Alpha")
    user = User.objects.create(organization=org, email="ann@acme.test")
    params = {"start_date": "2024-01-01", "end_date": "2024-01-07", "bin_size": "hour", "display_all": "true"}
    first = make_device(org, "d0@h0.acme.test")
    session(first, utc("2024-01-02 10:00"), utc("2024-01-02 11:00"), user=user, team=team)
    counts = {}
    for grouping in ("device", "host", "device_team", "device_user"):
        counts[grouping, 1] = len(queries(api, f"/v2/usage/{grouping}", params))
    for n in range(1, 50):
        device = make_device(org, f"d{n}@h{n % 7}.acme.test")
        session(device, utc("2024-01-02 10:00"), utc("2024-01-03 11:00"), user=user, team=team)
    for grouping in ("device", "host", "device_team", "device_user"):
        sql = queries(api, f"/v2/usage/{grouping}", params)
        counts[grouping, 50] = len(sql)
        assert len(reading_sessions(sql)) == 1
    sizes = {
        grouping: TABLE_SIZES if grouping == "host" else 0
        for grouping in ("device", "host", "device_team", "device_user")
    }
    assert counts == {(grouping, n): PER_REQUEST + SIZE_CHECK + sizes[grouping] for grouping, n in counts}
    # And the report did cover the 50 devices.
    data = body(api.get(f"/v2/usage/device?{urlencode({**params, 'display_all': 'false'})}"))
    assert len({r["device_address"] for r in data["report"]}) == 50


def test_csv_costs_the_same_queries(api, world):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-31", "bin_size": "hour", "format": "csv"}
    assert len(queries(api, "/v2/usage/device_team", params)) == PER_REQUEST


def test_a_second_request_within_a_minute_does_not_write_the_token(api, world):
    params = {"start_date": "2024-01-01", "end_date": "2024-01-01"}
    queries(api, "/v2/usage", params)
    caches["reports"].clear()  # the answer is computed again, not served from the cache
    with CaptureQueriesContext(connection) as ctx:
        body(api.get(f"/v2/usage?{urlencode(params)}"))
    assert len(ctx.captured_queries) == PER_REQUEST - 1
    assert not any(q["sql"].startswith("UPDATE") for q in ctx.captured_queries)


def test_an_event_page_and_the_event_csv_are_one_query_each(api, world):
    hour = timedelta(hours=1)
    for n in range(30):
        start = utc("2024-01-02 00:00") + n * hour
        session(world.d4, start, start + hour / 2, user=world.bob, team=world.beta)
    base = {"start_date": "2024-01-01", "end_date": "2024-01-03"}
    assert len(queries(api, "/v2/usage/event", {**base, "limit": "1"})) == EVENT_REQUEST
    assert len(queries(api, "/v2/usage/event", {**base, "limit": "10000"})) == EVENT_REQUEST
    assert len(queries(api, "/v2/usage/event", {**base, "format": "csv"})) == EVENT_REQUEST


def test_a_staff_token_adds_the_organization_lookup(org, world):
    staff = api_client(make_token("root", staff=True))
    params = {"start_date": "2024-01-01", "end_date": "2024-01-01", "org_id": str(org.id)}
    sql = queries(staff, "/v2/usage/team", params)
    assert len(sql) == PER_REQUEST + 1 + TABLE_SIZES
    assert 'FROM "usage_organization"' in sql[3]
