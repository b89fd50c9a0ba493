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

A report waits (up to REPLICA_MAX_WAIT seconds) for the replica to replay what the primary had
written when it started, so that it never misses a write made before it; a replica that lags longer
or is out of reach is passed over for the primary.

Without ``DATABASE_REPLICA_URL`` there is no ``replica`` alias and every read stays on ``default``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA = "replica"
# Apps whose models report queries read; tenancy (core), auth and sessions are never among them.
REPORT_APPS = frozenset({"usage", "apps_analytics"})

_report_alias: ContextVar[str] = ContextVar("report_alias", default=DEFAULT_DB_ALIAS)
logger = logging.getLogger(__name__)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_max_wait() -> float:
    """Seconds a report waits for the replica to catch up before it reads the primary instead."""
    return float(getattr(settings, "REPLICA_MAX_WAIT", 1.0))


def replica_caught_up() -> bool:
    """Whether the replica has replayed every write the primary had made when this is called.

    A report must never be older than the writes before it (the report cache keys answers by the
    data versions read on the primary just before): the primary's WAL position is read, and the
    replica is polled until it has replayed that far, up to ``replica_max_wait()``. A replica that
    lags longer, or does not answer, is passed over (logged): the report reads the primary.
    """
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (position,) = cursor.fetchone()
        deadline = time.monotonic() + replica_max_wait()
        with connections[REPLICA].cursor() as cursor:
            while True:
                # A server not in recovery (the primary itself, say) has everything.
                cursor.execute(
                    "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, NOT pg_is_in_recovery())", [position]
                )
                if cursor.fetchone()[0]:
                    return True
                if time.monotonic() >= deadline:
                    logger.warning(
                        "The replica lags more than %g s behind %s: reading the primary", replica_max_wait(), position
                    )
                    return False
                time.sleep(0.005)
    except DatabaseError as exc:
        logger.warning("The replica is out of reach (%s): reading the primary", exc)
        return False


@contextmanager
def report_reads() -> Iterator[None]:
    """Reads in the block compute a report: they go to the replica, once it has caught up with the
    primary (``replica_caught_up``), when there is one."""
    alias = REPLICA if replica_configured() and replica_caught_up() else DEFAULT_DB_ALIAS
    token = _report_alias.set(alias)
    try:
        yield
    finally:
        _report_alias.reset(token)


def report_database() -> str:
    """The alias for a report read: the replica inside ``report_reads()`` when it can serve, else default."""
    return _report_alias.get()


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
