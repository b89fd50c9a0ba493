"""Import interchange files (JSON Lines, SPEC §10): ``python manage.py import_usage FILE... `` (``-`` = stdin).

Each file is imported in its own transaction, all or nothing. Files are taken in order and the
first bad one stops the command: the files before it stay imported, nothing of it is written.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.interchange import Importer, ImportFailed, read_lines


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


def summary(counts: dict[str, int]) -> str:
    if not counts:
        return "no records"
    return ", ".join(f"{number} {kind}" for kind, number in counts.items())


class Command(BaseCommand):
    help = "Import interchange JSON Lines files (- for standard input); idempotent, all or nothing per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines file, or - for standard input.")

    def handle(self, *args, files: list[str], **options) -> None:
        for name in files:
            label = "<stdin>" if name == "-" else name
            started = time.perf_counter()
            with open_input(name) as stream:
                try:
                    counts = Importer().run(read_lines(stream))
                except ImportFailed as failed:
                    raise CommandError(f"{label}: nothing imported.\n" + "\n".join(failed.lines()))
            seconds = time.perf_counter() - started
            self.stdout.write(f"{label}: imported {summary(counts)} in {seconds:.2f} s.")
