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

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import Enum
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

RETRY_AFTER_SECONDS = 5
logger = logging.getLogger(__name__)


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


COPY_CHUNK_BYTES = 256 * 1024


class CopyStream:
    """The output of ``COPY (...) TO STDOUT`` on Django's connection ``using``, in chunks of about
    ``chunk_bytes`` (whole rows), read as it is iterated: memory stays flat in the row count.

    Made in the view, it starts the COPY and waits for its first row (after the ``header`` line, which
    the server sends before it runs the query) under the request's limit
    (``time_limit``), so that a query past the limit, a bad query or a database out of reach fails
    before a response is started and gets its status and error envelope. The limit keeps running
    while the rows stream (the COPY is one statement: its reading and its sending). A failure after
    that (the limit, the database going away) cannot become an error status any more, since the
    200 and its headers are sent: it is logged and raised from the iteration, so that the server
    aborts the response and the client sees a transfer cut short (chunked encoding without its end)
    rather than a complete-looking file. ``close`` (the response's, also when a client goes away)
    ends the COPY and frees the connection. The statement is logged like any other query
    (``connection.queries`` when they are recorded).

    While it streams, the COPY holds its connection (psycopg's lock): nothing else may use that
    connection until the response is closed. A report read goes to the replica when there is one;
    on the primary, the only query Django's middleware could make after the view, a session save,
    is not made by a listing (it modifies no session).
    """

    def __init__(
        self,
        statement: str,
        params: dict[str, Any] | None = None,
        *,
        using: str = DEFAULT_DB_ALIAS,
        header: bool = False,
        chunk_bytes: int | None = None,
    ) -> None:
        self.database = connections[using]
        self.chunk_bytes = chunk_bytes or COPY_CHUNK_BYTES
        self._stack = ExitStack()
        with self.database.wrap_database_errors:
            try:
                cursor = self._stack.enter_context(self.database.cursor())
                self._stack.enter_context(time_limit(using))
                if debug := getattr(cursor, "debug_sql", None):  # CursorDebugWrapper: DEBUG, or counting queries
                    self._stack.enter_context(debug(statement, params))
                self._copy = self._stack.enter_context(cursor.cursor.copy(statement, params))
                # The server sends a header before it runs the query: the first row is the one after it.
                self._first = b"".join(bytes(self._copy.read()) for _ in range(2 if header else 1))
            except BaseException:
                if not self._stack.__exit__(*sys.exc_info()):
                    raise
        self._chunks = self._generate()

    def _generate(self) -> Iterator[bytes]:
        try:
            with self._stack, self.database.wrap_database_errors:
                buffer = bytearray(self._first)
                for data in self._copy:
                    buffer += data
                    if len(buffer) >= self.chunk_bytes:
                        yield bytes(buffer)
                        buffer.clear()
                if buffer:
                    yield bytes(buffer)
        except Exception:
            logger.exception("A COPY stream failed after its response started: the response is cut short")
            raise

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        self._chunks.close()
        self._stack.close()


class DatabaseTrouble(Enum):
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"


# SQLSTATE classes of a server that is not there or going away: connection exceptions (08),
# insufficient resources (53: too many connections), operator intervention (57: shutdown,
# cancelled statements), system errors (58).
_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")


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
