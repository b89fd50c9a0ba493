"""A discovery page costs the same number of queries whatever its size: no N+1.

Every list request makes exactly: the token lookup, the token's last_used_at update (cleared before
each measurement), the membership lookup, the count and the page; first/last use, team names and
member counts are computed inside the page query. A single object: token, last use, membership, row.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ApiToken
from tests.usage_helpers import make_device, session, utc
from usage.models import Team, User

pytestmark = pytest.mark.django_db

LIST = 5  # token, last_used_at, membership, count, page
ONE = 4  # token, last_used_at, membership, row


def sql_of(client, path: str) -> list[str]:
    ApiToken.objects.update(last_used_at=None)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.json()
    return [q["sql"] for q in ctx.captured_queries]


def grow(org, n: int) -> None:
    """n more devices (each with two sessions), teams and users (each in two teams)."""
    start = len(Team.objects.filter(organization=org))
    for i in range(start, start + n):
        device = make_device(org, f"g{i}@grow.test")
        session(device, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"))
        session(device, utc("2024-01-02 10:00"), utc("2024-01-02 11:00"))
        team, other = (
            Team.objects.create(organization=org, name=f"t{i}"),
            Team.objects.create(organization=org, name=f"u{i}"),
        )
        user = User.objects.create(organization=org, email=f"p{i}@grow.test")
        user.teams.set([team, other])


@pytest.mark.parametrize(
    "path",
    [
        "/v2/devices",
        "/v2/devices?ordering=-last_used&idle_since=2030-01-01&hostname=grow.test",
        "/v2/hosts",
        "/v2/teams?ordering=-member_count",
        "/v2/users",
        "/v2/users?team_id={t0}&team_id={u0}&search=p",
    ],
)
def test_a_list_is_five_queries_at_any_size(api, org, path):
    grow(org, 2)
    path = path.format(**{name: Team.objects.get(name=name).pk for name in ("t0", "u0")})
    small = sql_of(api, path)
    grow(org, 40)
    large = sql_of(api, path)
    assert (len(small), len(large)) == (LIST, LIST)


def test_one_device_team_or_user_is_four_queries(api, org):
    grow(org, 3)
    device, team, user = org.devices.first(), org.teams.first(), org.users.first()
    for path in (f"/v2/devices/{device.pk}", f"/v2/teams/{team.pk}", f"/v2/users/{user.pk}"):
        assert len(sql_of(api, path)) == ONE


def test_first_and_last_use_are_computed_in_the_page_query(api, org):
    grow(org, 3)
    page = sql_of(api, "/v2/devices?limit=2")[-1]
    assert page.count('FROM "usage_usageevent"') == 2  # MIN(start_time) and MAX(end_time), correlated
    assert "LIMIT 2" in page


def test_staff_lists_are_five_queries_too(staff, org):
    grow(org, 5)
    # No membership for this staff user: the org_id lookup takes its place.
    assert len(sql_of(staff, f"/v2/devices?org_id={org.id}")) == LIST + 1  # the membership lookup and org_id's
    assert len(sql_of(staff, "/v2/organizations")) == 4  # token, last_used_at, count, page
