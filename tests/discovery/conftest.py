"""Discovery fixtures: Acme (the ``org`` of tests/conftest.py) and Globex, sharing a host.

Acme's devices (hosts h1 FR, h2 DE):

    ===  ===============  =========  =======  ======  ===================================
    #    address          model      os       type    sessions (UTC)
    ===  ===============  =========  =======  ======  ===================================
    d1   d1@h1.acme.test  Pixel 8    android  phone   2024-01-01 10:00-11:00, 03-01 09:00-09:30
    d2   d2@h1.acme.test  iPhone 15  ios      phone   2024-02-10 12:00 - 02-11 01:00
    d3   d3@h2.acme.test  iPad       ios      tablet  2023-12-31 23:00 - 2024-01-01 00:30
    d4   d4@h2.acme.test  Galaxy     android  tablet  never used
    ===  ===============  =========  =======  ======  ===================================

Teams: Alpha (Ann, Bob), Beta (Ann), Gamma (nobody). Users: Ann@acme.test "Ann Lee", bob@acme.test
"Bob Stone", carl@acme.test "Carl". Globex: x1@h1.acme.test and x2@h3.globex.test (US), used
2024-05-01; its team Alpha with its user zed@globex.test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from core.models import Organization, OrganizationMembership
from tests.conftest import api_client, make_token
from tests.usage_helpers import make_device, session, utc
from usage.models import Device, Host, Team, User


@dataclass
class World:
    acme: Organization
    globex: Organization
    d1: Device
    d2: Device
    d3: Device
    d4: Device
    x1: Device
    alpha: Team
    beta: Team
    gamma: Team
    ann: User
    bob: User
    carl: User
    globex_alpha: Team
    zed: User


@pytest.fixture
def world(org, other_org) -> World:
    d1 = make_device(org, "d1@h1.acme.test", model="Pixel 8", os="android", device_type="phone")
    d2 = make_device(org, "d2@h1.acme.test", model="iPhone 15", os="ios", device_type="phone")
    d3 = make_device(org, "d3@h2.acme.test", model="iPad", os="ios", device_type="tablet")
    d4 = make_device(org, "d4@h2.acme.test", model="Galaxy", os="android", device_type="tablet")
    Host.objects.filter(hostname="h1.acme.test").update(country="FR")
    Host.objects.filter(hostname="h2.acme.test").update(country="DE")
    x1 = make_device(other_org, "x1@h1.acme.test", model="Pixel 8", os="android", device_type="phone")
    x2 = make_device(other_org, "x2@h3.globex.test")
    Host.objects.filter(hostname="h3.globex.test").update(country="US")

    alpha = Team.objects.create(organization=org, name="Alpha")
    beta = Team.objects.create(organization=org, name="Beta")
    gamma = Team.objects.create(organization=org, name="Gamma")
    ann = User.objects.create(organization=org, email="Ann@acme.test", name="Ann Lee")
    bob = User.objects.create(organization=org, email="bob@acme.test", name="Bob Stone")
    carl = User.objects.create(organization=org, email="carl@acme.test", name="Carl")
    ann.teams.set([alpha, beta])
    bob.teams.set([alpha])
    globex_alpha = Team.objects.create(organization=other_org, name="Alpha")
    zed = User.objects.create(organization=other_org, email="zed@globex.test", name="Zed")
    zed.teams.set([globex_alpha])

    session(d1, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"), user=ann, team=alpha)
    session(d1, utc("2024-03-01 09:00"), utc("2024-03-01 09:30"), user=bob, team=alpha)
    session(d2, utc("2024-02-10 12:00"), utc("2024-02-11 01:00"), user=ann, team=beta)
    session(d3, utc("2023-12-31 23:00"), utc("2024-01-01 00:30"))
    for device in (x1, x2):
        session(device, utc("2024-05-01 08:00"), utc("2024-05-01 09:00"), user=zed, team=globex_alpha)
    return World(org, other_org, d1, d2, d3, d4, x1, alpha, beta, gamma, ann, bob, carl, globex_alpha, zed)


@pytest.fixture
def staff(db) -> APIClient:
    """A staff token that belongs to no organization."""
    return api_client(make_token("root", staff=True))


def logged_in(username: str, organization: Organization | None, **flags: bool) -> APIClient:
    """A browser session (Django login, no token) of a new user of ``organization``."""
    user = get_user_model().objects.create_user(username=username, **flags)
    if organization is not None:
        OrganizationMembership.objects.create(user=user, organization=organization)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client
