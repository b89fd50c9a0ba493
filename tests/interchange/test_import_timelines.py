"""An import leaves the sessions' stored timelines (usage.timeline) as the sessions it wrote define
them: recomputed once after its last chunk, for new sessions and for updated ones."""

from __future__ import annotations

import io
import uuid

import pytest
from django.db import connection

from core.interchange import Importer, read_lines
from tests.interchange.conftest import ORG, dataset, jsonl

pytestmark = pytest.mark.django_db


def session(n: int, start: str, end: str) -> dict:
    return {
        "kind": "usage_event",
        "id": str(uuid.UUID(int=n)),
        "organization": ORG,
        "device": "tab-1@h1.acme.test",
        "start_time": start,
        "end_time": end,
        "automated": False,
    }


def timelines() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_char(start_time AT TIME ZONE 'UTC', 'HH24:MI'), running_in_org, running_on_device,"
            " to_char(busy_from AT TIME ZONE 'UTC', 'HH24:MI') FROM usage_usageevent"
            " WHERE start_time::date = '2026-09-01' ORDER BY start_time"
        )
        return cursor.fetchall()


def test_an_import_in_chunks_leaves_the_timelines_of_what_it_wrote():
    sessions = [
        session(1, "2026-09-01T10:00:00Z", "2026-09-01T12:00:00Z"),
        session(2, "2026-09-01T10:30:00Z", "2026-09-01T11:00:00Z"),  # inside the first
        session(3, "2026-09-01T11:30:00Z", "2026-09-01T13:00:00Z"),  # overlaps its end
        session(4, "2026-09-01T13:00:00Z", "2026-09-01T14:00:00Z"),  # starts as the third ends
    ]
    # Chunks of two records: the sessions arrive in several chunks, through the writer thread.
    Importer(chunk_rows=2).run(read_lines(io.BytesIO(jsonl([*dataset()[:5], *sessions]))))
    assert timelines() == [
        ("10:00", 1, 1, "10:00"),
        ("10:30", 2, 2, "12:00"),
        ("11:30", 2, 2, "12:00"),
        ("13:00", 1, 1, "13:00"),
    ]

    # Re-imported with the third moved later: updated, and the others around it follow.
    moved = session(3, "2026-09-01T13:30:00Z", "2026-09-01T15:00:00Z")
    Importer(chunk_rows=2).run(read_lines(io.BytesIO(jsonl([*dataset()[:5], *sessions[:2], moved, sessions[3]]))))
    assert timelines() == [
        ("10:00", 1, 1, "10:00"),
        ("10:30", 2, 2, "12:00"),
        ("13:00", 1, 1, "13:00"),
        ("13:30", 2, 2, "14:00"),
    ]
