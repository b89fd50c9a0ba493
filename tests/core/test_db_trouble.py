"""Which database errors a request answers with 503 (retry) rather than 500 (core.db.classify)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError

from core.db import DatabaseTrouble, classify


def django_error(sqlstate_error: type[psycopg.Error]) -> DatabaseError:
    """A Django DatabaseError caused by a psycopg error of that class (as Django wraps them)."""
    wrapped = DatabaseError("wrapped")
    wrapped.__cause__ = sqlstate_error("from the server")
    return wrapped


@pytest.mark.parametrize(
    ("error", "trouble"),
    [
        (psycopg.errors.QueryCanceled, DatabaseTrouble.TIMEOUT),
        (psycopg.errors.AdminShutdown, DatabaseTrouble.UNAVAILABLE),
        (psycopg.errors.TooManyConnections, DatabaseTrouble.UNAVAILABLE),
        # A report cancelled on a replica by a conflict with replay, and a deadlock's victim: retry.
        (psycopg.errors.SerializationFailure, DatabaseTrouble.UNAVAILABLE),
        (psycopg.errors.DeadlockDetected, DatabaseTrouble.UNAVAILABLE),
        # A bug is a bug: 500.
        (psycopg.errors.UndefinedColumn, None),
        (psycopg.errors.DivisionByZero, None),
    ],
)
def test_errors_are_classified_by_their_sqlstate(error, trouble):
    assert classify(django_error(error)) is trouble
