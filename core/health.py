"""Health endpoints for load balancers and orchestrators (SPEC §14); no token, no tenant data.

- ``GET /healthz``: the process answers (liveness; touches nothing else).
- ``GET /readyz``: the database answers and every migration is applied (readiness); 503 otherwise.
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from core.db import RETRY_AFTER_SECONDS
from core.errors import json_error

_migrated = False  # once found applied, they stay applied for the life of the process


def pending_migrations() -> list[str]:
    """The migrations the database still lacks, as ``app.name``."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    global _migrated
    unavailable = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrated:
            pending = pending_migrations()
            if pending:
                return json_error(
                    503,
                    f"{len(pending)} database migration(s) are not applied: run `manage.py migrate`.",
                    {"pending_migrations": pending},
                    headers=unavailable,
                )
            _migrated = True
    except DatabaseError:
        return json_error(503, "The database is unavailable.", headers=unavailable)
    return JsonResponse({"status": "ready"})
