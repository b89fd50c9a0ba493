"""The replica router's choices (core.routers); the real replica is in tests/operation/test_replica.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import override_settings

from apps_analytics.models import AppUsageReport
from core import routers
from core.models import ApiToken, Organization, OrganizationMembership
from core.routers import ReplicaRouter, report_database, report_reads
from usage.models import Device, UsageEvent

ROOT = Path(__file__).resolve().parents[2]
WITH_REPLICA = {**settings.DATABASES, "replica": {**settings.DATABASES["default"], "TEST": {"MIRROR": "default"}}}
REPORT_MODELS = [UsageEvent, Device, AppUsageReport]
PRIMARY_MODELS = [ApiToken, Organization, OrganizationMembership, get_user_model(), Session]
router = ReplicaRouter()


@pytest.fixture(autouse=True)
def replica_caught_up(monkeypatch):
    """The replica's catch-up is measured on a real replica (tests/operation/test_replica.py)."""
    monkeypatch.setattr(routers, "replica_caught_up", lambda: True)


# The router reads settings.DATABASES; connections are not touched, as Django's warning fears.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@override_settings(DATABASES=WITH_REPLICA)
@pytest.mark.parametrize("model", REPORT_MODELS)
def test_report_reads_of_the_report_models_go_to_the_replica(model):
    assert router.db_for_read(model) == "default"  # outside a report: the write paths read their own writes
    with report_reads():
        assert router.db_for_read(model) == "replica"
        assert router.db_for_write(model) == "default"
        assert report_database() == "replica"
    assert report_database() == "default"


@override_settings(DATABASES=WITH_REPLICA)
@pytest.mark.parametrize("model", PRIMARY_MODELS)
def test_tokens_tenancy_logins_and_sessions_stay_on_the_primary(model):
    with report_reads():
        assert router.db_for_read(model) == "default"
        assert router.db_for_write(model) == "default"


@override_settings(DATABASES=WITH_REPLICA)
def test_migrations_run_on_the_primary_only():
    assert router.allow_migrate("default", "usage")
    assert not router.allow_migrate("replica", "usage")


@override_settings(DATABASES=WITH_REPLICA)
def test_a_replica_that_lags_or_is_out_of_reach_is_passed_over(monkeypatch):
    monkeypatch.setattr(routers, "replica_caught_up", lambda: False)
    with report_reads():
        assert report_database() == "default"
        assert router.db_for_read(UsageEvent) == "default"


def test_without_a_replica_every_read_stays_on_the_primary():
    with report_reads():
        assert report_database() == "default"
        assert router.db_for_read(UsageEvent) == "default"


def settings_under(environment: dict[str, str]) -> list:
    code = (
        "import json; from usage_project import settings as s; "
        "print(json.dumps([sorted(s.DATABASES), s.__dict__.get('DATABASE_ROUTERS', []), "
        "{k: [v['HOST'], v['PORT'], v['NAME'], v['CONN_MAX_AGE'], v['OPTIONS']['options']] "
        "for k, v in s.DATABASES.items()}]))"
    )
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, **environment}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    import json

    return json.loads(result.stdout)


def test_the_replica_setting_adds_the_alias_and_the_router():
    primary = "postgres://app@db1.example:5432/usage"
    aliases, routers, databases = settings_under(
        {"DATABASE_URL": primary, "DATABASE_REPLICA_URL": "postgres://app@db2.example:6432/usage"}
    )
    assert aliases == ["default", "replica"]
    assert routers == ["core.routers.ReplicaRouter"]
    options = "-c jit=off -c work_mem=64MB -c statement_timeout=30000"
    assert databases == {
        "default": ["db1.example", 5432, "usage", 60, options],
        "replica": ["db2.example", 6432, "usage", 60, options],  # the same limits as the primary
    }
    aliases, routers, databases = settings_under({"DATABASE_URL": primary})
    assert (aliases, routers) == (["default"], [])
