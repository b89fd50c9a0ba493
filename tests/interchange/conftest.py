"""Helpers for the interchange tests: a small dataset of every kind, and running the commands."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from apps_analytics.models import Application, AppUsageReport, Client, ClientUser, Department
from usage.models import Device, Host, Organization, Team, UsageEvent, User

ORG = "00000000-0000-4000-8000-000000000001"
ORG2 = "00000000-0000-4000-8000-000000000002"
TEAM = "00000000-0000-4000-8000-000000000011"
TEAM2 = "00000000-0000-4000-8000-000000000012"
USER = "00000000-0000-4000-8000-000000000021"
EVENT = "00000000-0000-4000-8000-000000000031"
EVENT2 = "00000000-0000-4000-8000-000000000032"
CLIENT = "00000000-0000-4000-8000-000000000041"
DEPT = "00000000-0000-4000-8000-000000000051"
CUSER = "00000000-0000-4000-8000-000000000061"
APP = "00000000-0000-4000-8000-000000000071"

MODELS = (
    Organization,
    Team,
    User,
    Host,
    Device,
    UsageEvent,
    Client,
    Department,
    ClientUser,
    Application,
    AppUsageReport,
)


def dataset() -> list[dict[str, Any]]:
    """One record of every kind (two sessions), in dependency order."""
    return [
        {"kind": "organization", "id": ORG, "name": "Acme"},
        {"kind": "team", "id": TEAM, "organization": ORG, "name": "Red"},
        {"kind": "user", "id": USER, "organization": ORG, "email": "ann@acme.test", "name": "Ann", "teams": [TEAM]},
        {"kind": "host", "hostname": "h1.acme.test", "country": "DE"},
        {"kind": "device", "organization": ORG, "device_id": "tab-1", "hostname": "h1.acme.test", "os": "android"},
        {
            "kind": "usage_event",
            "id": EVENT,
            "organization": ORG,
            "device": "tab-1@h1.acme.test",
            "user": USER,
            "team": TEAM,
            "start_time": "2026-08-01T10:00:00+02:00",
            "end_time": "2026-08-01T09:30:00Z",
            "automated": False,
        },
        {
            "kind": "usage_event",
            "id": EVENT2,
            "organization": ORG,
            "device": "tab-1@h1.acme.test",
            "team": TEAM,
            "start_time": "2026-08-01T23:30:00+00:00",
            "end_time": "2026-08-02T01:30:00+00:00",
            "automated": True,
        },
        {"kind": "client", "id": CLIENT, "name": "Initech", "timezone": "Europe/Paris"},
        {"kind": "department", "id": DEPT, "client": CLIENT, "name": "Sales"},
        {"kind": "client_user", "id": CUSER, "client": CLIENT, "email": "bob@initech.test", "departments": [DEPT]},
        {"kind": "application", "id": APP, "client": CLIENT, "name": "Mail"},
        {
            "kind": "app_usage_report",
            "client": CLIENT,
            "application": APP,
            "user": CUSER,
            "activity_date": "2026-08-01",
            "total_active_ms": 60000,
            "total_session_count": 3,
        },
    ]


def jsonl(records: list[Any]) -> bytes:
    return b"".join((record if isinstance(record, bytes) else orjson.dumps(record)) + b"\n" for record in records)


@pytest.fixture
def write_file(tmp_path: Path):
    """Writes records (dicts, or raw bytes lines) to a JSON Lines file and returns its path."""
    counter = iter(range(1000))

    def write(records: list[Any]) -> str:
        path = tmp_path / f"input{next(counter)}.jsonl"
        path.write_bytes(jsonl(records))
        return str(path)

    return write


def import_files(*paths: str) -> str:
    out = io.StringIO()
    call_command("import_usage", *paths, stdout=out)
    return out.getvalue()


def export_text() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_usage", stdout=out, stderr=err)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}
