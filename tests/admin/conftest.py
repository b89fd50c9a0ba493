"""A logged-in staff superuser and a little data of every model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as BrowserClient

from apps_analytics.models import Application, AppUsageReport, Client, ClientGrant, ClientUser, Department
from core.models import ApiToken
from usage.models import Device, Host, Organization, OrganizationMembership, Team, UsageEvent, User

START = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def browser(db) -> BrowserClient:
    admin = get_user_model().objects.create_superuser(username="root", email="root@example.test", password=None)
    browser = BrowserClient()
    browser.force_login(admin)
    return browser


def add_sessions(organization: Organization, count: int, *, prefix: str = "d") -> list[UsageEvent]:
    """``count`` sessions, each on its own device, user and team (so per-row lookups would show)."""
    host, _ = Host.objects.get_or_create(hostname=f"{prefix}-host.example", defaults={"country": "DE"})
    events = []
    for n in range(count):
        team = Team.objects.create(organization=organization, name=f"{prefix} team {n}")
        user = User.objects.create(organization=organization, email=f"{prefix}{n}@acme.test")
        device = Device.objects.create(organization=organization, host=host, device_id=f"{prefix}-{n}")
        start = START + timedelta(days=n)
        events.append(
            UsageEvent.objects.create(
                organization=organization,
                device=device,
                user=user,
                team=team,
                start_time=start,
                end_time=start + timedelta(minutes=90),
            )
        )
    return events


@pytest.fixture
def everything(db) -> dict:
    """One row of every model."""
    org = Organization.objects.create(name="Acme")
    login = get_user_model().objects.create_user(username="api-user")
    OrganizationMembership.objects.create(user=login, organization=org)
    (event,) = add_sessions(org, 1)
    client = Client.objects.create(name="Initech", timezone="Europe/Paris")
    ClientGrant.objects.create(user=login, client=client)
    department = Department.objects.create(client=client, name="Sales")
    client_user = ClientUser.objects.create(client=client, email="bob@initech.test")
    client_user.departments.add(department)
    app = Application.objects.create(client=client, name="Mail")
    report = AppUsageReport.objects.create(
        client=client,
        application=app,
        user=client_user,
        activity_date=date(2026, 8, 3),
        total_active_ms=5_400_000,
        total_session_count=2,
    )
    token, _ = ApiToken.issue(user=login, name="ci")
    return {
        "org": org,
        "event": event,
        "client": client,
        "app": app,
        "report": report,
        "token": token,
        "login": login,
        "client_user": client_user,
        "department": department,
    }
