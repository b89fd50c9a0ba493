"""Benchmark the app analytics endpoints end to end on a large generated client.

    python manage.py bench_apps [--users 1000] [--apps 200] [--rows 10000000] [--keep]

It creates its own throwaway database on the same PostgreSQL server (``bench_apps`` by default)
the way the test runner does (``connection.creation.create_test_db``: the default connection is
pointed at it and migrations run), generates one client with N users, M apps and about R report
rows over one year with ``generate_series`` (in SQL, in one transaction), then times the endpoints
through the API (Django's test client with a real bearer token of a granted, non-staff user):
wall time and the PostgreSQL backend's CPU (its parallel workers' not included). The answers are
computed for every request (the report cache is a dummy cache while timing), unless ``--cached``
asks for the time of a cached answer.
The database is dropped at the end unless ``--keep`` is given; a kept database is reused by the
next ``--keep`` run when it holds the same sizes, which skips the generation.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client as TestClient
from django.test.utils import override_settings

from apps_analytics import rollup
from apps_analytics.models import Application, AppUsageReport, Client, ClientGrant, ClientUser, Department
from core.management.commands.bench_import import backend_cpu_seconds
from core.models import ApiToken

YEAR_START = date(2025, 1, 1)
YEAR_END = date(2025, 12, 31)
DEPARTMENTS = 10
# Each app is used by one user in USERS_PER_APP_STRIDE; each such user is active on a random share of the days.
USERS_PER_APP_STRIDE = 4
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"


@contextmanager
def bulk_load(table: str) -> Iterator[None]:
    """PostgreSQL's advice for populating a table: drop its indexes and foreign keys, load, rebuild them.

    Rebuilding an index and validating a foreign key once is much faster than maintaining them
    (and queueing a deferred foreign key check) for each of millions of rows. Run inside a transaction.
    """
    with connection.cursor() as cursor:
        # Deferred checks of rows inserted earlier in the transaction would forbid ALTER TABLE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


class Command(BaseCommand):
    help = "Generate a large client in a throwaway database and time the app analytics endpoints through the API."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database-name", default="bench_apps", help="Name of the throwaway database.")
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument("--apps", type=int, default=200)
        parser.add_argument("--rows", type=int, default=10_000_000, help="Approximate number of report rows.")
        parser.add_argument("--repeat", type=int, default=5, help="Timed requests per endpoint (after one warm-up).")
        parser.add_argument("--keep", action="store_true", help="Keep the database, and reuse a kept one.")
        parser.add_argument(
            "--cached", action="store_true", help="Time cached answers (by default every answer is computed)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["users"] < USERS_PER_APP_STRIDE or options["apps"] < 1 or options["rows"] < 1:
            raise CommandError("--users must be at least 4, --apps and --rows at least 1.")
        connection.settings_dict["TEST"] = {
            **connection.settings_dict.get("TEST", {}),
            "NAME": options["database_name"],
        }
        old_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False, keepdb=options["keep"]
        )
        try:
            client = self._client(users=options["users"], apps=options["apps"], rows=options["rows"])
            self._time_endpoints(client, repeat=options["repeat"], cached=options["cached"])
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=options["keep"])

    def _client(self, *, users: int, apps: int, rows: int) -> Client:
        name = f"Bench client {users} users {apps} apps {rows} rows"
        existing = Client.objects.filter(name=name).first()
        if existing is not None:
            self.stdout.write(f"Reusing {name}: {AppUsageReport.objects.count():,} report rows.")
            return existing
        Client.objects.all().delete()
        started = time.perf_counter()
        with transaction.atomic():
            client = Client.objects.create(name=name, timezone="Europe/Paris")
            self._generate(client, users=users, apps=apps, rows=rows)
        with connection.cursor() as cursor:
            # Every generated table and the summaries (kept by triggers: apps_analytics.rollup), as autovacuum
            # would: a department's members estimated at 7 of 133 (no statistics) can plan a report's scan
            # of the report rows once per member.
            tables = (
                *(model._meta.db_table for model in (Department, ClientUser, Application, AppUsageReport)),
                ClientUser.departments.through._meta.db_table,
                rollup.DAYS,
                rollup.USER_YEARS,
                rollup.USER_MONTHS,
            )
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
        count = AppUsageReport.objects.count()
        self.stdout.write(f"Generated {count:,} report rows in {time.perf_counter() - started:.1f} s.")
        return client

    def _generate(self, client: Client, *, users: int, apps: int, rows: int) -> None:
        days = (YEAR_END - YEAR_START).days + 1
        candidates = apps * (users // USERS_PER_APP_STRIDE) * days
        share = min(1.0, rows / candidates)
        params = {"client": client.id, "users": users, "apps": apps, "departments": DEPARTMENTS}
        memberships = ClientUser.departments.through._meta.db_table
        statements = [
            f"""INSERT INTO {Department._meta.db_table} (id, client_id, name)
                SELECT gen_random_uuid(), %(client)s, 'Department ' || n FROM generate_series(1, %(departments)s) n""",
            f"""INSERT INTO {ClientUser._meta.db_table} (id, client_id, email)
                SELECT gen_random_uuid(), %(client)s, 'user' || lpad(n::text, 6, '0') || '@bench.example'
                FROM generate_series(1, %(users)s) n""",
            f"""INSERT INTO {Application._meta.db_table} (id, client_id, name)
                SELECT gen_random_uuid(), %(client)s, 'App ' || lpad(n::text, 4, '0')
                FROM generate_series(1, %(apps)s) n""",
            # Every user is in one department, every third user in a second one too.
            f"""WITH u AS (SELECT id, row_number() OVER (ORDER BY email) AS n FROM {ClientUser._meta.db_table}
                           WHERE client_id = %(client)s),
                     d AS (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM {Department._meta.db_table}
                           WHERE client_id = %(client)s)
                INSERT INTO {memberships} (clientuser_id, department_id)
                SELECT u.id, d.id FROM u JOIN d ON d.n = u.n %% %(departments)s
                   OR (u.n %% 3 = 0 AND d.n = (u.n * 7 + 1) %% %(departments)s AND d.n <> u.n %% %(departments)s)""",
            f"""WITH u AS (SELECT id, row_number() OVER (ORDER BY email) AS n FROM {ClientUser._meta.db_table}
                           WHERE client_id = %(client)s),
                     a AS (SELECT id, row_number() OVER (ORDER BY name) AS n FROM {Application._meta.db_table}
                           WHERE client_id = %(client)s)
                INSERT INTO {AppUsageReport._meta.db_table}
                    (client_id, application_id, user_id, activity_date, total_active_ms, total_session_count)
                SELECT %(client)s, a.id, u.id, day::date,
                       (60000 + random() * 14340000)::bigint, 1 + (random() * 19)::int
                FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS day
                CROSS JOIN a JOIN u ON (u.n + a.n) %% {USERS_PER_APP_STRIDE} = 0
                WHERE random() < %(share)s""",
        ]
        params.update(start=YEAR_START, end=YEAR_END, share=share)
        *setup, load = statements
        with connection.cursor() as cursor:
            for sql in setup:
                cursor.execute(sql, params)
        with bulk_load(AppUsageReport._meta.db_table), connection.cursor() as cursor:
            cursor.execute(load, params)

    def _time_endpoints(self, client: Client, *, repeat: int, cached: bool) -> None:
        user, _ = get_user_model().objects.get_or_create(username="bench")
        ClientGrant.objects.get_or_create(user=user, client=client)
        _, raw = ApiToken.issue(user=user, name="bench")
        http = TestClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
        app = Application.objects.filter(client=client).order_by("name").first()
        department = Department.objects.filter(client=client).order_by("name").first()
        base = f"/v2/clients/{client.id}"
        year = f"start_date={YEAR_START}&end_date={YEAR_END}"
        halves = "start_date=2025-07-01&end_date=2025-12-31&compare_start_date=2025-01-01&compare_end_date=2025-06-30"
        cases = [
            ("detail, 1 year, monthly", f"{base}/analytics/apps/{app.id}/utilization?granularity=monthly&{year}"),
            ("detail, 1 year, daily", f"{base}/analytics/apps/{app.id}/utilization?granularity=daily&{year}"),
            ("detail, H2 vs H1, weekly", f"{base}/analytics/apps/{app.id}/utilization?granularity=weekly&{halves}"),
            (
                "detail, 1 year, monthly, 1 department",
                f"{base}/analytics/apps/{app.id}/utilization?granularity=monthly&{year}&department_ids={department.id}",
            ),
            ("list, 1 year, monthly", f"{base}/analytics/apps/utilization?granularity=monthly&{year}"),
            (
                "list, 1 year, monthly, by -active_time_ms",
                f"{base}/analytics/apps/utilization?granularity=monthly&{year}&ordering=-active_time_ms",
            ),
            ("list, H2 vs H1, quarterly", f"{base}/analytics/apps/utilization?granularity=quarterly&{halves}"),
            (
                "list, 1 year, monthly, 1 department",
                f"{base}/analytics/apps/utilization?granularity=monthly&{year}&department_ids={department.id}",
            ),
            ("activity, 1 year, user-count", f"{base}/analytics/apps/{app.id}/activity?metric=user-count&{year}"),
            ("users of one app, 1 year", f"{base}/analytics/apps/{app.id}/utilization/users?{year}"),
        ]
        self.stdout.write("Cached answers." if cached else "Every answer computed (the report cache is off).")
        self.stdout.write(f"{'endpoint':<45} {'min ms':>9} {'median ms':>10} {'max ms':>9} {'CPU ms':>8}")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        reports_cache = settings.CACHES["reports"] if cached else {"BACKEND": DUMMY_CACHE}
        with override_settings(CACHES={**settings.CACHES, "reports": reports_cache}):
            for label, url in cases:
                timings = self._time(http, url, repeat=repeat, pid=pid)
                walls = [wall for wall, _ in timings]
                cpu = statistics.median(cpu for _, cpu in timings)
                self.stdout.write(
                    f"{label:<45} {min(walls):>9.1f} {statistics.median(walls):>10.1f} {max(walls):>9.1f} {cpu:>8.0f}"
                )

    def _time(self, http: TestClient, url: str, *, repeat: int, pid: int) -> list[tuple[float, float]]:
        """(wall ms, backend CPU ms) of each request but the first."""
        timings = []
        for attempt in range(repeat + 1):
            cpu_before, started = backend_cpu_seconds(pid), time.perf_counter()
            # secure=True: production settings redirect plain HTTP to HTTPS.
            response = http.get(url, secure=True)
            elapsed, cpu_after = (time.perf_counter() - started) * 1000, backend_cpu_seconds(pid)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}: {response.content[:500]!r}")
            if attempt:  # the first request warms caches and is not counted
                timings.append((elapsed, ((cpu_after or 0.0) - (cpu_before or 0.0)) * 1000))
        return timings
