"""A browser session (the portal) reads exactly what the user's token would, and nothing more (SPEC §2, §13).

Session authentication stands beside bearer tokens; DRF enforces CSRF on unsafe methods for it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps_analytics.models import Application, Client, ClientGrant
from core.models import OrganizationMembership
from tests.usage_helpers import body, get, make_device, session, utc

pytestmark = pytest.mark.django_db

REPORT = {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "day"}
CSRF_SECRET = "a" * 32  # a CSRF cookie's value; the form (or header) must repeat it


def browser(username: str, *, organization=None, client: Client | None = None) -> APIClient:
    user = get_user_model().objects.create_user(username=username)
    if organization is not None:
        OrganizationMembership.objects.create(user=user, organization=organization)
    if client is not None:
        ClientGrant.objects.create(user=user, client=client)
    visitor = APIClient(enforce_csrf_checks=True)
    visitor.force_login(user)
    return visitor


def report(total: float, devices: int, sessions: int) -> dict:
    row = {
        "datetime": "2024-01-01 00:00:00",
        "start_time": "2024-01-01 00:00:00",
        "end_time": "2024-01-02 00:00:00",
        "total_time": total,
        "device_count": devices,
        "session_count": sessions,
        "unit": "second",
    }
    return {"report": [row]}


@pytest.fixture
def acme_session(org):
    session(make_device(org, "d1@h1.test"), utc("2024-01-01 10:00"), utc("2024-01-01 11:00"))
    return org


def test_a_member_reads_the_organizations_report_through_the_session(acme_session):
    assert get(browser("ann", organization=acme_session), "/v2/usage", REPORT) == (200, report(3600.0, 1, 1))


def test_a_second_organizations_member_gets_nothing_of_the_first(acme_session, other_org):
    globex = browser("zed", organization=other_org)
    assert get(globex, "/v2/usage", REPORT) == (200, report(0.0, 0, 0))
    assert get(globex, "/v2/usage", {**REPORT, "org_id": str(acme_session.id)}) == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": "org_id names an organization this token cannot read.",
                "details": {"org_id": str(acme_session.id)},
            }
        },
    )


def test_app_routes_follow_the_grants_through_the_session(db):
    acme, globex = Client.objects.create(name="Acme"), Client.objects.create(name="Globex")
    app = Application.objects.create(client=acme, name="Mail")
    identity = {"id": str(app.id), "client_id": str(acme.id), "name": "Mail"}
    assert get(browser("ann", client=acme), f"/v2/clients/{acme.id}/apps/{app.id}") == (200, identity)
    assert get(browser("zed", client=globex), f"/v2/clients/{acme.id}/apps/{app.id}") == (
        403,
        {
            "error": {
                "code": "permission_denied",
                "message": f"You have no access to client {acme.id}.",
                "details": {"client_id": str(acme.id)},
            }
        },
    )


def test_a_post_without_the_csrf_token_is_refused(acme_session):
    ann = browser("ann", organization=acme_session)
    response = ann.post("/v2/usage", REPORT)
    assert (response.status_code, response.json()) == (
        403,
        {"error": {"code": "permission_denied", "message": "CSRF Failed: CSRF cookie not set.", "details": {}}},
    )
    ann.cookies["csrftoken"] = CSRF_SECRET
    response = ann.post("/v2/usage", REPORT)
    assert (response.status_code, response.json()["error"]["message"]) == (403, "CSRF Failed: CSRF token missing.")
    response = ann.post("/v2/usage", REPORT, HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert (response.status_code, body(response)) == (200, report(3600.0, 1, 1))


def test_a_session_never_writes(acme_session):
    ann = browser("ann", organization=acme_session)
    ann.cookies["csrftoken"] = CSRF_SECRET
    response = ann.post("/v2/ingest", b"[]", content_type="application/json", HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "authentication_required")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
