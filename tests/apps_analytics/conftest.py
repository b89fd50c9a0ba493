"""App analytics fixtures: two clients, tokens granted to one of them, and a way to write report rows."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps_analytics.models import Application, AppUsageReport, Client, ClientGrant, ClientUser, Department
from core.models import ApiToken
from tests.conftest import api_client


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # settings.py turns SECURE_SSL_REDIRECT on whenever DATABASE_URL is set, which redirects the test client's
    # plain-HTTP requests (301); these tests are about the API, not about the HTTPS redirect.
    settings.SECURE_SSL_REDIRECT = False


def token_for(username: str, *clients: Client, staff: bool = False) -> str:
    """A raw token of a new Django user granted the given clients."""
    user = get_user_model().objects.create_user(username=username, is_staff=staff)
    for granted in clients:
        ClientGrant.objects.create(user=user, client=granted)
    return ApiToken.issue(user=user)[1]


@pytest.fixture
def acme(db) -> Client:
    return Client.objects.create(name="Acme", timezone="Europe/Paris")


@pytest.fixture
def globex(db) -> Client:
    return Client.objects.create(name="Globex", timezone="America/New_York")


@pytest.fixture
def reader(acme) -> APIClient:
    """A token granted Acme only."""
    return api_client(token_for("reader", acme))


@pytest.fixture
def outsider(globex) -> APIClient:
    """A second tenant: a token granted Globex only, who must see nothing of Acme."""
    return api_client(token_for("outsider", globex))


@pytest.fixture
def staff(db) -> APIClient:
    """A staff token without any grant."""
    return api_client(token_for("staff", staff=True))


@pytest.fixture
def app(acme) -> Application:
    return Application.objects.create(client=acme, name="Figma")


def user(client: Client, email: str, *departments: Department) -> ClientUser:
    person = ClientUser.objects.create(client=client, email=email)
    person.departments.set(departments)
    return person


def report(app: Application, person: ClientUser, day: str, active_ms: int, sessions: int) -> AppUsageReport:
    return AppUsageReport.objects.create(
        client=app.client,
        application=app,
        user=person,
        activity_date=date.fromisoformat(day),
        total_active_ms=active_ms,
        total_session_count=sessions,
    )


def spread(total: int, parts: int) -> list[int]:
    """``parts`` non-negative integers that add up to ``total`` (the first ones one larger)."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]
