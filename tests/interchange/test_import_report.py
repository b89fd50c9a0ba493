"""import_usage's report: new, updated and unchanged records per kind, and progress on a terminal."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from core.management.commands import import_usage
from tests.interchange.conftest import ORG, TEAM, TEAM2, dataset, import_files

pytestmark = pytest.mark.django_db


def outcome(output: str) -> str:
    return re.sub(r" in [0-9.]+ s:", " in _ s:", output.strip())


def test_a_second_import_counts_new_updated_and_unchanged_records(write_file):
    records = dataset()
    import_files(write_file(records))
    again = dataset()
    again[1] = again[1] | {"name": "Crimson"}  # team renamed: updated
    user = again[2]
    extra_team = {"kind": "team", "id": TEAM2, "organization": ORG, "name": "Blue"}  # new
    again[2] = user | {"teams": [TEAM, TEAM2]}  # only its links change: updated
    again[5] = again[5] | {"end_time": "2026-08-01T10:00:00+00:00"}  # session updated
    new_session = again[6] | {"id": "00000000-0000-4000-8000-000000000033"}
    output = import_files(write_file([*again[:2], extra_team, *again[2:7], new_session, again[6], *again[7:]]))
    assert outcome(output).endswith(
        " imported 15 records in _ s: organization: 1 unchanged; team: 1 new, 1 updated; user: 1 updated; "
        "host: 1 unchanged; device: 1 unchanged; usage_event: 1 new, 1 updated, 2 unchanged; client: 1 unchanged; "
        "department: 1 unchanged; client_user: 1 unchanged; application: 1 unchanged; app_usage_report: 1 unchanged."
    )


def test_reimporting_the_same_file_changes_nothing_and_says_so(write_file):
    path = write_file(dataset())
    import_files(path)
    assert outcome(import_files(path)) == (
        f"{path}: imported 12 records in _ s: organization: 1 unchanged; team: 1 unchanged; user: 1 unchanged; "
        "host: 1 unchanged; device: 1 unchanged; usage_event: 2 unchanged; client: 1 unchanged; "
        "department: 1 unchanged; client_user: 1 unchanged; application: 1 unchanged; app_usage_report: 1 unchanged."
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def sessions_file(write_file, count: int) -> str:
    records = dataset()[:5]
    session = dataset()[5]
    for n in range(count):
        records.append(session | {"id": f"00000000-0000-4000-9000-{n:012d}"})
    return write_file(records)


def test_progress_is_shown_on_a_terminal(write_file, monkeypatch):
    monkeypatch.setattr(import_usage, "PROGRESS_EVERY", 0)
    path = sessions_file(write_file, 6000)
    err, out = Terminal(), io.StringIO()
    call_command("import_usage", path, stdout=out, stderr=err)
    shown = err.getvalue()
    assert re.search(rf"\r{re.escape(path)}: 5,000 records, [0-9,]+/s, line 5,000", shown), shown
    assert shown.endswith("\r\033[K")  # the progress line is cleared before the summary
    assert "usage_event: 6000 new." in out.getvalue()


def test_nothing_extra_when_the_output_is_not_a_terminal(write_file, monkeypatch):
    monkeypatch.setattr(import_usage, "PROGRESS_EVERY", 0)
    err = io.StringIO()
    call_command("import_usage", sessions_file(write_file, 6000), stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""
