"""Listing device sessions (``/v2/usage/event``; the v0 events route builds on it too).

Sessions that overlap the range, in start order, with keyset pagination on (start_time, id):
a page costs the same whatever its depth. Inside ``core.routers.report_reads()`` the listing reads
the replica when one is configured. Times leave PostgreSQL as text (the page key included),
so that a stored timestamp Python's datetime cannot hold (a year before 1 or after 9999, written
before imports refused them) never breaks a listing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson

from core.db import time_limit
from core.errors import InvalidParameter
from core.routers import report_connection
from usage.reporting import Filters, filter_conditions

EVENT_FIELDS = [
    "id",
    "device_address",
    "device_id",
    "hostname",
    "user_id",
    "user_email",
    "team_id",
    "team_name",
    "automated",
    "start_time",
    "end_time",
    "duration",
]
# The columns that are not free text (for CSV cells written by PostgreSQL, usage.api.output.csv_cell_sql):
# UUIDs and the service's own times are never empty and never start with a formula character.
EVENT_KINDS = {
    **dict.fromkeys(["id", "user_id", "team_id", "start_time", "end_time"], "plain"),
    "automated": "boolean",
    "duration": "float",
}
_LOCAL = "to_char({col} AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI:SS')"
_COLUMNS = {
    "id": "e.id::text",
    "device_address": "d.device_id || '@' || h.hostname",
    "device_id": "d.device_id",
    "hostname": "h.hostname",
    "user_id": "e.user_id::text",
    "user_email": "u.email",
    "user_name": "u.name",
    "team_id": "e.team_id::text",
    "team_name": "t.name",
    "automated": "e.automated",
    "start_time": _LOCAL.format(col="e.start_time"),
    "end_time": _LOCAL.format(col="e.end_time"),
    "duration": "date_part('epoch', e.end_time - e.start_time)",
    "date": "to_char(e.start_time AT TIME ZONE %(tz)s, 'YYYYMMDD')",
}


@dataclass(frozen=True)
class EventQuery:
    organization_id: UUID
    start: datetime
    end: datetime
    tz: ZoneInfo
    filters: Filters = field(default_factory=Filters)


def events_sql(
    query: EventQuery,
    *,
    columns: list[str],
    after: tuple[str, str] | None = None,
    keys: bool = True,
    cell: Callable[[str, str], str] | None = None,
) -> tuple[str, dict]:
    """SQL listing the sessions overlapping the range; with ``keys``, the last two columns are the page key.
    ``cell(name, expression)`` rewrites each column's expression (CSV cells written by PostgreSQL)."""
    conditions, _, params = filter_conditions(query.filters)
    params.update(org=query.organization_id, rs=query.start, re=query.end, tz=str(query.tz))
    # A zero-length session counts when it starts inside the range.
    where = [
        "e.organization_id = %(org)s",
        "e.start_time < %(re)s",
        "(e.end_time > %(rs)s OR e.start_time >= %(rs)s)",
        *conditions,
    ]
    if after is not None:
        where.append("(e.start_time, e.id) > (%(after_start)s::timestamptz, %(after_id)s::uuid)")
        params.update(after_start=after[0], after_id=after[1])
    key_columns = ["e.start_time::text AS key_start", "e.id::text AS key_id"] if keys else []
    select = ", ".join([*(f"{_COLUMNS[c]} AS {c}" for c in columns), *key_columns])
    sql = f"""
        SELECT {select}
        FROM usage_usageevent e
        JOIN usage_device d ON d.id = e.device_id
        JOIN usage_host h ON h.id = d.host_id
        LEFT JOIN usage_user u ON u.id = e.user_id AND u.organization_id = %(org)s
        LEFT JOIN usage_team t ON t.id = e.team_id AND t.organization_id = %(org)s
        WHERE {" AND ".join(where)}
        ORDER BY e.start_time, e.id"""
    if cell is not None:
        # Each value is computed once below and its cell made above; a subquery with ORDER BY is
        # not pulled up into the outer query, so its order is the output's.
        cells = ", ".join(f"{cell(c, 'r.' + c)} AS {c}" for c in columns)
        sql = f"SELECT {cells} FROM ({sql}) AS r"
    return sql, params


# PostgreSQL's text of a timestamptz (ISO DateStyle), years beyond Python's included.
_PG_INSTANT = re.compile(r"\d{4,5}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d){0,2}( BC)?")


def encode_cursor(start: str, event_id: str) -> str:
    """``start`` is the session start as PostgreSQL writes it."""
    return base64.urlsafe_b64encode(orjson.dumps([start, event_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        start, event_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # UUID() of a JSON number raises AttributeError, not ValueError: check the types first.
        if not isinstance(start, str) or not isinstance(event_id, str):
            raise TypeError("cursor values must be strings")
        if not _PG_INSTANT.fullmatch(start):
            start = datetime.fromisoformat(start).isoformat()  # a cursor of an earlier version
            if datetime.fromisoformat(start).tzinfo is None:
                raise ValueError("no offset")
        return start, str(UUID(event_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidParameter(
            "cursor is not valid: pass the next_cursor value of the previous page unchanged", {"cursor": cursor}
        )


def event_page(query: EventQuery, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of sessions and the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor) if cursor else None
    sql, params = events_sql(query, columns=EVENT_FIELDS, after=after)
    database = report_connection()
    with database.cursor() as db, time_limit(database.alias):
        db.execute(sql + " LIMIT %(limit)s", {**params, "limit": limit + 1})
        rows = db.fetchall()
    next_cursor = encode_cursor(rows[limit - 1][-2], rows[limit - 1][-1]) if len(rows) > limit else None
    return [dict(zip(EVENT_FIELDS, row, strict=False)) for row in rows[:limit]], next_cursor


def event_rows(
    query: EventQuery, *, columns: list[str] = EVENT_FIELDS, chunk_size: int = 5000
) -> Iterator[dict[str, Any]]:
    """Every session of the range as dicts, fetched in chunks from a server-side cursor."""
    sql, params = events_sql(query, columns=columns, keys=False)
    database = report_connection()
    db = database.chunked_cursor()
    with time_limit(database.alias):
        db.execute(sql, params)
        first = db.fetchmany(chunk_size)

    def rows() -> Iterator[dict[str, Any]]:
        try:
            chunk = first
            while chunk:
                for row in chunk:
                    yield dict(zip(columns, row, strict=False))
                chunk = db.fetchmany(chunk_size)
        finally:
            db.close()

    return rows()
