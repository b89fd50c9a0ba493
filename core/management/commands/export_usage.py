"""Export stored rows in the interchange format (SPEC §10), streaming.

``python manage.py export_usage [--output FILE] [--organization ID ...] [--client ID ...]
[--since DATE] [--until DATE] [--kind KIND ...]`` writes to standard output by default; the count
of records goes to standard error so that the output stays a clean JSON Lines stream. Without
options it exports everything; the options narrow it (see ``ExportSelection``), and what they
select imports as it is into a database that holds nothing of it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.interchange import ExportSelection, export_lines, kinds

BLOCK_BYTES = 1 << 20


def _uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise CommandError(f"{value!r} is not a UUID.")


def _date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not a date (YYYY-MM-DD).")


class Command(BaseCommand):
    help = "Export data as interchange JSON Lines (every kind, in dependency order), all of it or a selection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")
        parser.add_argument(
            "--organization",
            action="append",
            metavar="ID",
            help="Only this organization's device usage data (repeatable). Leaves the app data out unless --client.",
        )
        parser.add_argument(
            "--client",
            action="append",
            metavar="ID",
            help="Only this client's app analytics data (repeatable). Leaves the device usage out unless "
            "--organization.",
        )
        parser.add_argument("--since", metavar="DATE", help="Sessions starting and reports dated on or after DATE.")
        parser.add_argument("--until", metavar="DATE", help="Sessions starting and reports dated on or before DATE.")
        parser.add_argument(
            "--kind",
            action="append",
            metavar="KIND",
            help="Only records of KIND (repeatable): " + ", ".join(kinds().names()),
        )

    def handle(self, *args, output: str | None, **options) -> None:
        selection = self.selection(options)
        if output in (None, "-"):
            written = self._write_text(self.stdout, selection)
        else:
            try:
                with Path(output).open("wb") as handle:
                    written = 0
                    for line in export_lines(selection):
                        handle.write(line)
                        written += 1
            except OSError as exc:
                raise CommandError(f"{output}: cannot be written ({exc.strerror}).")
        self.stderr.write(f"Exported {written} records.")

    @staticmethod
    def selection(options: dict) -> ExportSelection:
        since, until = _date("since", options["since"]), _date("until", options["until"])
        if since and until and until < since:
            raise CommandError(f"--until {until} is before --since {since}.")
        unknown = sorted(set(options["kind"] or ()) - set(kinds().names()))
        if unknown:
            raise CommandError(f"Unknown kind(s): {', '.join(unknown)}. Kinds: {', '.join(kinds().names())}.")
        organizations, clients = options["organization"] or [], options["client"] or []
        narrowed = bool(organizations or clients)  # naming one kind of tenant leaves the other out
        return ExportSelection(
            organizations=tuple(map(_uuid, organizations)) if narrowed else None,
            clients=tuple(map(_uuid, clients)) if narrowed else None,
            since=since,
            until=until,
            kinds=frozenset(options["kind"]) if options["kind"] else None,
        )

    @staticmethod
    def _write_text(out, selection: ExportSelection) -> int:
        # Writing in blocks keeps the per-line cost of the (text) output wrapper out of the loop.
        block: list[bytes] = []
        size = written = 0
        for line in export_lines(selection):
            block.append(line)
            size += len(line)
            written += 1
            if size >= BLOCK_BYTES:
                out.write(b"".join(block).decode(), ending="")
                block, size = [], 0
        if block:
            out.write(b"".join(block).decode(), ending="")
        out.flush()
        return written
