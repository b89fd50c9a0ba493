"""Bounded database work and a database that is down (SPEC §14).

Every statement a request runs is limited by PostgreSQL's ``statement_timeout`` (set on the
connection, see settings). A server-side cursor declared ``WITH HOLD`` outside a transaction
(Django's ``chunked_cursor`` in autocommit, which the reports use) computes its whole result
while the implicit transaction commits, after PostgreSQL has disarmed the statement timer: such a
query would run unbounded. ``time_limit`` guards those with a watchdog that cancels the query
from the client side when the same limit passes.

``classify`` tells the error handlers which database errors are the service's fault (500) and
which mean "unavailable" (503): a query cancelled by the limit, or a database that cannot be
reached or went away.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from enum import Enum
from typing import IO, Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

RETRY_AFTER_SECONDS = 5


def statement_timeout() -> float:
    """The limit in seconds for a request's statements; 0 means none."""
    return float(getattr(settings, "STATEMENT_TIMEOUT", 30))


@contextmanager
def time_limit(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Cancel the statement running on Django's connection ``using`` if the block lasts longer than the limit.

    The cancel is sent under a lock that the block's end also takes, so that it never reaches a
    later statement of the same connection.
    """
    limit = statement_timeout()
    database = connections[using]
    database.ensure_connection()
    raw = database.connection
    if not limit or raw is None:
        yield
        return
    lock = threading.Lock()
    running = True

    def cancel() -> None:
        with lock:
            if running:
                raw.cancel_safe()

    timer = threading.Timer(limit, cancel)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            running = False
        timer.cancel()


# An export up to this size stays in memory; a larger one is spooled to a temporary file.
SPOOL_MEMORY_BYTES = 4 * 2**20
SPOOL_BLOCK_BYTES = 2**18


def copy_out(statement: str, params: dict[str, Any] | None = None, *, using: str = DEFAULT_DB_ALIAS) -> IO[bytes]:
    """The whole output of ``COPY (...) TO STDOUT`` on Django's connection ``using``, in a rewound file.

    The COPY runs to its end here, under the request's limit (``time_limit``; the COPY is one
    statement), so that every failure of the query happens before a response is started and gets
    its status and error envelope: nothing can fail in the database once a 200 is sent. The output
    is spooled (memory up to SPOOL_MEMORY_BYTES, then a temporary file): memory stays flat in the
    row count, and the connection is free again before the client downloads, however slowly (a
    COPY streamed to the client would hold it, and its statement limit, for the whole transfer).
    The statement is logged like any other query (``connection.queries`` when they are recorded).
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned open)
    database = connections[using]
    try:
        with database.cursor() as cursor:
            debug = getattr(cursor, "debug_sql", None)  # CursorDebugWrapper: DEBUG, or a test counting queries
            with (
                time_limit(using),
                debug(statement, params) if debug else nullcontext(),
                database.wrap_database_errors,
                cursor.cursor.copy(statement, params) as copy,
            ):
                buffer = bytearray()  # one row a message: written in blocks, not row by row
                for data in copy:
                    buffer += data
                    if len(buffer) >= SPOOL_BLOCK_BYTES:
                        spool.write(buffer)
                        buffer.clear()
                spool.write(buffer)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


FETCH_ROWS = 5000  # rows of text a fetch of ``select_out``


def select_out(
    statement: str,
    params: dict[str, Any] | None = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
    head: bytes = b"",
    separator: str = "",
) -> IO[bytes]:
    """The text rows of ``statement`` (one column each) joined by ``separator`` after ``head``, in a
    rewound spool as ``copy_out`` makes it, and for the same reasons.

    The rows are read through a server-side cursor inside a transaction (no ``WITH HOLD``, which
    would first store the whole result in the server), planned as a report's cursor is: not in
    parallel, so that sums of floats add up in the order they always did (a parallel plan, which
    ``COPY`` may take, changed their last digits).
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned open)
    try:
        with transaction.atomic(using=using, savepoint=False), time_limit(using):
            cursor = connections[using].chunked_cursor()
            try:
                cursor.execute(statement, params)
                spool.write(head)
                joiner = ""
                while rows := cursor.fetchmany(FETCH_ROWS):
                    spool.write((joiner + separator.join([row[0] for row in rows])).encode())
                    joiner = separator
            finally:
                cursor.close()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


class DatabaseTrouble(Enum):
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"


# SQLSTATE classes of a server that is not there or going away: connection exceptions (08),
# insufficient resources (53: too many connections), operator intervention (57: shutdown,
# cancelled statements), system errors (58); and a statement worth retrying as it is: cancelled on a
# replica by a conflict with replay, or chosen as a deadlock's victim (40001, 40P01).
_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58", "40001", "40P01")


def classify(exc: BaseException) -> DatabaseTrouble | None:
    """Whether ``exc`` is a statement cancelled by the limit, a database out of reach, or neither."""
    if not isinstance(exc, (DatabaseError, psycopg.Error)):
        return None
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return DatabaseTrouble.TIMEOUT
    if isinstance(cause, psycopg.Error):
        state = cause.sqlstate or ""
        if not state or state.startswith(_UNAVAILABLE_CLASSES):
            # No SQLSTATE: the client library lost or could not open the connection.
            return DatabaseTrouble.UNAVAILABLE
        return None
    # Django's own "connection already closed" (InterfaceError without a psycopg cause).
    from django.db import InterfaceError, OperationalError

    return DatabaseTrouble.UNAVAILABLE if isinstance(exc, (InterfaceError, OperationalError)) else None


def trouble_message(trouble: DatabaseTrouble) -> str:
    if trouble is DatabaseTrouble.TIMEOUT:
        return (
            f"The query took longer than the limit of {statement_timeout():g} s and was cancelled. "
            "Narrow the date range, enlarge the bin size, or filter to fewer groups."
        )
    return f"The database is unavailable. Retry in {RETRY_AFTER_SECONDS} seconds."


def install_once(*, name: str, ddl: str, relation: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Run ``ddl`` (functions, triggers: what ``post_migrate`` hooks install) unless the database
    already holds this very text under ``name`` for this very ``relation`` (the table it is about:
    a table dropped and made again, by ``migrate app zero`` say, has lost its triggers and gets them
    again); True when it ran.

    Every ``migrate`` runs the hooks, and replacing a trigger locks its table against writes: a
    deploy would wait behind imports for DDL that changes nothing.
    """
    import hashlib

    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::oid", [relation])
        (oid,) = cursor.fetchone()
        digest = hashlib.sha256(f"{ddl}\n-- on {relation} {oid}".encode()).hexdigest()
        cursor.execute("CREATE TABLE IF NOT EXISTS core_installed (name text PRIMARY KEY, digest text NOT NULL)")
        cursor.execute("SELECT digest FROM core_installed WHERE name = %s", [name])
        if cursor.fetchone() == (digest,):
            return False
        cursor.execute(ddl)
        cursor.execute(
            "INSERT INTO core_installed VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET digest = excluded.digest",
            [name, digest],
        )
    return True
