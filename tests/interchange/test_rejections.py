"""A bad record is reported with its line number and reason, and nothing of the file is written."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from tests.interchange.conftest import (
    APP,
    CUSER,
    EVENT,
    ORG,
    ORG2,
    TEAM,
    TEAM2,
    dataset,
    import_files,
    row_counts,
)

pytestmark = pytest.mark.django_db

UNKNOWN = "is unknown or not yours (neither defined earlier in the input nor stored for this tenant)"

KNOWN = (
    "organization, team, user, host, device, usage_event, client, department, client_user, application, "
    "app_usage_report"
)


def with_change(index: int, **changes) -> list:
    records = dataset()
    records[index] = {**records[index], **changes}
    return records


def without(index: int, field: str) -> list:
    records = dataset()
    records[index] = {key: value for key, value in records[index].items() if key != field}
    return records


def refused(write_file, records: list) -> str:
    path = write_file(records)
    with pytest.raises(CommandError) as error:
        import_files(path)
    assert sum(row_counts().values()) == 0, "nothing of a refused file may be written"
    message = str(error.value)
    assert message.startswith(f"{path}: nothing imported.\n")
    return message.split("\n", 1)[1]


CASES = {
    "end before start": (
        with_change(5, end_time="2026-08-01T07:59:59+00:00"),
        "line 6: usage_event: end_time is before start_time",
    ),
    "unknown kind": (
        [*dataset()[:3], {"kind": "widget", "id": ORG}],
        f"line 4: unknown kind 'widget' (known kinds: {KNOWN})",
    ),
    "no kind": ([{"id": ORG, "name": "x"}], f"line 1: missing field 'kind' (one of {KNOWN})"),
    "missing field": (without(1, "name"), "line 2: team: missing field 'name'"),
    "null required field": (with_change(5, automated=None), "line 6: usage_event: automated must not be null"),
    "unknown field": (
        with_change(0, nmae="typo"),
        "line 1: organization: unknown field(s) 'nmae'; allowed: id, name",
    ),
    "bad uuid": (
        with_change(2, teams=["red"]),
        "line 3: user: teams: 'red' is not a UUID (expected 8-4-4-4-12 hexadecimal digits)",
    ),
    "timestamp without offset": (
        with_change(5, start_time="2026-08-01T10:00:00"),
        "line 6: usage_event: start_time: '2026-08-01T10:00:00' has no UTC offset "
        "(ISO 8601 with offset, e.g. 2026-08-01T09:30:00+00:00)",
    ),
    "not a timestamp": (
        with_change(6, end_time="yesterday"),
        "line 7: usage_event: end_time: 'yesterday' is not an ISO 8601 timestamp with offset "
        "(e.g. 2026-08-01T09:30:00+00:00)",
    ),
    "not a boolean": (with_change(5, automated="no"), "line 6: usage_event: automated: 'no' is not true or false"),
    "bad address": (
        with_change(5, device="tab-1"),
        "line 6: usage_event: device: 'tab-1' is not an address device_id@hostname",
    ),
    "undefined device": (
        with_change(5, device="tab-9@h1.acme.test"),
        f"line 6: usage_event: device 'tab-9@h1.acme.test' {UNKNOWN}",
    ),
    "team defined only later": (
        [
            *dataset()[:2],
            {**dataset()[2], "teams": [TEAM2]},
            {"kind": "team", "id": TEAM2, "organization": ORG, "name": "Blue"},
        ],
        f"line 3: user: teams: team {TEAM2} {UNKNOWN}",
    ),
    "undefined host": (
        [*dataset(), {"kind": "device", "organization": ORG, "device_id": "tab-2", "hostname": "h9.acme.test"}],
        f"line 13: device: hostname h9.acme.test {UNKNOWN}",
    ),
    "session of another organization than its device": (
        [
            *dataset()[:5],
            {"kind": "organization", "id": ORG2, "name": "Globex"},
            {**dataset()[5], "organization": ORG2, "user": None, "team": None},
        ],
        f"line 7: usage_event: device 'tab-1@h1.acme.test' {UNKNOWN}",
    ),
    "user of another organization": (
        [{"kind": "organization", "id": ORG2, "name": "Globex"}, *with_change(5, organization=ORG2)[:6]],
        f"line 7: usage_event: device 'tab-1@h1.acme.test' {UNKNOWN}",
    ),
    "negative report value": (
        with_change(11, total_active_ms=-5),
        "line 12: app_usage_report: total_active_ms: must not be negative (got -5)",
    ),
    "negative session count": (
        with_change(11, total_session_count=-1),
        "line 12: app_usage_report: total_session_count: must not be negative (got -1)",
    ),
    "report of an application of another client": (
        [
            *dataset()[:11],
            {"kind": "client", "id": ORG2, "name": "Other", "timezone": "UTC"},
            {**dataset()[11], "client": ORG2},
        ],
        f"line 13: app_usage_report: application {APP} {UNKNOWN}",
    ),
    "bad date": (
        with_change(11, activity_date="01/08/2026"),
        "line 12: app_usage_report: activity_date: '01/08/2026' is not a date (YYYY-MM-DD)",
    ),
    "bad time zone": (
        with_change(7, timezone="Mars/Olympus"),
        "line 8: client: timezone: 'Mars/Olympus' is not an IANA time zone name (e.g. Europe/Paris)",
    ),
    "bad email": (with_change(2, email="ann"), "line 3: user: email: 'ann' is not an email address"),
    "bad country": (
        with_change(3, country="Germany"),
        "line 4: host: country: 'Germany' is not a two-letter country code (ISO 3166-1 alpha-2)",
    ),
    "name too long": (with_change(0, name="x" * 201), "line 1: organization: name: is longer than 200 characters"),
    "empty name": (with_change(0, name=" "), "line 1: organization: name: must not be empty"),
    "not JSON": (
        [*dataset()[:1], b'{"kind": "team", '],
        "line 2: not valid JSON (unexpected end of data at character 18)",
    ),
    "not an object": ([*dataset()[:1], b"[1, 2]"], "line 2: a record must be a JSON object with a 'kind'"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_bad_record_is_named_and_nothing_is_written(write_file, case):
    records, expected = CASES[case]
    assert refused(write_file, records) == expected


def test_every_bad_record_is_listed_in_file_order(write_file):
    records = dataset()
    records[1] = {**records[1], "organization": ORG2}  # found by the bulk lookup, still reported in line order
    records[2] = {**records[2], "teams": []}
    records[5] = {**records[5], "team": None, "end_time": "2026-08-01T00:00:00+00:00"}
    records[6] = {**records[6], "team": None}
    records.append({"kind": "nope"})
    assert refused(write_file, records).splitlines() == [
        f"line 2: team: organization {ORG2} {UNKNOWN}",
        "line 6: usage_event: end_time is before start_time",
        f"line 13: unknown kind 'nope' (known kinds: {KNOWN})",
    ]


def test_an_import_cannot_move_a_stored_entity_to_another_tenant(write_file):
    import_files(write_file(dataset()))
    before = row_counts()
    moved = [
        {"kind": "organization", "id": ORG2, "name": "Globex"},
        {"kind": "team", "id": TEAM, "organization": ORG2, "name": "Red"},
    ]
    with pytest.raises(CommandError) as error:
        import_files(write_file(moved))
    assert str(error.value).endswith(f"line 2: team: team {TEAM} is not yours: the id is taken")
    assert row_counts() == before


def test_a_session_cannot_overwrite_a_session_of_another_organization(write_file):
    import_files(write_file(dataset()))
    other = [
        {"kind": "organization", "id": ORG2, "name": "Globex"},
        {"kind": "device", "organization": ORG2, "device_id": "tab-2", "hostname": "h1.acme.test"},
        {**dataset()[5], "organization": ORG2, "device": "tab-2@h1.acme.test", "user": None, "team": None},
    ]
    with pytest.raises(CommandError) as error:
        import_files(write_file(other))
    assert str(error.value).endswith(f"line 3: usage_event: usage_event {EVENT} is not yours: the id is taken")


def test_the_same_id_for_another_tenant_on_two_lines(write_file):
    records = [
        *dataset()[:2],
        {"kind": "organization", "id": ORG2, "name": "Globex"},
        {"kind": "team", "id": TEAM, "organization": ORG2, "name": "Red"},
    ]
    assert refused(write_file, records) == (
        f"line 4: team: team {TEAM} was defined on an earlier line for another organization"
    )


def test_a_reference_to_a_stored_entity_of_another_tenant(write_file):
    import_files(write_file(dataset()))
    before = row_counts()
    records = [
        {"kind": "client", "id": ORG2, "name": "Other", "timezone": "UTC"},
        {"kind": "application", "id": TEAM2, "client": ORG2, "name": "Chat"},
        {
            "kind": "app_usage_report",
            "client": ORG2,
            "application": TEAM2,
            "user": CUSER,
            "activity_date": "2026-08-02",
            "total_active_ms": 1,
            "total_session_count": 1,
        },
    ]
    with pytest.raises(CommandError) as error:
        import_files(write_file(records))
    assert str(error.value).endswith(f"line 3: app_usage_report: user {CUSER} {UNKNOWN}")
    assert row_counts() == before


def test_an_earlier_good_file_stays_imported_when_a_later_one_fails(write_file):
    good = write_file(dataset()[:2])
    bad = write_file([{"kind": "team", "id": "x"}])
    with pytest.raises(CommandError):
        import_files(good, bad)
    assert row_counts()["Team"] == 1


def test_a_missing_file():
    with pytest.raises(CommandError) as error:
        import_files("/nonexistent.jsonl")
    assert str(error.value) == "/nonexistent.jsonl: no such file."
