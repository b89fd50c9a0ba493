"""Access on every app analytics route (SPEC §2): tokens, grants, staff, unknown ids, the envelope."""

from __future__ import annotations

import uuid

import pytest

from apps_analytics.models import Application, Client
from tests.apps_analytics.conftest import report, token_for, user
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

PERIOD = "start_date=2026-03-01&end_date=2026-03-31"
# route template (with {client} and {app}) -> a valid query
ROUTES = {
    "detail": ("/v2/clients/{client}/analytics/apps/{app}/utilization", f"granularity=monthly&{PERIOD}"),
    "list": ("/v2/clients/{client}/analytics/apps/utilization", f"granularity=monthly&{PERIOD}"),
    "activity": ("/v2/clients/{client}/analytics/apps/{app}/activity", f"metric=user-count&{PERIOD}"),
    "users": ("/v2/clients/{client}/analytics/apps/{app}/utilization/users", PERIOD),
    "apps": ("/v2/clients/{client}/apps", ""),
    "app": ("/v2/clients/{client}/apps/{app}", ""),
}
APP_ROUTES = [name for name, (template, _) in ROUTES.items() if "{app}" in template]


def route(name: str, client_id, app_id=None) -> str:
    template, query = ROUTES[name]
    path = template.format(client=client_id, app=app_id)
    return f"{path}?{query}" if query else path


def use(app: Application, email: str, day: str, active_ms: int, sessions: int) -> Application:
    """``app`` with one report row of one user in March 2026."""
    report(app, user(app.client, email), day, active_ms, sessions)
    return app


@pytest.fixture
def used_app(app):
    return use(app, "ana@acme.example", "2026-03-02", 1000, 1)


def body(name: str, app: Application, email: str, day: str, active_ms: int, sessions: int) -> dict:
    """The whole answer of route ``name`` for an app whose only use is ``use(app, email, day, ...)``."""
    period = {"start_date": "2026-03-01", "end_date": "2026-03-31"}
    compared = {**period, "compare_start_date": None, "compare_end_date": None}
    metrics = {
        metric: {"value": value, "change_pct": None, "compare_value": None}
        for metric, value in [
            ("unique_users", 1),
            ("active_time_ms", active_ms),
            ("avg_time_ms_per_day", active_ms),
            ("session_count", sessions),
        ]
    }
    page = {"count": 1, "next": None, "previous": None}
    identity = {"id": str(app.id), "client_id": str(app.client_id), "name": app.name}
    person = app.client.users.get()
    points = [{"date": f"2026-03-{d:02}", "value": int(f"2026-03-{d:02}" == day)} for d in range(1, 32)]
    return {
        "detail": {"period": compared, **metrics},
        "list": {"period": compared, **page, "results": [{"app_id": str(app.id), "name": app.name, **metrics}]},
        "activity": {"metric": "user-count", "period": period, "points": points},
        "users": {
            "period": period,
            **page,
            "results": [
                {
                    "user_id": str(person.id),
                    "email": email,
                    "active_time_ms": active_ms,
                    "session_count": sessions,
                    "active_days": 1,
                    "first_active_date": day,
                    "last_active_date": day,
                }
            ],
        },
        "apps": {**page, "results": [identity]},
        "app": identity,
    }[name]


def read(api, name: str, app: Application) -> tuple[int, dict]:
    response = api.get(route(name, app.client_id, app.id))
    return response.status_code, response.json()


@pytest.mark.parametrize("name", ROUTES)
def test_a_granted_token_reads_every_route(reader, used_app, name):
    assert read(reader, name, used_app) == (200, body(name, used_app, "ana@acme.example", "2026-03-02", 1000, 1))


@pytest.mark.parametrize("name", ROUTES)
def test_staff_read_every_client_without_a_grant(staff, used_app, globex, name):
    globex_app = use(
        Application.objects.create(client=globex, name="Globex CRM"), "bea@globex.example", "2026-03-05", 2500, 3
    )
    assert read(staff, name, used_app) == (200, body(name, used_app, "ana@acme.example", "2026-03-02", 1000, 1))
    assert read(staff, name, globex_app) == (200, body(name, globex_app, "bea@globex.example", "2026-03-05", 2500, 3))


@pytest.mark.parametrize("name", ROUTES)
def test_it_requires_a_token(used_app, name):
    response = api_client(None).get(route(name, used_app.client_id, used_app.id))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "code": "authentication_required",
            "message": "Authentication required: send 'Authorization: Bearer <token>'.",
            "details": {},
        }
    }


@pytest.mark.parametrize("name", ROUTES)
def test_it_rejects_an_unknown_token(used_app, name):
    response = api_client("ua_unknown").get(route(name, used_app.client_id, used_app.id))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


@pytest.mark.parametrize("name", ROUTES)
def test_another_tenants_token_sees_nothing(outsider, used_app, name):
    response = outsider.get(route(name, used_app.client_id, used_app.id))
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "permission_denied",
            "message": f"You have no access to client {used_app.client_id}.",
            "details": {"client_id": str(used_app.client_id)},
        }
    }


@pytest.mark.parametrize("name", ROUTES)
def test_a_token_without_any_grant_is_forbidden(used_app, name):
    response = api_client(token_for("nobody")).get(route(name, used_app.client_id, used_app.id))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("name", ROUTES)
def test_it_rejects_an_unknown_client(reader, used_app, name):
    missing = uuid.uuid4()
    response = reader.get(route(name, missing, used_app.id))
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": f"Client {missing} does not exist.",
            "details": {"client_id": str(missing)},
        }
    }


@pytest.mark.parametrize("name", APP_ROUTES)
def test_it_rejects_another_clients_app(reader, staff, used_app, globex, name):
    foreign = Application.objects.create(client=globex, name="Globex CRM")
    for caller in (reader, staff):
        response = caller.get(route(name, used_app.client_id, foreign.id))
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "code": "not_found",
                "message": f"Application {foreign.id} does not exist in client {used_app.client_id}.",
                "details": {"app_id": str(foreign.id)},
            }
        }


@pytest.mark.parametrize("name", APP_ROUTES)
def test_it_rejects_an_unknown_app(reader, used_app, name):
    missing = uuid.uuid4()
    response = reader.get(route(name, used_app.client_id, missing))
    assert response.status_code == 404
    assert (
        response.json()["error"]["message"] == f"Application {missing} does not exist in client {used_app.client_id}."
    )


@pytest.mark.parametrize("name", ROUTES)
def test_it_rejects_an_invalid_client_uuid_in_the_path(reader, used_app, name):
    response = reader.get(route(name, "not-a-uuid", used_app.id))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", APP_ROUTES)
def test_it_rejects_an_invalid_app_uuid_in_the_path(reader, used_app, name):
    response = reader.get(route(name, used_app.client_id, "1234"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ROUTES)
def test_a_token_granted_two_clients_reads_both(globex, used_app, name):
    both = api_client(token_for("both", used_app.client, globex))
    globex_app = use(
        Application.objects.create(client=globex, name="Globex CRM"), "bea@globex.example", "2026-03-05", 2500, 3
    )
    assert read(both, name, used_app) == (200, body(name, used_app, "ana@acme.example", "2026-03-02", 1000, 1))
    assert read(both, name, globex_app) == (200, body(name, globex_app, "bea@globex.example", "2026-03-05", 2500, 3))


@pytest.mark.parametrize("name", ROUTES)
def test_it_rejects_post(reader, used_app, name):
    response = reader.post(route(name, used_app.client_id, used_app.id))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_outsider_cannot_tell_apps_apart_by_guessing(outsider, acme):
    # Without a grant the answer is 403 before the app is looked at, for real and made-up apps alike.
    real = Application.objects.create(client=acme, name="Figma")
    assert Client.objects.count() == 2
    statuses = {outsider.get(route("app", acme.id, app_id)).status_code for app_id in (real.id, uuid.uuid4())}
    assert statuses == {403}
