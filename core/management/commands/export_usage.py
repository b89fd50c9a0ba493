"""Export every stored row in the interchange format (SPEC §10), streaming.

``python manage.py export_usage [--output FILE]`` writes to standard output by default; the count
of records goes to standard error so that the output stays a clean JSON Lines stream.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.interchange import export_lines

BLOCK_BYTES = 1 << 20


class Command(BaseCommand):
    help = "Export all data as interchange JSON Lines (every kind, in dependency order)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")

    def handle(self, *args, output: str | None, **options) -> None:
        if output in (None, "-"):
            written = self._write_text(self.stdout)
        else:
            try:
                with Path(output).open("wb") as handle:
                    written = 0
                    for line in export_lines():
                        handle.write(line)
                        written += 1
            except OSError as exc:
                raise CommandError(f"{output}: cannot be written ({exc.strerror}).")
        self.stderr.write(f"Exported {written} records.")

    @staticmethod
    def _write_text(out) -> int:
        # Writing in blocks keeps the per-line cost of the (text) output wrapper out of the loop.
        block: list[bytes] = []
        size = written = 0
        for line in export_lines():
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
