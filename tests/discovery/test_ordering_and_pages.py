"""ordering on every listed field, limit/offset pages, and every rejected parameter (400 in the envelope)."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get
from usage.models import Team

pytestmark = pytest.mark.django_db

D1, D2, D3, D4 = "d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"


@pytest.mark.parametrize(
    ("path", "ordering", "key", "expected"),
    [
        ("/v2/devices", "address", "address", [D1, D2, D3, D4]),
        ("/v2/devices", "-address", "address", [D4, D3, D2, D1]),
        ("/v2/devices", "-id", "address", [D4, D3, D2, D1]),
        ("/v2/devices", "-device_id", "address", [D4, D3, D2, D1]),
        ("/v2/devices", "-hostname", "address", [D3, D4, D1, D2]),  # ties by id
        ("/v2/devices", "country,-device_id", "address", [D4, D3, D2, D1]),
        ("/v2/devices", "os,device_id", "address", [D1, D4, D2, D3]),
        ("/v2/devices", "-device_type,-address", "address", [D4, D3, D2, D1]),
        ("/v2/devices", "first_used", "address", [D4, D3, D1, D2]),  # never used first
        ("/v2/devices", "-first_used", "address", [D2, D1, D3, D4]),
        ("/v2/devices", "last_used", "address", [D4, D3, D2, D1]),  # the idlest first
        ("/v2/devices", "-last_used", "address", [D1, D2, D3, D4]),
        ("/v2/hosts", "-hostname", "hostname", ["h2.acme.test", "h1.acme.test"]),
        ("/v2/hosts", "country", "hostname", ["h2.acme.test", "h1.acme.test"]),
        ("/v2/hosts", "-device_count", "hostname", ["h1.acme.test", "h2.acme.test"]),
        ("/v2/teams", "-name", "name", ["Gamma", "Beta", "Alpha"]),
        ("/v2/teams", "member_count", "name", ["Gamma", "Beta", "Alpha"]),
        ("/v2/teams", "-id", "name", None),
        ("/v2/users", "-email", "email", ["carl@acme.test", "bob@acme.test", "Ann@acme.test"]),
        ("/v2/users", "-name", "name", ["Carl", "Bob Stone", "Ann Lee"]),
        ("/v2/users", "id", "email", None),
    ],
)
def test_ordering(api, world, path, ordering, key, expected):
    status, body = get(api, path, {"ordering": ordering})
    assert status == 200
    rows = body["results"]
    if expected is None:  # by id: uuids, compare with the sorted ids
        ids = [row["id"] for row in rows]
        assert ids == sorted(ids, reverse=ordering.startswith("-")) and len(ids) == 3
    else:
        assert [row[key] for row in rows] == expected


def test_organizations_ordering(staff, world):
    assert [o["name"] for o in get(staff, "/v2/organizations", {"ordering": "-name"})[1]["results"]] == [
        "Globex",
        "Acme",
    ]


def test_pages_follow_each_other(api, world):
    first = {"count": 4, "next": "http://testserver/v2/devices?limit=3&offset=3", "previous": None}
    status, body = get(api, "/v2/devices", {"limit": "3"})
    assert (status, {k: v for k, v in body.items() if k != "results"}) == (200, first)
    assert [row["address"] for row in body["results"]] == [D1, D2, D3]
    status, body = get(api, "/v2/devices", {"limit": "3", "offset": "3"})
    assert body == {
        "count": 4,
        "next": None,
        "previous": "http://testserver/v2/devices?limit=3",
        "results": [body["results"][0]],
    }
    assert body["results"][0]["address"] == D4
    status, body = get(api, "/v2/devices", {"limit": "1", "offset": "2", "ordering": "-address"})
    assert [row["address"] for row in body["results"]] == [D2]
    assert body["next"] == "http://testserver/v2/devices?limit=1&offset=3&ordering=-address"
    assert body["previous"] == "http://testserver/v2/devices?limit=1&offset=1&ordering=-address"
    past_the_end = {"count": 4, "next": None, "previous": "http://testserver/v2/devices?limit=100", "results": []}
    assert get(api, "/v2/devices", {"offset": "10"}) == (200, past_the_end)


def test_the_default_page_is_100_rows_and_a_page_holds_at_most_1000(api, org):
    Team.objects.bulk_create([Team(organization=org, name=f"team {n:04}") for n in range(1001)])
    status, body = get(api, "/v2/teams")
    assert (status, body["count"], len(body["results"])) == (200, 1001, 100)
    assert body["next"] == "http://testserver/v2/teams?limit=100&offset=100"
    status, body = get(api, "/v2/teams", {"limit": "1000", "offset": "1"})
    assert (body["results"][0]["name"], body["results"][-1]["name"], body["next"]) == ("team 0001", "team 1000", None)


def bad(name, value, message: str) -> tuple:
    return name, value, message


ACCEPTED_DEVICES = (
    "country, device_type, hostname, idle_since, limit, model, offset, ordering, org_id, os, search, used_since"
)
ORDERINGS = "id, -id, email, -email, name, -name"


@pytest.mark.parametrize(
    ("path", "query", "message", "details"),
    [
        (
            "/v2/devices",
            "hostnme=h1",
            f"Unknown parameter: hostnme. Accepted: {ACCEPTED_DEVICES}.",
            {"hostnme": ["h1"]},
        ),
        (
            "/v2/devices",
            "a=1&b=2",
            f"Unknown parameters: a, b. Accepted: {ACCEPTED_DEVICES}.",
            {"a": ["1"], "b": ["2"]},
        ),
        (
            "/v2/devices",
            "filter_hostname=h1",
            f"Unknown parameter: filter_hostname. Accepted: {ACCEPTED_DEVICES}.",
            {"filter_hostname": ["h1"]},
        ),
        ("/v2/devices/{d1}", "os=ios", "Unknown parameter: os. Accepted: org_id.", {"os": ["ios"]}),
        ("/v2/devices", "search=a&search=b", "search was given 2 times; give it once.", {"search": ["a", "b"]}),
        ("/v2/devices", "limit=1&limit=2", "limit was given 2 times; give it once.", {"limit": ["1", "2"]}),
        (
            "/v2/devices",
            "idle_since=2024-13-01",
            "idle_since must be a date as YYYYMMDD or YYYY-MM-DD, got '2024-13-01'",
            {"idle_since": "2024-13-01"},
        ),
        (
            "/v2/devices",
            "used_since=yesterday",
            "used_since must be a date as YYYYMMDD or YYYY-MM-DD, got 'yesterday'",
            {"used_since": "yesterday"},
        ),
        (
            "/v2/devices",
            "used_since=0001-01-01",
            "used_since must be between 1900-01-01 and 2999-12-31, got '0001-01-01'",
            {"used_since": "0001-01-01"},
        ),
        ("/v2/devices", "os=ios&os=", "os must not be empty", {"os": ["ios", ""]}),
        (
            "/v2/devices",
            "hostname=a%00b",
            "hostname must not contain null characters, got 'a\\x00b'",
            {"hostname": "a\x00b"},
        ),
        ("/v2/users", "team_id={alpha}&team_id=42", "team_id must be UUIDs, got '42'", {"team_id": ["{alpha}", "42"]}),
        ("/v2/users", "ordering=age", f"ordering must be one of {ORDERINGS}; got 'age'", {"ordering": "age"}),
        ("/v2/users", "ordering=name,-", f"ordering must be one of {ORDERINGS}; got '-'", {"ordering": "name,-"}),
        ("/v2/devices", "limit=0", "limit must be an integer between 1 and 1000, got '0'", {"limit": "0"}),
        ("/v2/devices", "limit=1001", "limit must be an integer between 1 and 1000, got '1001'", {"limit": "1001"}),
        ("/v2/devices", "limit=ten", "limit must be an integer between 1 and 1000, got 'ten'", {"limit": "ten"}),
        ("/v2/devices", "offset=-1", "offset must be an integer of at least 0, got '-1'", {"offset": "-1"}),
        (
            "/v2/devices",
            "offset=99999999999999999999",
            "offset must be an integer of at least 0, got '99999999999999999999'",
            {"offset": "99999999999999999999"},
        ),
        ("/v2/teams", "org_id=acme", "org_id must be a UUID, got 'acme'", {"org_id": "acme"}),
    ],
)
def test_rejected_parameters(api, world, path, query, message, details):
    ids = {"d1": world.d1.pk, "acme": world.acme.id, "alpha": world.alpha.id}
    status, body = get(api, f"{path.format(**ids)}?{query.format(**ids)}")
    expected_details = {
        name: [v.format(**ids) for v in value] if isinstance(value, list) else value.format(**ids)
        for name, value in details.items()
    }
    assert (status, body) == (
        400,
        {"error": {"code": "invalid_parameter", "message": message, "details": expected_details}},
    )


def test_organizations_take_no_org_id(staff, world):
    status, body = get(staff, "/v2/organizations", {"org_id": str(world.acme.id)})
    message = "Unknown parameter: org_id. Accepted: limit, offset, ordering, search."
    details = {"org_id": [str(world.acme.id)]}
    assert (status, body) == (400, {"error": {"code": "invalid_parameter", "message": message, "details": details}})
