"""Authentication and the error envelope on a route that exists for every token."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import ApiToken
from tests.conftest import api_client, make_token

pytestmark = pytest.mark.django_db

ROUTE = "/v2/usage?start_date=2024-01-01&end_date=2024-01-01"


def test_it_requires_a_token():
    response = api_client(None).get(ROUTE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "code": "authentication_required",
            "message": "Authentication required: send 'Authorization: Bearer <token>'.",
            "details": {},
        }
    }


def test_it_rejects_an_unknown_token():
    response = api_client("ua_not-a-real-token").get(ROUTE)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"
    assert response.json()["error"]["message"] == "The token is unknown or has been revoked."


def test_it_rejects_a_malformed_header():
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION="Token abc def")
    response = client.get(ROUTE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_rejects_a_revoked_token(org):
    raw = make_token("bob", organization=org)
    assert api_client(raw).get(ROUTE).status_code == 200  # the same token worked before
    ApiToken.objects.get().revoke()
    response = api_client(raw).get(ROUTE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "error": {
            "code": "authentication_required",
            "message": "The token is unknown or has been revoked.",
            "details": {},
        }
    }


def test_it_stores_only_the_hash_and_records_last_use(org):
    raw = make_token("bob", organization=org)
    token = ApiToken.objects.get()
    assert raw not in (token.key_hash, token.prefix)
    assert token.last_used_at is None
    assert api_client(raw).get(ROUTE).status_code == 200
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timezone.timedelta(seconds=5)


def test_unknown_api_route_is_a_json_404(api):
    response = api.get("/v2/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "route",
    [
        "/v1/usage?start_date=2024-01-01&end_date=2024-01-01&format=csv",
        "/v0/usage/events?start_date=20240101&end_date=20240102&format=csv",
        "/v2/usage/event/?start_date=2024-01-01&end_date=2024-01-01&format=csv",
    ],
)
def test_the_format_parameter_decides_whatever_the_accept_header(api, route):
    response = api.get(route, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
