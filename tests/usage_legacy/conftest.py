"""A small organization with legacy sessions (team only, user only) for the v1 and v0 route tests.

Helpers for calling routes and building sessions are the v2 tests' (one copy of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.usage_helpers import make_device, session, utc
from usage.models import Device, Organization, Team, UsageEvent, User


@dataclass
class LegacyWorld:
    """Sessions of ``org`` around 2023-03-01/02 (UTC), and one session of ``other_org``.

    ==  ==================  ======  =====  ========================  =========  ==========
    #   device              user    team   time (UTC)                duration   automated
    ==  ==================  ======  =====  ========================  =========  ==========
    E1  dev1@host-a         alice   Alpha  03-01 10:00 - 03-01 12:00  2 h
    E2  dev2@host-a         bob     Beta   03-01 23:30 - 03-02 01:30  2 h
    E3  dev1@host-b         -       Beta   03-02 08:00 - 03-02 09:00  1 h        yes
    E4  dev1@host-a         alice   -      03-02 14:00 - 03-02 14:45  45 min
    E5  dev1@host-b         bob     Alpha  02-28 23:00 - 03-01 01:00  2 h        yes
    E6  dev4@host-b         alice   Alpha  03-02 20:00 - 03-03 02:00  6 h
    E7  dev2@host-a         bob     Beta   03-05 10:00 - 03-05 11:00  1 h
    X1  odev@host-c         oscar   Omega  03-01 05:00 - 03-01 06:00  1 h        (other_org)
    ==  ==================  ======  =====  ========================  =========  ==========

    E3 is a legacy team-only session, E4 a legacy user-only one. Hosts: host-a.example (US),
    host-b.example (DE), host-c.example (FR). Devices: dev1@host-a Fairphone 4 (android phone),
    dev2@host-a Galaxy Tab S8 (android tablet), dev1@host-b Galaxy S22 (android phone), dev4@host-b
    iPhone 14 (ios phone), dev5@host-a Galaxy S23 (android phone, never used). Gamma (a team) and
    carol (a user) have no sessions. alice (name Alice, notes "Team lead") is in Alpha and Beta;
    bob (no name, no notes) in Beta.
    """

    alpha: Team
    beta: Team
    gamma: Team
    omega: Team
    alice: User
    bob: User
    carol: User
    oscar: User
    devices: dict[str, Device]
    events: dict[str, UsageEvent]


@pytest.fixture
def legacy(org: Organization, other_org: Organization) -> LegacyWorld:
    alpha = Team.objects.create(organization=org, name="Alpha")
    beta = Team.objects.create(organization=org, name="Beta")
    gamma = Team.objects.create(organization=org, name="Gamma")
    omega = Team.objects.create(organization=other_org, name="Omega")
    alice = User.objects.create(organization=org, email="alice@acme.test", name="Alice", notes="Team lead")
    bob = User.objects.create(organization=org, email="bob@acme.test")
    carol = User.objects.create(organization=org, email="carol@acme.test", name="Carol")
    oscar = User.objects.create(organization=other_org, email="oscar@globex.test", name="Oscar")
    alice.teams.set([alpha, beta])
    bob.teams.set([beta])
    oscar.teams.set([omega])
    phone = {"os": "android", "device_type": "phone"}
    devices = {
        "a1": make_device(org, "dev1@host-a.example", model="Fairphone 4", **phone),
        "a2": make_device(org, "dev2@host-a.example", model="Galaxy Tab S8", os="android", device_type="tablet"),
        "b1": make_device(org, "dev1@host-b.example", model="Galaxy S22", **phone),
        "b4": make_device(org, "dev4@host-b.example", model="iPhone 14", os="ios", device_type="phone"),
        "a5": make_device(org, "dev5@host-a.example", model="Galaxy S23", **phone),
        "c1": make_device(other_org, "odev@host-c.example", model="Other", **phone),
    }
    for device, country in (("a1", "US"), ("b1", "DE"), ("c1", "FR")):
        devices[device].host.country = country
        devices[device].host.save()
    a1, a2, b1, b4, c1 = (devices[k] for k in ("a1", "a2", "b1", "b4", "c1"))
    events = {
        "E1": session(a1, utc("2023-03-01 10:00"), utc("2023-03-01 12:00"), user=alice, team=alpha),
        "E2": session(a2, utc("2023-03-01 23:30"), utc("2023-03-02 01:30"), user=bob, team=beta),
        "E3": session(b1, utc("2023-03-02 08:00"), utc("2023-03-02 09:00"), team=beta, automated=True),
        "E4": session(a1, utc("2023-03-02 14:00"), utc("2023-03-02 14:45"), user=alice),
        "E5": session(b1, utc("2023-02-28 23:00"), utc("2023-03-01 01:00"), user=bob, team=alpha, automated=True),
        "E6": session(b4, utc("2023-03-02 20:00"), utc("2023-03-03 02:00"), user=alice, team=alpha),
        "E7": session(a2, utc("2023-03-05 10:00"), utc("2023-03-05 11:00"), user=bob, team=beta),
        "X1": session(c1, utc("2023-03-01 05:00"), utc("2023-03-01 06:00"), user=oscar, team=omega, automated=True),
    }
    return LegacyWorld(alpha, beta, gamma, omega, alice, bob, carol, oscar, devices, events)


# The two days most tests report on, in UTC day bins.
TWO_DAYS = {"start_date": "20230301", "end_date": "20230302", "bin_size": "day"}
D1, D2 = "2023-03-01", "2023-03-02"
A1, A2, B1, B4 = "dev1@host-a.example", "dev2@host-a.example", "dev1@host-b.example", "dev4@host-b.example"


def v1row(
    when: str, value: float | int | None, *, metric: str = "total_time", unit: str | None = "hour", **fields: Any
):
    """One expected v1 row: datetime, group fields, the metric, unit (the order the routes emit)."""
    return {"datetime": when, **fields, metric: value, "unit": unit}


# The keys of a manual session in /v0/usage/events JSON, in the seed's order (automated: "team" for the first two).
SEED_EVENT_KEYS = ("user", "email", "device_id", "hostname", "start_time", "end_time", "duration", "date")
