"""One line per filter (NetBox style): the query and what it lists, for the world of conftest.py."""

from __future__ import annotations

import pytest

from tests.usage_helpers import get

pytestmark = pytest.mark.django_db


def listed(api, path: str, query: str, key: str) -> list[str]:
    status, body = get(api, f"{path}?{query}")
    assert status == 200, body
    assert body["count"] == len(body["results"])
    return [row[key] for row in body["results"]]


@pytest.mark.parametrize(
    ("query", "addresses"),
    [
        ("search=H1", ["d1@h1.acme.test", "d2@h1.acme.test"]),
        ("search=d3@", ["d3@h2.acme.test"]),
        ("search=nothing", []),
        ("hostname=h2.acme.test", ["d3@h2.acme.test", "d4@h2.acme.test"]),
        ("hostname=H2.ACME.TEST", ["d3@h2.acme.test", "d4@h2.acme.test"]),
        (
            "hostname=h1.acme.test&hostname=h2.acme.test",
            ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"],
        ),
        ("hostname=h3.globex.test", []),
        ("country=FR", ["d1@h1.acme.test", "d2@h1.acme.test"]),
        ("country=de&country=us", ["d3@h2.acme.test", "d4@h2.acme.test"]),
        ("model=ipad", ["d3@h2.acme.test"]),
        ("model=iPad&model=Pixel 8", ["d1@h1.acme.test", "d3@h2.acme.test"]),
        ("os=ios", ["d2@h1.acme.test", "d3@h2.acme.test"]),
        ("os=ios&os=android", ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"]),
        ("device_type=tablet", ["d3@h2.acme.test", "d4@h2.acme.test"]),
        ("device_type=phone&device_type=watch", ["d1@h1.acme.test", "d2@h1.acme.test"]),
        ("os=ios&device_type=tablet", ["d3@h2.acme.test"]),
        ("idle_since=2024-01-01", ["d4@h2.acme.test"]),
        ("idle_since=2024-02-11", ["d3@h2.acme.test", "d4@h2.acme.test"]),
        ("idle_since=20240212", ["d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"]),
        ("idle_since=2024-03-02", ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test", "d4@h2.acme.test"]),
        ("used_since=2024-01-01", ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test"]),
        ("used_since=2024-02-11", ["d1@h1.acme.test", "d2@h1.acme.test"]),
        ("used_since=2024-03-02", []),
        ("idle_since=2024-03-02&os=android", ["d1@h1.acme.test", "d4@h2.acme.test"]),
        ("used_since=2024-01-02&idle_since=2024-02-12", ["d2@h1.acme.test"]),
    ],
)
def test_device_filter(api, world, query, addresses):
    assert listed(api, "/v2/devices", query, "address") == addresses


@pytest.mark.parametrize(
    ("query", "emails"),
    [
        ("team_id={alpha}", ["Ann@acme.test", "bob@acme.test"]),
        ("team_id={beta}", ["Ann@acme.test"]),
        ("team_id={alpha}&team_id={beta}", ["Ann@acme.test", "bob@acme.test"]),
        ("team_id={gamma}", []),
        ("team_id={globex_alpha}", []),
        ("search=ANN", ["Ann@acme.test"]),
        ("search=stone", ["bob@acme.test"]),
        ("search=acme.test", ["Ann@acme.test", "bob@acme.test", "carl@acme.test"]),
        ("search=zed", []),
        ("search=a&team_id={beta}", ["Ann@acme.test"]),
    ],
)
def test_user_filter(api, world, query, emails):
    ids = {name: getattr(world, name).id for name in ("alpha", "beta", "gamma", "globex_alpha")}
    assert listed(api, "/v2/users", query.format(**ids), "email") == emails


@pytest.mark.parametrize(
    ("query", "names"),
    [("search=ALP", ["Alpha"]), ("search=a", ["Alpha", "Beta", "Gamma"]), ("search=zzz", [])],
)
def test_team_filter(api, world, query, names):
    assert listed(api, "/v2/teams", query, "name") == names


@pytest.mark.parametrize(
    ("query", "hostnames"),
    [
        ("search=H1", ["h1.acme.test"]),
        ("country=de", ["h2.acme.test"]),
        ("country=DE&country=FR", ["h1.acme.test", "h2.acme.test"]),
        ("country=US", []),
    ],
)
def test_host_filter(api, world, query, hostnames):
    assert listed(api, "/v2/hosts", query, "hostname") == hostnames


@pytest.mark.parametrize(("query", "names"), [("search=GLOB", ["Globex"]), ("search=e", ["Acme", "Globex"])])
def test_organization_filter(staff, world, query, names):
    assert listed(staff, "/v2/organizations", query, "name") == names
