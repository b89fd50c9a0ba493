"""export_usage --organization/--client/--since/--until/--kind: each selection, and its round trip."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.core.management import CommandError, call_command

from tests.interchange.conftest import MODELS, import_files, row_counts
from usage.binning import make_bins
from usage.models import Organization
from usage.reporting import Filters, ReportSpec, run_report

pytestmark = pytest.mark.django_db


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def tenant(n: int) -> list[dict]:
    """Organization n and client n: a team, a user, a device on a host of its own and one shared with the
    other tenant, sessions on Aug 1 and Aug 10; a department, a user, an app and reports on the same days."""
    org, team, user, client, dept, cuser, app = (uid(100 * n + k) for k in range(1, 8))
    own, shared = f"h{n}.test", "shared.test"
    session = {"kind": "usage_event", "organization": org, "user": user, "team": team, "automated": False}
    report = {"kind": "app_usage_report", "client": client, "application": app, "user": cuser}
    return [
        {"kind": "organization", "id": org, "name": f"Org {n}"},
        {"kind": "team", "id": team, "organization": org, "name": "Red"},
        {"kind": "user", "id": user, "organization": org, "email": f"u{n}@org.test", "teams": [team]},
        {"kind": "host", "hostname": own, "country": "DE"},
        {"kind": "host", "hostname": shared, "country": "FR"},
        {"kind": "device", "organization": org, "device_id": f"d{n}", "hostname": own},
        {"kind": "device", "organization": org, "device_id": f"s{n}", "hostname": shared},
        session
        | {
            "id": uid(100 * n + 8),
            "device": f"d{n}@{own}",
            "start_time": "2026-08-01T10:00:00+00:00",
            "end_time": "2026-08-01T11:00:00+00:00",
        },
        session
        | {
            "id": uid(100 * n + 9),
            "device": f"s{n}@{shared}",
            "start_time": "2026-08-10T23:30:00+00:00",
            "end_time": "2026-08-11T00:30:00+00:00",
        },
        {"kind": "client", "id": client, "name": f"Client {n}", "timezone": "UTC"},
        {"kind": "department", "id": dept, "client": client, "name": "Sales"},
        {"kind": "client_user", "id": cuser, "client": client, "email": f"c{n}@client.test", "departments": [dept]},
        {"kind": "application", "id": app, "client": client, "name": "Mail"},
        report | {"activity_date": "2026-08-01", "total_active_ms": 1000 * n, "total_session_count": 1},
        report | {"activity_date": "2026-08-10", "total_active_ms": 2000 * n, "total_session_count": 2},
    ]


@pytest.fixture
def two_tenants(write_file):
    import_files(write_file(tenant(1) + tenant(2)))


def export(*options: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_usage", *options, stdout=out, stderr=io.StringIO())
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def keys(records: list[dict]) -> list[tuple]:
    """What identifies each record, in export order."""
    return [
        (r["kind"], r.get("id") or r.get("hostname") or r.get("device_id") or r.get("activity_date"))
        if r["kind"] != "device"
        else ("device", r["device_id"])
        for r in records
    ]


def test_an_organization_alone_gives_its_device_usage_and_the_hosts_of_its_devices(two_tenants):
    assert keys(export("--organization", uid(101))) == [
        ("organization", uid(101)),
        ("team", uid(102)),
        ("user", uid(103)),
        ("host", "h1.test"),
        ("host", "shared.test"),
        ("device", "d1"),
        ("device", "s1"),
        ("usage_event", uid(108)),
        ("usage_event", uid(109)),
    ]


def test_a_client_alone_gives_its_app_analytics(two_tenants):
    assert keys(export("--client", uid(204))) == [
        ("client", uid(204)),
        ("department", uid(205)),
        ("client_user", uid(206)),
        ("application", uid(207)),
        ("app_usage_report", "2026-08-01"),
        ("app_usage_report", "2026-08-10"),
    ]
    assert {record["client"] for record in export("--client", uid(204))[1:]} == {uid(204)}


def test_an_organization_and_a_client_together(two_tenants):
    records = export("--organization", uid(201), "--client", uid(104))
    assert [kind for kind, _ in keys(records)].count("usage_event") == 2
    assert [kind for kind, _ in keys(records)].count("app_usage_report") == 2
    assert {r["organization"] for r in records if "organization" in r} == {uid(201)}
    assert {r["client"] for r in records if "client" in r} == {uid(104)}
    assert [r["id"] for r in records if r["kind"] in ("organization", "client")] == [uid(201), uid(104)]


def test_since_and_until_narrow_sessions_by_start_and_reports_by_day(two_tenants):
    records = export("--since", "2026-08-05")
    assert [r["id"] for r in records if r["kind"] == "usage_event"] == [uid(109), uid(209)]
    assert [r["activity_date"] for r in records if r["kind"] == "app_usage_report"] == ["2026-08-10"] * 2
    assert sum(r["kind"] == "device" for r in records) == 4  # entities are exported whole
    records = export("--until", "2026-08-10")  # inclusive: the session starting Aug 10 23:30 UTC is in
    assert [r["id"] for r in records if r["kind"] == "usage_event"] == [uid(108), uid(109), uid(208), uid(209)]
    records = export("--until", "2026-08-09")
    assert [r["id"] for r in records if r["kind"] == "usage_event"] == [uid(108), uid(208)]


def test_kind_selects_record_kinds(two_tenants):
    assert keys(export("--kind", "host", "--kind", "client")) == [
        ("host", "h1.test"),
        ("host", "h2.test"),
        ("host", "shared.test"),
        ("client", uid(104)),
        ("client", uid(204)),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--organization", "acme"], "'acme' is not a UUID."),
        (["--since", "2026-8-1"], "--since '2026-8-1' is not a date (YYYY-MM-DD)."),
        (["--since", "2026-08-02", "--until", "2026-08-01"], "--until 2026-08-01 is before --since 2026-08-02."),
        (
            ["--kind", "sessions"],
            "Unknown kind(s): sessions. Kinds: organization, team, user, host, device, "
            "usage_event, client, department, client_user, application, app_usage_report.",
        ),
    ],
)
def test_bad_options_are_refused_with_a_message(options, message):
    with pytest.raises(CommandError) as raised:
        call_command("export_usage", *options, stdout=io.StringIO(), stderr=io.StringIO())
    assert str(raised.value) == message


def org_report(org_id: str) -> list[tuple]:
    bins = make_bins(
        start=datetime(2026, 8, 1, tzinfo=UTC),
        end=datetime(2026, 8, 12, tzinfo=UTC),
        tz=ZoneInfo("UTC"),
        bin_size="day",
    )
    spec = ReportSpec(
        organization_id=org_id,
        bins=bins,
        dimensions=("device",),
        metrics=("total_time", "device_count", "session_count"),
        filters=Filters(),
        display_all=False,
    )
    return list(run_report(spec).rows)


def test_an_organizations_export_imports_into_an_empty_database_with_the_same_reports(two_tenants, write_file):
    before = org_report(uid(201))
    assert before  # the organization has usage to compare
    exported = export("--organization", uid(201))
    for model in reversed(MODELS):
        model.objects.all().delete()
    assert set(row_counts().values()) == {0}
    import_files(write_file(exported))
    assert org_report(uid(201)) == before
    assert export() == exported  # nothing more, nothing less
    assert Organization.objects.count() == 1
