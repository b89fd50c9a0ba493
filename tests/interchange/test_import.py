"""import_usage: what a good file stores, idempotency, standard input, chunked (threaded) writing."""

from __future__ import annotations

import io
import sys
from datetime import UTC, date, datetime

import pytest
from django.db.models import F

from apps_analytics.models import Application, AppUsageReport, Client, ClientUser, Department
from core.interchange import Importer, read_lines
from core.management.commands.bench_import import generate
from tests.interchange.conftest import (
    APP,
    CLIENT,
    CUSER,
    DEPT,
    EVENT,
    EVENT2,
    ORG,
    TEAM,
    TEAM2,
    USER,
    dataset,
    import_files,
    jsonl,
    row_counts,
)
from usage.models import Device, Host, Organization, Team, UsageEvent, User

pytestmark = pytest.mark.django_db


def stored_state() -> dict:
    """Every stored row, as plain values (serial keys replaced by natural ones)."""
    return {
        "organizations": list(Organization.objects.order_by("id").values_list("id", "name")),
        "teams": list(Team.objects.order_by("id").values_list("id", "organization_id", "name")),
        "users": [
            (u.id, u.organization_id, u.email, u.name, u.notes, sorted(t.id for t in u.teams.all()))
            for u in User.objects.order_by("id")
        ],
        "hosts": list(Host.objects.values_list("hostname", "country")),
        "devices": list(
            Device.objects.order_by("host__hostname", "device_id").values_list(
                "organization_id", "device_id", "host__hostname", "model", "os", "device_type"
            )
        ),
        "events": list(
            UsageEvent.objects.order_by("id").values_list(
                "id",
                "organization_id",
                "device__device_id",
                "user_id",
                "team_id",
                "start_time",
                "end_time",
                "automated",
            )
        ),
        "clients": list(Client.objects.order_by("id").values_list("id", "name", "timezone")),
        "departments": list(Department.objects.order_by("id").values_list("id", "client_id", "name")),
        "client_users": [
            (u.id, u.client_id, u.email, sorted(d.id for d in u.departments.all()))
            for u in ClientUser.objects.order_by("id")
        ],
        "applications": list(Application.objects.order_by("id").values_list("id", "client_id", "name")),
        "reports": list(
            AppUsageReport.objects.order_by("application_id", "user_id", "activity_date").values_list(
                "client_id", "application_id", "user_id", "activity_date", "total_active_ms", "total_session_count"
            )
        ),
    }


def as_uuid(text: str):
    import uuid

    return uuid.UUID(text)


def test_a_file_of_every_kind_is_stored(write_file):
    output = import_files(path := write_file(dataset()))
    assert output.startswith(f"{path}: imported 12 records in ")
    assert output.endswith(
        " s: organization: 1 new; team: 1 new; user: 1 new; host: 1 new; device: 1 new; usage_event: 2 new; "
        "client: 1 new; department: 1 new; client_user: 1 new; application: 1 new; app_usage_report: 1 new.\n"
    )
    state = stored_state()
    assert state == {
        "organizations": [(as_uuid(ORG), "Acme")],
        "teams": [(as_uuid(TEAM), as_uuid(ORG), "Red")],
        "users": [(as_uuid(USER), as_uuid(ORG), "ann@acme.test", "Ann", "", [as_uuid(TEAM)])],
        "hosts": [("h1.acme.test", "DE")],
        "devices": [(as_uuid(ORG), "tab-1", "h1.acme.test", "", "android", "")],
        "events": [
            (
                as_uuid(EVENT),
                as_uuid(ORG),
                "tab-1",
                as_uuid(USER),
                as_uuid(TEAM),
                datetime(2026, 8, 1, 8, 0, tzinfo=UTC),  # 10:00+02:00
                datetime(2026, 8, 1, 9, 30, tzinfo=UTC),
                False,
            ),
            (
                as_uuid(EVENT2),
                as_uuid(ORG),
                "tab-1",
                None,
                as_uuid(TEAM),
                datetime(2026, 8, 1, 23, 30, tzinfo=UTC),
                datetime(2026, 8, 2, 1, 30, tzinfo=UTC),
                True,
            ),
        ],
        "clients": [(as_uuid(CLIENT), "Initech", "Europe/Paris")],
        "departments": [(as_uuid(DEPT), as_uuid(CLIENT), "Sales")],
        "client_users": [(as_uuid(CUSER), as_uuid(CLIENT), "bob@initech.test", [as_uuid(DEPT)])],
        "applications": [(as_uuid(APP), as_uuid(CLIENT), "Mail")],
        "reports": [(as_uuid(CLIENT), as_uuid(APP), as_uuid(CUSER), date(2026, 8, 1), 60000, 3)],
    }


def test_importing_twice_changes_nothing(write_file):
    path = write_file(dataset())
    import_files(path)
    before = stored_state()
    import_files(path)
    assert stored_state() == before
    assert row_counts() == {
        "Organization": 1,
        "Team": 1,
        "User": 1,
        "Host": 1,
        "Device": 1,
        "UsageEvent": 2,
        "Client": 1,
        "Department": 1,
        "ClientUser": 1,
        "Application": 1,
        "AppUsageReport": 1,
    }


def test_a_record_whose_key_exists_updates_it(write_file):
    import_files(write_file(dataset()))
    changed = dataset()
    changed[0]["name"] = "Acme Corp"
    changed.insert(2, {"kind": "team", "id": TEAM2, "organization": ORG, "name": "Blue"})
    changed[3] |= {"teams": [TEAM2], "notes": "moved to Blue"}  # the user: memberships replaced
    changed[4]["country"] = "FR"  # host
    changed[5] |= {"model": "Tab S9", "os": "ios"}  # device, keyed by its address
    changed[6] |= {"end_time": "2026-08-01T10:00:00+00:00", "team": None, "automated": True}
    changed[-1] |= {"total_active_ms": 1, "total_session_count": 0}  # keyed by application, user, date
    import_files(write_file(changed))

    state = stored_state()
    assert state["organizations"] == [(as_uuid(ORG), "Acme Corp")]
    assert state["users"] == [(as_uuid(USER), as_uuid(ORG), "ann@acme.test", "Ann", "moved to Blue", [as_uuid(TEAM2)])]
    assert state["hosts"] == [("h1.acme.test", "FR")]
    assert state["devices"] == [(as_uuid(ORG), "tab-1", "h1.acme.test", "Tab S9", "ios", "")]
    assert state["events"][0][4:] == (
        None,
        datetime(2026, 8, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 8, 1, 10, 0, tzinfo=UTC),
        True,
    )
    assert state["reports"] == [(as_uuid(CLIENT), as_uuid(APP), as_uuid(CUSER), date(2026, 8, 1), 1, 0)]
    assert Device.objects.count() == 1 and AppUsageReport.objects.count() == 1


def test_absent_optional_fields_take_their_defaults(write_file):
    import_files(write_file(dataset()))
    records = dataset()
    records[2] = {"kind": "user", "id": USER, "organization": ORG, "email": "ann@acme.test"}
    import_files(write_file(records))
    assert stored_state()["users"] == [(as_uuid(USER), as_uuid(ORG), "ann@acme.test", "", "", [])]


def test_the_last_record_of_a_key_wins_within_one_file(write_file):
    records = dataset()
    records.append({**records[0], "name": "Renamed"})
    records.append({**records[-2], "total_active_ms": 5})
    import_files(write_file(records))
    assert Organization.objects.get().name == "Renamed"
    assert AppUsageReport.objects.get().total_active_ms == 5


def test_records_may_refer_to_stored_entities(write_file):
    records = dataset()
    import_files(write_file(records[:5]))
    import_files(write_file(records[5:]))
    assert UsageEvent.objects.count() == 2 and AppUsageReport.objects.count() == 1


def test_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jsonl(dataset()))))
    output = import_files("-")
    assert output.startswith("<stdin>: imported 12 records in ")
    assert UsageEvent.objects.count() == 2


def test_blank_lines_are_skipped_and_line_numbers_count_them(write_file):
    records = dataset()
    path = write_file([b"", *records[:1], b"   ", *records[1:]])
    import_files(path)
    assert Team.objects.count() == 1


def test_chunks_written_by_the_writer_thread_see_earlier_chunks():
    # A chunk of 2 records: devices, users and teams are written chunks before the sessions using them.
    counts = Importer(chunk_rows=2).run(read_lines(io.BytesIO(jsonl(dataset()))))
    assert counts["usage_event"] == 2
    assert stored_state()["events"][1][2:5] == ("tab-1", None, as_uuid(TEAM))


def test_a_bad_record_in_a_late_chunk_writes_nothing():
    records = [*dataset(), {"kind": "team", "id": TEAM2, "organization": ORG}]
    with pytest.raises(Exception) as failure:
        Importer(chunk_rows=2).run(read_lines(io.BytesIO(jsonl(records))))
    assert str(failure.value) == "line 13: team: missing field 'name'"
    assert sum(row_counts().values()) == 0


def test_the_benchmark_generator_writes_an_importable_file(tmp_path):
    path = tmp_path / "bench.jsonl"
    generate(path, sessions=40)
    import_files(str(path))
    assert UsageEvent.objects.count() == 40
    assert not UsageEvent.objects.exclude(organization_id=F("device__organization_id")).exists()


@pytest.mark.parametrize(
    "written",
    [
        "2026-08-01T08:00:00Z",
        "2026-08-01T10:00:00+02:00",
        "2026-08-01T10:00:00+0200",
        "2026-08-01 10:00:00+02:00",
        "20260801T080000Z",
        "2026-08-01T08:00:00.000000+00:00",
        "2026-08-01T03:00-05:00",
        "2026-08-01T13:30:00+05:30",
    ],
)
def test_every_iso_8601_form_with_an_offset_is_the_same_instant(write_file, written):
    records = dataset()
    records[5] = {**records[5], "start_time": written, "end_time": written}
    import_files(write_file(records))
    event = UsageEvent.objects.get(pk=EVENT)
    assert event.start_time == event.end_time == datetime(2026, 8, 1, 8, 0, tzinfo=UTC)


def test_fractions_of_a_second_are_kept(write_file):
    records = dataset()
    records[5] = {**records[5], "start_time": "2026-08-01T08:00:00.123456+00:00", "end_time": "2026-08-01T09:00:00.5Z"}
    import_files(write_file(records))
    event = UsageEvent.objects.get(pk=EVENT)
    assert (event.start_time.microsecond, event.end_time.microsecond) == (123456, 500000)


def test_a_chunk_mixing_new_and_stored_keys_is_upserted(write_file):
    # The writer first tries a plain INSERT (all new), falls back to an upsert when a key exists.
    records = dataset()
    import_files(write_file(records[:6]))  # the first session is stored
    changed = {**records[5], "automated": True}
    Importer(chunk_rows=1000).run(read_lines(io.BytesIO(jsonl([*records[:5], records[6], changed]))))
    assert UsageEvent.objects.count() == 2
    assert UsageEvent.objects.get(pk=EVENT).automated is True
