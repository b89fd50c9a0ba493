"""Import interchange files (JSON Lines, SPEC §10): ``python manage.py import_usage FILE... `` (``-`` = stdin).

Each file is imported in its own transaction, all or nothing. Files are taken in order and the
first bad one stops the command: the files before it stay imported, nothing of it is written.
On a terminal, progress (records, rate, the line reached) is shown on standard error while a file
is read; the summary of each file counts its new, updated and unchanged records per kind.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from core.interchange import Importer, ImportFailed, read_lines

PROGRESS_EVERY = 0.5  # seconds between two progress lines


@contextmanager
def open_input(name: str):
    if name == "-":
        yield getattr(sys.stdin, "buffer", sys.stdin)
        return
    path = Path(name)
    if not path.is_file():
        raise CommandError(f"{name}: no such file.")
    with path.open("rb") as handle:
        yield handle


def summary(outcome: dict[str, dict[str, int]]) -> str:
    """``usage_event: 6 new, 2 updated, 2 unchanged; ...`` (zero counts left out)."""
    if not outcome:
        return "no records"
    return "; ".join(
        f"{kind}: " + ", ".join(f"{number} {state}" for state, number in states.items() if number)
        for kind, states in outcome.items()
    )


def progress_line(out: OutputWrapper, label: str, started: float) -> Callable[[int, int], None] | None:
    """A progress reporter rewriting one terminal line, or None when ``out`` is not a terminal."""
    if not out.isatty():
        return None
    shown = started

    def report(records: int, line: int) -> None:
        nonlocal shown
        now = time.perf_counter()
        if now - shown >= PROGRESS_EVERY:
            shown = now
            rate = records / (now - started)
            out.write(f"\r{label}: {records:,} records, {rate:,.0f}/s, line {line:,}", ending="")
            out.flush()

    return report


class Command(BaseCommand):
    help = "Import interchange JSON Lines files (- for standard input); idempotent, all or nothing per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines file, or - for standard input.")

    def handle(self, *args, files: list[str], **options) -> None:
        for name in files:
            label = "<stdin>" if name == "-" else name
            started = time.perf_counter()
            progress = progress_line(self.stderr, label, started)
            importer = Importer(progress=progress)
            with open_input(name) as stream:
                try:
                    counts = importer.run(read_lines(stream))
                except ImportFailed as failed:
                    raise CommandError(f"{label}: nothing imported.\n" + "\n".join(failed.lines()))
                finally:
                    if progress is not None:
                        self.stderr.write("\r\033[K", ending="")  # clear the progress line
            seconds = time.perf_counter() - started
            records = sum(counts.values())
            self.stdout.write(
                f"{label}: imported {records} record{'s' if records != 1 else ''} in {seconds:.2f} s: "
                f"{summary(importer.outcome)}."
            )
