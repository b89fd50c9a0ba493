"""Streaming report output: JSON ``{"report": [...]}`` or CSV, row by row.

Rows are plain dicts serialized by orjson in chunks, so memory does not grow with the report.
CSV cells that a spreadsheet would read as a formula are neutralized.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import IO, Any
from uuid import UUID

import orjson
from django.http import StreamingHttpResponse

from core.db import copy_out, select_out
from core.routers import report_database

CHUNK_ROWS = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COPY_CHUNK_BYTES = 256 * 1024


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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def csv_cell_sql(kinds: Mapping[str, str] = {}, trusted: Collection[str] = ()) -> Callable[[str, str], str]:
    """SQL for a CSV cell of a column, ``cell(name, expression)``, written exactly as ``csv_stream``
    writes the value that the expression reads: PostgreSQL formats the cells (``COPY``), ~20 times
    faster than Python.

    ``kinds`` names the column types other than text: ``boolean`` (written true/false, as JSON does)
    and ``float`` (written as Python writes a float, ``float_text_sql``) and ``plain`` (text that is never empty and
    never starts with a formula character, so that Python's writing leaves it as it is: a UUID, a
    time formatted by the service; its expression is evaluated once). Text cells are neutralized unless
    ``trusted``; an empty text is written as an empty cell, like NULL (COPY would quote it). COPY
    quotes a cell holding a comma, a quote, "\\n" or "\\r", as ``csv_stream`` does.
    """
    prefixes = ", ".join(_sql_text(prefix) for prefix in FORMULA_PREFIXES)
    quote = _sql_text("'")

    def cell(name: str, x: str) -> str:
        kind = kinds.get(name, "text")
        if kind == "boolean":
            return f"CASE {x} WHEN true THEN 'true' WHEN false THEN 'false' END"
        if kind == "float":
            return float_text_sql(x, style="python")
        if kind == "plain":
            return x
        if kind != "text":
            raise ValueError(f"unknown column kind {kind!r}")
        if name in trusted:
            return f"NULLIF({x}, '')"
        return f"CASE WHEN left({x}, 1) IN ({prefixes}) THEN {quote} || {x} ELSE NULLIF({x}, '') END"

    return cell


def float_text_sql(x: str, *, style: str) -> str:
    """SQL writing the float8 expression ``x`` as Python does (``style="python"``: ``repr``, as
    ``csv`` writes it) or as orjson does (``"json"``); NULL stays NULL. ``x`` is evaluated several
    times: pass a column.

    PostgreSQL (``extra_float_digits`` above 0, its default) writes the same shortest round-trip
    digits as both, in another notation: plain digits from 1e-4 to 1e15 (Python and orjson to
    1e16, with ".0" on an integral value), else an exponent of at least two digits and a sign
    (Python's too; orjson writes plain digits from 1e-5 and an exponent as short as it is, with no
    "+" below zero). Reports' values lie in the common range: the others are rewritten from the text.
    """
    special = (
        "CASE f.t WHEN 'NaN' THEN 'nan' WHEN 'Infinity' THEN 'inf' ELSE '-inf' END" if style == "python" else "'null'"
    )
    sixteen = (
        "CASE WHEN length(f.d) <= 16 THEN rpad(f.d, 16, '0') || '.0' ELSE left(f.d, 16) || '.' || substr(f.d, 17) END"
    )
    if style == "python":
        rest = f"WHEN abs({x}) >= 1e15 AND abs({x}) < 1e16 THEN f.sign || {sixteen} ELSE f.t"
    elif style == "json":
        rest = (
            f"WHEN abs({x}) >= 1e15 AND abs({x}) < 1e16 THEN f.sign || {sixteen} "
            f"WHEN abs({x}) >= 1e-5 AND abs({x}) < 1e-4 THEN f.sign || '0.0000' || f.d "
            "ELSE f.sign || f.m || 'e' || CASE WHEN f.e::int > 0 THEN '+' ELSE '' END || f.e::int"
        )
    else:
        raise ValueError(f"unknown float style {style!r}")
    rare = (
        f"(SELECT CASE WHEN f.t IN ('NaN', 'Infinity', '-Infinity') THEN {special} {rest} END "
        "FROM (SELECT a.t, CASE WHEN a.t LIKE '-%%' THEN '-' ELSE '' END AS sign,"
        " split_part(ltrim(a.t, '-'), 'e', 1) AS m,"
        " replace(split_part(ltrim(a.t, '-'), 'e', 1), '.', '') AS d, split_part(a.t, 'e', 2) AS e"
        f" FROM ({_shortest(x)}) a) f)"
    )
    # Integral values first (0 and -0 included): PostgreSQL leaves out the ".0".
    return (
        f"CASE WHEN {x} IS NULL THEN NULL WHEN {x} = trunc({x}) AND abs({x}) < 1e15 THEN ({x})::text || '.0' "
        f"WHEN abs({x}) >= 1e-4 AND abs({x}) < 1e15 THEN ({x})::text ELSE {rare} END"
    )


def _shortest(x: str) -> str:
    """SELECT of ``t``, PostgreSQL's text of the float ``x`` with its shortest digits.

    PostgreSQL's shortest round-trip digits miss one that lies exactly on the edge of the values
    that read back as ``x`` (3.166963014635835e+16 it writes 3.1669630146358352e+16); Python and
    orjson take it. That happens only from 2**51 on, where doubles are integers far apart: there
    the 17 digits are rounded to 16, kept if they read back as ``x``.
    """
    return (
        # (CASE tests in order: the largest doubles' 16 digits would overflow.)
        "SELECT CASE WHEN b.c IS NULL OR (b.e >= 308 AND b.c > 1.7976931348623157) THEN b.t"
        " WHEN (b.c::text || 'e' || b.e)::float8 = abs(b.x)"
        " THEN CASE WHEN b.x < 0 THEN '-' ELSE '' END || rtrim(rtrim(b.c::text, '0'), '.')"
        " || 'e' || CASE WHEN b.e < 0 THEN '-' ELSE '+' END"
        " || lpad(abs(b.e)::text, 2, '0') ELSE b.t END AS t"
        " FROM (SELECT a.x, a.t, CASE WHEN r.c >= 10 THEN round(r.c / 10, 15) ELSE r.c END AS c,"
        " a.e + (r.c >= 10)::int AS e"
        " FROM (SELECT y.x, y.t, split_part(y.t, 'e', 2)::int AS e, split_part(ltrim(y.t, '-'), 'e', 1) AS m"
        f" FROM (SELECT ({x}) AS x, ({x})::text AS t) y) a,"
        " LATERAL (SELECT CASE WHEN abs(a.x) >= 1e15 AND a.t LIKE '%%e%%' AND length(replace(a.m, '.', '')) = 17"
        " THEN round(a.m::numeric, 15) END AS c) r) b"
    )


def json_value_sql(x: str, *, kind: str) -> str:
    """SQL writing the value of ``x`` as orjson does, ``null`` for NULL: ``kind`` is ``float``
    (float8), ``integer``, ``text`` (escaped as orjson escapes: PostgreSQL's JSON escapes are the same)
    or ``json`` (a JSON text already)."""
    if kind == "float":
        return f"coalesce({float_text_sql(x, style='json')}, 'null')"
    if kind == "integer":
        return f"coalesce(({x})::text, 'null')"
    if kind == "text":
        return f"coalesce(to_json(({x})::text)::text, 'null')"
    if kind == "json":  # already a JSON text
        return f"coalesce({x}, 'null')"
    raise ValueError(f"unknown JSON kind {kind!r}")


def json_object_sql(members: Sequence[tuple[str, str]]) -> str:
    """SQL of a JSON object's text, ``{"name": value, ...}`` as orjson writes a dict: ``members`` are
    the names and the SQL of their JSON texts (``json_value_sql``), never NULL."""
    parts = []
    for i, (name, value) in enumerate(members):
        prefix = ("{" if i == 0 else ",") + orjson.dumps(name).decode() + ":"
        parts += [_sql_text(prefix).replace("%", "%%"), value]
    return "(" + " || ".join([*parts, "'}'"]) + ")"


def json_rows_response(
    select: str, params: dict[str, Any], *, tail: dict[str, Any] | None = None
) -> StreamingHttpResponse:
    """``{"report": [objects...], **tail}`` of the one-column rows of ``select``, each the text of a
    JSON object (``json_object_sql``): read whole before the response starts (``core.db.select_out``),
    then streamed from the spool."""
    spool = select_out(select, params, using=report_database(), head=b'{"report":[', separator=",")
    spool.seek(0, io.SEEK_END)
    members = b"".join(b"," + orjson.dumps(key) + b":" + orjson.dumps(value) for key, value in (tail or {}).items())
    spool.write(b"]" + members + b"}")
    spool.seek(0)
    return StreamingHttpResponse(_spooled(spool), content_type="application/json")


def csv_rows_response(
    select: str, params: dict[str, Any], *, header: Sequence[str], filename: str
) -> StreamingHttpResponse:
    """The CSV of the rows of ``select``, each a line ``csv_line_sql`` writes, under ``header``
    (names that need no quotes), read and streamed as ``json_rows_response``'s."""
    spool = select_out(select, params, using=report_database(), head=(",".join(header) + "\n").encode())
    response = StreamingHttpResponse(_spooled(spool), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def csv_quoted_sql(cell: str) -> str:
    """SQL of a cell (``csv_cell_sql``) as written into a CSV line: quoted when it holds a comma, a
    quote, "\\n" or "\\r", as ``csv_stream`` (and ``COPY``) quote it. ``cell`` is evaluated up to
    three times: use it where it is computed once per group (``build_report_sql``'s ``labels_as``)."""
    return f"""CASE WHEN {cell} ~ '[,"\\r\\n]' THEN '"' || replace({cell}, '"', '""') || '"' ELSE {cell} END"""


def csv_line_sql(cells: Sequence[str]) -> str:
    """SQL of a CSV line, with its newline, of cells written as they are (numbers, times, or
    ``csv_quoted_sql``'s); NULL is an empty cell."""
    return " || ',' || ".join(f"coalesce(({cell})::text, '')" for cell in cells) + " || E'\\n'"


def _spooled(spool: IO[bytes]) -> Iterator[bytes]:
    """The spool's bytes in chunks; closed at the end (or when the response is closed early)."""
    try:
        while chunk := spool.read(COPY_CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


def csv_copy_statement(select: str) -> str:
    """``COPY`` of a query's rows to the client as CSV under a header of its column names."""
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)"


def csv_copy_response(statement: str, params: dict[str, Any], *, filename: str) -> StreamingHttpResponse:
    """The CSV that ``statement`` (see ``csv_copy_statement``) writes, streamed as an attachment.

    The COPY runs to its end before the response starts (``core.db.copy_out``): a query past the
    limit or a database out of reach gets its status and error envelope, and no database failure
    can cut a 200 short; the body then streams from the spooled output in chunks.
    """
    spool = copy_out(statement, params, using=report_database())
    response = StreamingHttpResponse(_spooled(spool), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


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
