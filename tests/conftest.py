"""Shared fixtures: organizations, tokens and an API client that sends them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from core.models import ApiToken
from usage.models import Organization, OrganizationMembership


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(name="Acme")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(name="Globex")


def make_token(username: str, *, organization: Organization | None = None, staff: bool = False) -> str:
    user = get_user_model().objects.create_user(username=username, is_staff=staff)
    if organization is not None:
        OrganizationMembership.objects.create(user=user, organization=organization)
    _, raw = ApiToken.issue(user=user)
    return raw


def api_client(raw_token: str | None) -> APIClient:
    client = APIClient()
    if raw_token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return client


@pytest.fixture
def api(org) -> APIClient:
    """A client whose token belongs to a user of ``org``."""
    return api_client(make_token("alice", organization=org))


@pytest.fixture
def other_api(other_org) -> APIClient:
    """A client of a second tenant, who must see nothing of ``org``."""
    return api_client(make_token("mallory", organization=other_org))


@pytest.fixture(autouse=True)
def _no_cached_reports_from_other_tests():
    """Each test starts without cached report answers (core.report_cache, in process memory here)."""
    from django.core.cache import caches

    caches["reports"].clear()
