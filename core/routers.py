"""Report reads on a streaming replica (``DATABASE_REPLICA_URL``); everything else on the primary.

A replica lags its primary by a moment, so only reads that may be a moment old go there: the
queries that compute a report or a listing for a caller whose tenancy was already decided. They are
marked by running inside ``report_reads()``. Everything else stays on the primary (``default``):
writes, authentication and sessions, token and tenancy checks, whatever decides freshness (a cache's
data version, a pre-aggregate's state), and ORM reads of the write paths (import, ingestion, admin)
that must see their own writes.

- ORM reads of the report apps' models inside ``report_reads()`` go to the replica (the router).
- Raw SQL picks its connection with ``report_connection()`` (Django's ``connection`` is always
  the primary).

Without ``DATABASE_REPLICA_URL`` there is no ``replica`` alias and every read stays on ``default``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA = "replica"
# Apps whose models report queries read; tenancy (core), auth and sessions are never among them.
REPORT_APPS = frozenset({"usage", "apps_analytics"})

_reading_reports: ContextVar[bool] = ContextVar("reading_reports", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def report_reads() -> Iterator[None]:
    """Reads in the block compute a report: they may go to the replica."""
    token = _reading_reports.set(True)
    try:
        yield
    finally:
        _reading_reports.reset(token)


def report_database() -> str:
    """The alias for a report read: the replica inside ``report_reads()`` when there is one, else default."""
    return REPLICA if _reading_reports.get() and replica_configured() else DEFAULT_DB_ALIAS


def report_connection() -> BaseDatabaseWrapper:
    """The connection for a report's raw SQL (see ``report_database``)."""
    return connections[report_database()]


class ReplicaRouter:
    """Django's router for the two aliases (DATABASE_ROUTERS, set when DATABASE_REPLICA_URL is)."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        if model._meta.app_label in REPORT_APPS:
            return report_database()
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica follows the primary's schema by replication
