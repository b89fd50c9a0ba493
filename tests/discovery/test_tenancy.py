"""Tenancy of the discovery routes and the session (portal) access of every route (SPEC §2, §12).

A token and a browser session of the same user read the same rows; another organization's ids read
exactly like ids that do not exist; staff pick an organization with org_id.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import api_client, make_token
from tests.discovery.conftest import logged_in
from tests.usage_helpers import get

pytestmark = pytest.mark.django_db

LISTS = {"/v2/devices": "address", "/v2/hosts": "hostname", "/v2/teams": "name", "/v2/users": "email"}
ACME = {
    "/v2/devices": ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"],
    "/v2/hosts": ["h1.acme.test", "h2.acme.test"],
    "/v2/teams": ["Alpha", "Beta", "Gamma"],
    "/v2/users": ["Ann@acme.test", "bob@acme.test", "carl@acme.test"],
}
GLOBEX = {
    "/v2/devices": ["x1@h1.acme.test", "x2@h3.globex.test"],
    "/v2/hosts": ["h1.acme.test", "h3.globex.test"],
    "/v2/teams": ["Alpha"],
    "/v2/users": ["zed@globex.test"],
}


def names(client, path: str, **query: str) -> list[str]:
    status, body = get(client, path, query)
    assert status == 200, body
    return [row[LISTS[path]] for row in body["results"]]


def missing(kind: str, ident) -> dict:
    return {"error": {"code": "not_found", "message": f"{kind} {ident} does not exist.", "details": {"id": str(ident)}}}


@pytest.mark.parametrize("path", LISTS)
def test_a_second_organization_lists_only_its_own(other_api, world, path):
    assert names(other_api, path) == GLOBEX[path]


@pytest.mark.parametrize("path", LISTS)
def test_the_same_through_a_browser_session(world, path):
    assert names(logged_in("ann-browser", world.acme), path) == ACME[path]
    assert names(logged_in("zed-browser", world.globex), path) == GLOBEX[path]


@pytest.mark.parametrize(
    ("path", "kind", "attribute"),
    [("devices", "Device", "x1"), ("teams", "Team", "globex_alpha"), ("users", "Device user", "zed")],
)
def test_another_organizations_id_reads_as_missing(api, world, path, kind, attribute):
    other = getattr(world, attribute).pk
    made_up = 10**9 if kind == "Device" else uuid.uuid4()
    assert get(api, f"/v2/{path}/{other}") == (404, missing(kind, other))
    assert get(api, f"/v2/{path}/{made_up}") == (404, missing(kind, made_up))
    # A browser session of Acme is refused the same way.
    assert get(logged_in("ann-browser", world.acme), f"/v2/{path}/{other}") == (404, missing(kind, other))


@pytest.mark.parametrize("path", ["/v2/devices/abc", "/v2/devices/99999999999999999999", "/v2/teams/42", "/v2/users/x"])
def test_a_malformed_id_matches_no_route(api, world, path):
    status, body = get(api, path)
    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("path", LISTS)
def test_staff_pick_the_organization(staff, world, path):
    assert names(staff, path, org_id=str(world.acme.id)) == ACME[path]
    assert names(staff, path, org_id=str(world.globex.id)) == GLOBEX[path]


def test_staff_one_object_of_any_organization(staff, world):
    status, body = get(staff, f"/v2/devices/{world.x1.pk}", {"org_id": str(world.globex.id)})
    assert (status, body["address"]) == (200, "x1@h1.acme.test")
    assert get(staff, f"/v2/devices/{world.x1.pk}", {"org_id": str(world.acme.id)}) == (
        404,
        missing("Device", world.x1.pk),
    )


def test_staff_without_an_organization_must_name_one(staff, world):
    assert get(staff, "/v2/devices") == (
        400,
        {
            "error": {
                "code": "invalid_parameter",
                "message": "org_id is required for a staff token that belongs to no organization",
                "details": {"org_id": None},
            }
        },
    )


def test_staff_naming_an_unknown_organization(staff, world):
    unknown = uuid.uuid4()
    assert get(staff, "/v2/teams", {"org_id": str(unknown)}) == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": f"No organization has id {unknown}.",
                "details": {"org_id": str(unknown)},
            }
        },
    )


def test_a_member_cannot_name_another_organization(api, world):
    org_id = str(world.globex.id)
    assert get(api, "/v2/devices", {"org_id": org_id}) == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "org_id names an organization this token cannot read.",
                "details": {"org_id": org_id},
            }
        },
    )
    assert names(api, "/v2/devices", org_id=str(world.acme.id)) == ACME["/v2/devices"]


def test_a_user_of_no_organization(world):
    lonely = api_client(make_token("lonely"))
    assert get(lonely, "/v2/users") == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "This token's user belongs to no organization.",
                "details": {},
            }
        },
    )


@pytest.mark.parametrize("path", [*LISTS, "/v2/organizations", "/v2/devices/1"])
def test_no_token_no_session(world, path):
    response = api_client(None).get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "authentication_required"


@pytest.mark.parametrize("path", ["/v2/devices", f"/v2/teams/{uuid.UUID(int=1)}"])
def test_discovery_is_read_only(api, world, path):
    response = api.post(path, {})
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
