"""A second organization's token sees none of the first's rows, on every legacy route.

``other_org`` has one session, X1 (odev@host-c.example, oscar, Omega, 03-01 05:00-06:00 UTC);
``org`` has the rest of the legacy world, in the same range.
"""

from __future__ import annotations

import pytest

from tests.usage_helpers import get
from tests.usage_legacy.conftest import D1, D2, TWO_DAYS, v1row

pytestmark = pytest.mark.django_db

OSCAR = "oscar@globex.test"
OWN_GROUP = {
    "device": {"device": "odev@host-c.example"},
    "user": {"user": OSCAR},
    "team": {"team": "Omega"},
    "host": {"hostname": "host-c.example"},
    "country": {"country": "FR"},
    "team/device": {"team": "Omega", "device": "odev@host-c.example"},
    "user/team": {"user": OSCAR, "teams": ["Omega"]},
    "devicemodel": {"device_model": "Other"},
    "team/devicemodel": {"team": "Omega", "device_model": "Other"},
}


def test_org_route_counts_only_the_own_organization(other_api, legacy):
    assert get(other_api, "/v1/usage", TWO_DAYS) == (200, {"report": [v1row(D1, 1.0), v1row(D2, 0.0)]})


@pytest.mark.parametrize("route", OWN_GROUP)
def test_grouped_routes_show_only_the_own_organization(other_api, legacy, route):
    assert get(other_api, f"/v1/usage/{route}", TWO_DAYS) == (200, {"report": [v1row(D1, 1.0, **OWN_GROUP[route])]})


@pytest.mark.parametrize("route", OWN_GROUP)
def test_display_all_lists_only_the_own_organization(other_api, legacy, route):
    # The first organization's teams, users, devices, hosts, countries and models are not listed.
    status, data = get(other_api, f"/v1/usage/{route}", {**TWO_DAYS, "display_all": "true"})
    assert (status, data) == (200, {"report": [v1row(D1, 1.0, **OWN_GROUP[route]), v1row(D2, 0.0, **OWN_GROUP[route])]})


def test_filters_naming_the_first_organization_find_nothing(other_api, legacy):
    params = {**TWO_DAYS, "filter_on.team_name": "Alpha", "filter_on.user_email": "alice@acme.test"}
    assert get(other_api, "/v1/usage/team", params) == (200, {"report": []})
    params = {**TWO_DAYS, "filter_on.device_address": "dev1@host-a.example"}
    assert get(other_api, "/v1/usage", params) == (200, {"report": [v1row(D1, 0.0), v1row(D2, 0.0)]})


def test_first_organization_does_not_see_the_second(api, legacy):
    _, data = get(api, "/v1/usage/team", {**TWO_DAYS, "display_all": "true"})
    assert "Omega" not in {row["team"] for row in data["report"]}
    _, data = get(api, "/v1/usage", {**TWO_DAYS, "filter_on.hostname": "host-c.example"})
    assert data == {"report": [v1row(D1, 0.0), v1row(D2, 0.0)]}
