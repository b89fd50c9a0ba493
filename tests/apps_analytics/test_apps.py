"""Get App and the client's app list."""

from __future__ import annotations

import pytest

from apps_analytics.models import Application

pytestmark = pytest.mark.django_db


def test_it_gets_an_app(reader, app):
    response = reader.get(f"/v2/clients/{app.client_id}/apps/{app.id}")
    assert response.status_code == 200
    assert response.json() == {"id": str(app.id), "client_id": str(app.client_id), "name": "Figma"}


def test_get_app_rejects_query_parameters(reader, app):
    response = reader.get(f"/v2/clients/{app.client_id}/apps/{app.id}", {"fields": "name"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "Unknown parameter: fields. Accepted: none.",
            "details": {"fields": ["name"]},
        }
    }


def test_it_lists_the_clients_apps_by_name(reader, acme, globex, app):
    asana = Application.objects.create(client=acme, name="Asana")
    Application.objects.create(client=globex, name="Aardvark")
    response = reader.get(f"/v2/clients/{acme.id}/apps")
    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {"id": str(asana.id), "client_id": str(acme.id), "name": "Asana"},
            {"id": str(app.id), "client_id": str(acme.id), "name": "Figma"},
        ],
    }


def test_it_paginates_the_apps(reader, acme, app):
    Application.objects.create(client=acme, name="Asana")
    response = reader.get(f"/v2/clients/{acme.id}/apps", {"limit": 1, "offset": 1})
    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": f"http://testserver/v2/clients/{acme.id}/apps?limit=1",
        "results": [{"id": str(app.id), "client_id": str(acme.id), "name": "Figma"}],
    }


def test_the_app_list_rejects_unknown_parameters(reader, acme):
    response = reader.get(f"/v2/clients/{acme.id}/apps", {"search": "fig"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_parameter",
            "message": "Unknown parameter: search. Accepted: limit, offset.",
            "details": {"search": ["fig"]},
        }
    }
