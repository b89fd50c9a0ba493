"""Fixtures and row builders of the v2 usage route tests (shared helpers: tests/usage_helpers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.usage_helpers import body, get, local, make_device, session, utc  # noqa: F401  (re-exported)
from usage.models import Device, Organization, Team, UsageEvent, User


def row(
    when: str,
    start: str,
    end: str,
    total: float,
    devices: int,
    sessions: int,
    *,
    unit: str = "second",
    **labels: Any,
) -> dict[str, Any]:
    """One expected v2 report row, fields in the order the route emits them."""
    return {
        "datetime": when,
        "start_time": start,
        "end_time": end,
        "total_time": total,
        "device_count": devices,
        "session_count": sessions,
        **labels,
        "unit": unit,
    }


@dataclass
class World:
    """One small organization (the ``org`` fixture) with sessions on 2024-01-01 UTC.

    ==  ========  ======  =====  ===========  =====
    #   device    user    team   time (UTC)   secs
    ==  ========  ======  =====  ===========  =====
    S1  d1@h1     ann     Alpha  10:00-11:00  3600
    S2  d2@h1     bob     Beta   12:00-12:30  1800
    S3  d3@h2     ann     Beta   13:00-15:00  7200
    S4  d1@h1     (none)  (none) 16:00-16:15   900
    ==  ========  ======  =====  ===========  =====

    Carl (a user) and Gamma (a team) have no sessions; d4@h3 neither.
    """

    org: Organization
    alpha: Team
    beta: Team
    gamma: Team
    ann: User
    bob: User
    carl: User
    d1: Device
    d2: Device
    d3: Device
    d4: Device
    events: list[UsageEvent]


@pytest.fixture
def world(org: Organization) -> World:
    alpha = Team.objects.create(organization=org, name="Alpha")
    beta = Team.objects.create(organization=org, name="Beta")
    gamma = Team.objects.create(organization=org, name="Gamma")
    ann = User.objects.create(organization=org, email="ann@acme.test", name="Ann")
    bob = User.objects.create(organization=org, email="bob@acme.test", name="Bob")
    carl = User.objects.create(organization=org, email="carl@acme.test", name="Carl")
    d1 = make_device(org, "d1@h1.acme.test")
    d2 = make_device(org, "d2@h1.acme.test")
    d3 = make_device(org, "d3@h2.acme.test")
    d4 = make_device(org, "d4@h3.acme.test")
    events = [
        session(d1, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"), user=ann, team=alpha),
        session(d2, utc("2024-01-01 12:00"), utc("2024-01-01 12:30"), user=bob, team=beta),
        session(d3, utc("2024-01-01 13:00"), utc("2024-01-01 15:00"), user=ann, team=beta),
        session(d1, utc("2024-01-01 16:00"), utc("2024-01-01 16:15")),
    ]
    return World(org, alpha, beta, gamma, ann, bob, carl, d1, d2, d3, d4, events)


DAY = {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "day"}
DAY_BIN = ("2024-01-01 00:00:00", "2024-01-01 00:00:00", "2024-01-02 00:00:00")
