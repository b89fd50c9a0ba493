"""Health endpoints, per-token rate limits and SECRET_KEY (SPEC §14)."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from core import health
from core.throttling import TokenRateThrottle
from tests.conftest import api_client, make_token

pytestmark = pytest.mark.django_db

ROUTE = "/v2/usage?start_date=2024-01-01&end_date=2024-01-01"


def test_healthz_answers_without_a_token():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_503_while_migrations_are_missing(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    monkeypatch.setattr(health, "pending_migrations", lambda: ["usage.0042_future"])
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "1 database migration(s) are not applied: run `manage.py migrate`.",
            "details": {"pending_migrations": ["usage.0042_future"]},
        }
    }


def test_readyz_is_503_when_the_database_fails(monkeypatch):
    monkeypatch.setattr(health, "_migrated", True)

    def broken(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "service_unavailable",
        "message": "The database is unavailable.",
        "details": {},
    }


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_token_past_its_rate_gets_429_with_retry_after(org, monkeypatch, fresh_cache):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    first, second = api_client(make_token("ann", organization=org)), api_client(make_token("bob", organization=org))
    assert [first.get(ROUTE).status_code for _ in range(3)] == [200, 200, 200]
    response = first.get(ROUTE)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert orjson.loads(response.content) == {
        "error": {
            "code": "rate_limited",
            "message": f"Request was throttled. Expected available in {response['Retry-After']} seconds.",
            "details": {},
        }
    }
    assert second.get(ROUTE).status_code == 200  # every token has a bucket of its own


def test_the_rates_are_in_settings(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["core.throttling.TokenRateThrottle"]
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {"token": "1200/min"}


UNUSED_DATABASE = "postgres://nobody@127.0.0.1:1/none"  # settings only: no connection is opened


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))"
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "USAGE_COMMAND_LINE"}}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "usage_project.settings", "DATABASE_URL": UNUSED_DATABASE, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_refuses_to_start_without_secret_key():
    result = run_settings({})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_secret_key_is_taken_from_the_environment():
    result = run_settings({"SECRET_KEY": "k" * 60})
    assert result.returncode == 0 and result.stdout.strip() == "60"
