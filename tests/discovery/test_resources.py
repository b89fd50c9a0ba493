"""Every discovery resource's whole answer for the world of conftest.py (SPEC §12)."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get

pytestmark = pytest.mark.django_db


def device(d, first: str | None, last: str | None) -> dict:
    hostname = d.host.hostname
    return {
        "id": d.pk,
        "device_id": d.device_id,
        "address": f"{d.device_id}@{hostname}",
        "hostname": hostname,
        "country": {"h1.acme.test": "FR", "h2.acme.test": "DE"}[hostname],
        "model": d.model,
        "os": d.os,
        "device_type": d.device_type,
        "first_used": first,
        "last_used": last,
    }


def devices(w) -> dict[str, dict]:
    return {
        "d1": device(w.d1, "2024-01-01T10:00:00+00:00", "2024-03-01T09:30:00+00:00"),
        "d2": device(w.d2, "2024-02-10T12:00:00+00:00", "2024-02-11T01:00:00+00:00"),
        "d3": device(w.d3, "2023-12-31T23:00:00+00:00", "2024-01-01T00:30:00+00:00"),
        "d4": device(w.d4, None, None),
    }


def page(results: list, count: int | None = None, next_url: str | None = None, previous: str | None = None) -> dict:
    return {
        "count": len(results) if count is None else count,
        "next": next_url,
        "previous": previous,
        "results": results,
    }


def test_devices_list_with_first_and_last_use(api, world):
    expected = devices(world)
    assert get(api, "/v2/devices") == (200, page([expected[name] for name in ("d1", "d2", "d3", "d4")]))


@pytest.mark.parametrize("name", ["d1", "d2", "d3", "d4"])
def test_one_device(api, world, name):
    assert get(api, f"/v2/devices/{getattr(world, name).pk}") == (200, devices(world)[name])


def test_hosts_count_only_the_organizations_devices(api, world):
    # Globex's x1 is on h1 too; its own h3 is not Acme's host.
    assert get(api, "/v2/hosts") == (
        200,
        page(
            [
                {"hostname": "h1.acme.test", "country": "FR", "device_count": 2},
                {"hostname": "h2.acme.test", "country": "DE", "device_count": 2},
            ]
        ),
    )


def team(t, members: int) -> dict:
    return {"id": str(t.id), "name": t.name, "member_count": members}


def test_teams(api, world):
    w = world
    assert get(api, "/v2/teams") == (200, page([team(w.alpha, 2), team(w.beta, 1), team(w.gamma, 0)]))
    assert get(api, f"/v2/teams/{w.beta.id}") == (200, team(w.beta, 1))


def user(u, teams: list[str]) -> dict:
    return {"id": str(u.id), "email": u.email, "name": u.name, "teams": teams}


def test_users_with_their_team_names(api, world):
    w = world
    assert get(api, "/v2/users") == (
        200,
        page([user(w.ann, ["Alpha", "Beta"]), user(w.bob, ["Alpha"]), user(w.carl, [])]),
    )
    assert get(api, f"/v2/users/{w.ann.id}") == (200, user(w.ann, ["Alpha", "Beta"]))


def test_organizations_for_staff(staff, world):
    assert get(staff, "/v2/organizations") == (
        200,
        page([{"id": str(world.acme.id), "name": "Acme"}, {"id": str(world.globex.id), "name": "Globex"}]),
    )


def test_organizations_are_staff_only(api, world):
    assert get(api, "/v2/organizations") == (
        403,
        {"error": {"code": "permission_denied", "message": "Only staff may list organizations.", "details": {}}},
    )
