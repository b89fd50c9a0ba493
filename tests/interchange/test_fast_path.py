"""The session shortcut of the importer (UsageEventKind.shortcut) and the direct COPY of new sessions.

The shortcut must accept only sessions the general checks accept, with the same chunk item; anything
else is left to the general checks, which name the problem. The writer copies new sessions straight
into the table, sorted, with their device ids looked up: what is stored must be what was given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.interchange import UNRESTRICTED, Importer, References, WriteScope, export_lines, kinds, read_lines
from core.management.commands.bench_import import generate
from tests.interchange.conftest import EVENT, ORG, ORG2, TEAM, TEAM2, USER, dataset, import_files
from usage.models import UsageEvent

USER2 = "00000000-0000-4000-8000-000000000022"  # a user of ORG2
STORED_USER = "00000000-0000-4000-8000-000000000023"  # a user of ORG found stored by an earlier lookup
UPPER = "ABCDEF00-0000-4000-8000-000000000031"  # a valid id that the general checks lowercase
SESSION = kinds().get("usage_event")


def entities() -> list[dict[str, Any]]:
    """ORG's entities of the dataset, a second organization with its own user, team and device on the same host."""
    return [
        *dataset()[:5],
        {"kind": "organization", "id": ORG2, "name": "Globex"},
        {"kind": "team", "id": TEAM2, "organization": ORG2, "name": "Blue"},
        {"kind": "user", "id": USER2, "organization": ORG2, "email": "cy@globex.test"},
        {"kind": "device", "organization": ORG2, "device_id": "tab-2", "hostname": "h1.acme.test"},
    ]


def session(**changes: Any) -> dict[str, Any]:
    record = {
        "kind": "usage_event",
        "id": EVENT,
        "organization": ORG,
        "device": "tab-1@h1.acme.test",
        "user": USER,
        "team": TEAM,
        "start_time": "2026-08-01T08:00:00+00:00",
        "end_time": "2026-08-01T09:00:00+00:00",
        "automated": False,
    }
    return {**record, **changes}


def checked_state() -> References:
    """References after checking the entities and one session on each device (which remembers the addresses)."""
    importer, refs = Importer(), References()
    firsts = [session(), session(organization=ORG2, device="tab-2@h1.acme.test", user=USER2, team=TEAM2)]
    for position, record in enumerate([*entities(), *firsts], 1):
        assert type(importer._check(position, record, refs)) is tuple
    refs.stored["user"][STORED_USER] = ORG
    refs.take_pending()
    return refs


def both_ways(record: dict[str, Any], scope: WriteScope = UNRESTRICTED) -> tuple[Any, Any, References]:
    """(shortcut item or None, outcome of the general checks, their References). The shortcut has first
    taken a plain session of each organization, so that what it remembers is used too."""
    importer = Importer(scope=scope)
    shortcut = SESSION.shortcut(checked_state(), importer.allowed["usage_event"])
    shortcut(session(), 1)
    shortcut(session(organization=ORG2, device="tab-2@h1.acme.test", user=USER2, team=TEAM2), 2)
    fast = shortcut(record, 99)
    refs = checked_state()
    outcome = importer._check(99, record, refs)  # no shortcuts: the general checks
    return fast, outcome, refs


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"user": None, "team": None},
        {"user": STORED_USER, "automated": True},
        {"start_time": "2026-08-01T10:00:00+02:00", "end_time": "2026-08-01T08:00:00.250000+00:00"},
        {"start_time": "2026-08-01 08:00:00Z", "end_time": "20260801T090000+0000"},
    ],
)
def test_plain_sessions_take_the_shortcut_to_the_same_item(changes):
    fast, outcome, refs = both_ways(session(**changes))
    assert fast is not None
    assert outcome == ("usage_event", fast)
    assert refs.pending == []


@pytest.mark.parametrize(
    "changes",
    [
        {"id": UPPER},  # valid, lowercased by the general checks
        {"start_time": "2026-08-01T08:00:00"},  # no offset
        {"device": "tab-9@h1.acme.test"},  # not seen before: the general checks parse it
        {"user": "00000000-0000-4000-8000-000000000029"},  # unknown: looked up by the general checks
        {"end_time": "2026-08-01T07:00:00+00:00"},
        {"organization": ORG2},
        {"user": USER2},
        {"automated": 0},
        {"extra": 1},
    ],
)
def test_anything_else_is_left_to_the_general_checks(changes):
    assert both_ways(session(**changes))[0] is None


def test_a_session_outside_the_allowed_organizations_is_left_to_the_general_checks():
    fast, outcome, _ = both_ways(session(), WriteScope(organizations=frozenset([ORG2])))
    assert fast is None
    assert outcome.message == f"this token may not write into organization {ORG}"


UUIDS = [EVENT, UPPER, UPPER.lower(), EVENT.replace("-", ""), "{" + EVENT + "}", "red", "", 5, None, [EVENT], {"a": 1}]
TIMES = [
    "2026-08-01T08:00:00+00:00",
    "2026-08-01T09:00:00+00:00",
    "2026-08-01T10:00:00+02:00",
    "2026-08-01T07:00:00-01:00",
    "2026-08-01T08:00:00Z",
    "2026-08-01T08:00:00.5+00:00",
    "2026-08-01T08:00:00.1234567+00:00",
    "2026-08-01 08:00:00+00:00",
    "20260801T080000Z",
    "2026-08-01T08:00:00",
    "2026-08-01",
    "yesterday",
    "",
    1754035200,
    None,
]
CANDIDATES = {
    "id": UUIDS,
    "organization": [ORG, ORG2, UPPER, "red", None, 1, [ORG]],
    "device": ["tab-1@h1.acme.test", "tab-2@h1.acme.test", "tab-9@h1.acme.test", "tab-1", "@", " ", "", 7, None, ["x"]],
    "user": [USER, USER2, STORED_USER, UPPER, TEAM, "red", None, 1, [USER]],
    "team": [TEAM, TEAM2, UPPER, USER, "red", None, 1, [TEAM]],
    "start_time": TIMES,
    "end_time": TIMES,
    "automated": [True, False, 0, 1, "true", None, [True]],
}


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    changed=st.sets(st.sampled_from(sorted(CANDIDATES)), max_size=2),
    shape=st.sampled_from(["nine fields"] * 4 + ["one absent", "one more"]),
    allowed=st.sampled_from([None, frozenset([ORG]), frozenset([ORG2])]),
)
def test_the_shortcut_agrees_with_the_general_checks(data, changed, shape, allowed):
    record = session(**{name: data.draw(st.sampled_from(CANDIDATES[name]), label=name) for name in sorted(changed)})
    if shape == "one absent":  # never the kind: the shortcut is only asked about a kind found
        del record[data.draw(st.sampled_from(sorted(CANDIDATES)), label="absent")]
    elif shape == "one more":
        record["extra"] = 1
    fast, outcome, refs = both_ways(record, WriteScope(organizations=allowed))
    event("shortcut" if fast is not None else "general checks")
    if fast is not None:
        assert outcome == ("usage_event", fast)
        assert refs.pending == []


@pytest.mark.django_db
def test_sessions_copied_straight_in_are_stored_as_given(tmp_path):
    path = tmp_path / "bench.jsonl"
    generate(path, sessions=300)
    given = sorted(
        (record for line in path.read_bytes().splitlines() if (record := orjson.loads(line))["kind"] == "usage_event"),
        key=lambda record: record["id"],
    )
    Importer(chunk_rows=70).run(read_lines(path.open("rb")))  # several chunks, written by the writer thread
    exported = [record for line in export_lines() if (record := orjson.loads(line))["kind"] == "usage_event"]
    assert exported == given
    # Importing again finds every key stored: the direct COPY gives way to the upsert, which changes nothing.
    Importer(chunk_rows=70).run(read_lines(path.open("rb")))
    again = [record for line in export_lines() if (record := orjson.loads(line))["kind"] == "usage_event"]
    assert again == given
    assert UsageEvent.objects.count() == 300


@pytest.mark.django_db
def test_times_are_stored_as_the_checks_read_them(write_file):
    # Digits below the microsecond are dropped, as Python reads them (PostgreSQL would round the
    # start up past the end, after the end >= start check passed).
    records = dataset()[:6]
    records[5] = {
        **records[5],
        "start_time": "2026-08-01T08:00:00.9999995+00:00",
        "end_time": "2026-08-01T08:00:00.999999+00:00",
    }
    import_files(write_file(records))
    event = UsageEvent.objects.get(pk=EVENT)
    assert event.start_time == event.end_time == datetime(2026, 8, 1, 8, 0, 0, 999999, tzinfo=UTC)


def test_an_entity_found_stored_is_checked_again_each_time():
    # A stored user may be defined by a later record for another organization (refused when written,
    # with an error for each session that refers to it under the old one): nothing stale is used.
    refs = checked_state()
    shortcut = SESSION.shortcut(refs, None)
    assert shortcut(session(user=STORED_USER), 1) is not None
    refs.define("user", STORED_USER, ORG2, "organization")
    assert shortcut(session(user=STORED_USER), 2) is None
    assert Importer()._check(2, session(user=STORED_USER), refs).message == (
        f"user {STORED_USER} is unknown or not yours (neither defined earlier in the input nor stored for this tenant)"
    )
