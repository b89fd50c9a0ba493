"""Streaming report output: JSON ``{"report": [...]}`` or CSV, row by row.

Rows are plain dicts serialized by orjson in chunks, so memory does not grow with the report.
CSV cells that a spreadsheet would read as a formula are neutralized.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Sequence
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson
from django.http import StreamingHttpResponse

CHUNK_ROWS = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def json_stream(rows: Iterable[dict[str, Any]], *, tail: dict[str, Any] | None = None) -> Iterator[bytes]:
    """``{"report": [rows...], **tail}`` as a byte stream."""
    yield b'{"report":['
    iterator = iter(rows)
    first = True
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        body = orjson.dumps(chunk)[1:-1]
        yield body if first else b"," + body
        first = False
    yield b"]"
    for key, value in (tail or {}).items():
        yield b"," + orjson.dumps(key) + b":" + orjson.dumps(value)
    yield b"}"


def neutralize(value: Any) -> Any:
    """Prefix a quote to text a spreadsheet would run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if value is None:
        return ""
    if isinstance(value, bool):  # as JSON writes it, not Python's True/False
        return "true" if value else "false"
    if isinstance(value, list):
        return neutralize(";".join(str(v) for v in value))
    return value


_PLAIN = frozenset({int, float})  # written as they are: the bulk of a report's cells


def _csv_cells(row: Sequence[Any], checked: Sequence[int]) -> list[Any]:
    cells = list(row)
    for i in checked:
        if type(cells[i]) not in _PLAIN:
            cells[i] = neutralize(cells[i])
    return cells


def csv_stream(rows: Iterable[Sequence[Any]], *, header: Sequence[str], trusted: Collection[str] = ()) -> Iterator[str]:
    """CSV of ``rows`` under ``header``. Cells of ``trusted`` columns (numbers, or text the service
    formats itself, like bin times) are written as they are; every other cell is neutralized."""
    checked = [i for i, name in enumerate(header) if name not in trusted]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # csv quotes a cell only for the characters of its line terminator, so a bare "\r" stayed
    # unquoted and started a new line (and a formula) in a spreadsheet. Rows holding one are
    # written with "\r\n", which quotes them, and their terminator is put back to "\n".
    crlf_writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    iterator = iter(rows)
    while chunk := [_csv_cells(row, checked) for row in islice(iterator, CHUNK_ROWS)]:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(chunk)
        if "\r" in buffer.getvalue():  # rare: write this chunk again, row by row
            buffer.seek(0)
            buffer.truncate()
            for cells in chunk:
                if any(isinstance(c, str) and "\r" in c for c in cells):
                    crlf_writer.writerow(cells)
                    buffer.seek(buffer.tell() - 2)
                    buffer.write("\n")
                    buffer.truncate()
                else:
                    writer.writerow(cells)
        yield buffer.getvalue()


def usage_scopes(organization_id: UUID) -> tuple[str, str]:
    """The data versions (core.versions) a device usage report of the organization depends on."""
    return (f"organization:{organization_id}", "usage")


def report_response(
    rows: Iterable[dict[str, Any]] | Iterable[Sequence[Any]],
    *,
    fields: Sequence[str],
    fmt: str,
    filename: str,
    tail: dict[str, Any] | None = None,
    tuples: bool = False,
    trusted: Collection[str] = (),
) -> StreamingHttpResponse:
    """A streamed JSON or CSV response of report rows: dicts with ``fields`` in order, or with
    ``tuples`` the values of ``fields`` in order. ``trusted`` as for ``csv_stream``."""
    if fmt == "csv":
        values = rows if tuples else map(itemgetter(*fields), rows)
        stream = csv_stream(values, header=fields, trusted=trusted)
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    objects = map(dict, map(partial(zip, fields), rows)) if tuples else rows
    return StreamingHttpResponse(json_stream(objects, tail=tail), content_type="application/json")
