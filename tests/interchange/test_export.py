"""export_usage: exact record shapes, dependency order, and export → import into an empty database → same data."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from django.core.management import call_command

from apps_analytics.models import Application, AppUsageReport, Client, ClientUser, Department
from core import interchange
from tests.interchange.conftest import MODELS, dataset, export_text, import_files, row_counts
from tests.interchange.test_import import stored_state
from usage.models import Device, Host, Organization, Team, UsageEvent, User

pytestmark = pytest.mark.django_db


def test_export_writes_every_kind_with_the_documented_fields(write_file):
    import_files(write_file(dataset()))
    lines = export_text().splitlines()
    records = [orjson.loads(line) for line in lines]
    assert [list(record) for record in records] == [
        ["kind", "id", "name"],
        ["kind", "id", "organization", "name"],
        ["kind", "id", "organization", "email", "name", "notes", "teams"],
        ["kind", "hostname", "country"],
        ["kind", "organization", "device_id", "hostname", "model", "os", "device_type"],
        ["kind", "id", "organization", "device", "user", "team", "start_time", "end_time", "automated"],
        ["kind", "id", "organization", "device", "user", "team", "start_time", "end_time", "automated"],
        ["kind", "id", "name", "timezone"],
        ["kind", "id", "client", "name"],
        ["kind", "id", "client", "email", "departments"],
        ["kind", "id", "client", "name"],
        ["kind", "client", "application", "user", "activity_date", "total_active_ms", "total_session_count"],
    ]
    assert lines[5] == (
        '{"kind":"usage_event","id":"00000000-0000-4000-8000-000000000031",'
        '"organization":"00000000-0000-4000-8000-000000000001","device":"tab-1@h1.acme.test",'
        '"user":"00000000-0000-4000-8000-000000000021","team":"00000000-0000-4000-8000-000000000011",'
        '"start_time":"2026-08-01T08:00:00+00:00","end_time":"2026-08-01T09:30:00+00:00","automated":false}'
    )
    assert records[6]["user"] is None
    # What was imported comes back as it was given, up to normalisation (UTC times, defaults filled in).
    expected = dataset()
    expected[2] |= {"notes": ""}
    expected[4] |= {"model": "", "device_type": ""}
    expected[5] |= {"start_time": "2026-08-01T08:00:00+00:00", "end_time": "2026-08-01T09:30:00+00:00"}
    expected[6] |= {"user": None}
    assert records == expected  # (key order is checked above)


def test_export_to_a_file(tmp_path, write_file):
    import_files(write_file(dataset()))
    target = tmp_path / "out.jsonl"
    err = io.StringIO()
    call_command("export_usage", "--output", str(target), stdout=io.StringIO(), stderr=err)
    assert target.read_text() == export_text()
    assert err.getvalue() == "Exported 12 records.\n"


def awkward_data() -> None:
    """Values that stress the encoding: control characters, unicode, microseconds, offsets, nulls, m2m sets."""
    acme = Organization.objects.create(name="Acme\tCorp \\ «ünïcode»")
    globex = Organization.objects.create(name="Globex")
    red = Team.objects.create(organization=acme, name="Red\nTeam")
    blue = Team.objects.create(organization=acme, name="Blue")
    ann = User.objects.create(organization=acme, email="ann@acme.test", name="Ann", notes="line 1\nline 2\r\n\ttab")
    ann.teams.set([red, blue])
    ben = User.objects.create(organization=globex, email="ben@globex.test")
    host = Host.objects.create(hostname="h1.example", country="de")
    other_host = Host.objects.create(hostname="h2.example")
    tab = Device.objects.create(organization=acme, host=host, device_id="tab@1", model="Tab\\S9", os="android")
    phone = Device.objects.create(organization=globex, host=other_host, device_id="phone-1", device_type="phone")
    start = datetime(2026, 8, 1, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    UsageEvent.objects.create(
        organization=acme, device=tab, user=ann, team=red, start_time=start, end_time=start + timedelta(hours=2)
    )
    UsageEvent.objects.create(
        organization=acme, device=tab, team=blue, start_time=start, end_time=start, automated=True
    )
    UsageEvent.objects.create(
        organization=globex,
        device=phone,
        user=ben,
        start_time=datetime(2022, 7, 1, tzinfo=UTC),
        end_time=datetime(2022, 7, 1, 0, 0, 1, tzinfo=UTC),
    )
    client = Client.objects.create(name="Initech", timezone="America/New_York")
    sales, ops = (
        Department.objects.create(client=client, name="Sales"),
        Department.objects.create(client=client, name="Ops"),
    )
    bob = ClientUser.objects.create(client=client, email="bob@initech.test")
    bob.departments.set([sales, ops])
    eve = ClientUser.objects.create(client=client, email="eve@initech.test")
    mail = Application.objects.create(client=client, name="Mail")
    Application.objects.create(client=client, name="Never used")
    for user, day, ms, sessions in ((bob, 1, 0, 0), (bob, 2, 2**40, 7), (eve, 1, 5, 1)):
        AppUsageReport.objects.create(
            client=client,
            application=mail,
            user=user,
            activity_date=date(2026, 8, day),
            total_active_ms=ms,
            total_session_count=sessions,
        )


def test_export_then_import_into_an_empty_database_gives_identical_data(write_file, monkeypatch):
    monkeypatch.setattr(interchange, "EXPORT_FETCH", 2)  # rows cross fetch boundaries
    awkward_data()
    exported = export_text()
    before = stored_state()
    counts = row_counts()
    for model in reversed(MODELS):
        model.objects.all().delete()
    assert sum(row_counts().values()) == 0

    import_files(write_file([line.encode() for line in exported.splitlines()]))

    assert row_counts() == counts
    assert stored_state() == before
    assert export_text() == exported
    assert Organization.objects.get(name__startswith="Acme").name == "Acme\tCorp \\ «ünïcode»"
    assert User.objects.get(email="ann@acme.test").notes == "line 1\nline 2\r\n\ttab"
