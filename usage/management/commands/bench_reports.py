"""Benchmark the device usage reports end to end through the API, on generated data.

    python manage.py bench_reports --sessions 1000000

Generates realistic sessions (500 devices up to 1M sessions and 500 more per further million, so
5,000 at 10M; on 25 hosts, 200 users, 20 teams, one year, log-normal durations around 10 minutes, a
few multi-day sessions) into its own database (``--database``, default ``usage_bench``, created on
the configured server and reused if it already holds the same number of sessions; ``--regenerate``
after changing ``--shuffled``), stored in time order as they
arrive (``--shuffled``: in random order), then times reports through the API with a real token:
JSON end to end (until the last byte), and CSV streamed with the peak Python memory meanwhile.
``REPORT_CACHE_MAX_BYTES=0`` in the environment times the reports themselves, never a cached answer.

``--metrics peak_concurrency,utilization`` times each report instead twice, back to back: as it is
and with ``metrics=...`` (SPEC §11), in wall time and PostgreSQL backend CPU, and their ratios.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

import orjson
import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from psycopg import sql

from core.management.commands.bench_import import backend_cpu_seconds
from core.models import ApiToken
from usage.api.v2 import GROUPINGS
from usage.models import Organization, OrganizationMembership, UsageEvent
from usage.reporting import unsupported_metrics

# (label, query string) of the timed reports; the first is the issue's reference report.
REPORTS = [
    (
        "device/day, 1 year, LA",
        "/v2/usage/device?start_date=2025-01-01&end_date=2025-12-31&bin_size=day&timezone=America/Los_Angeles",
    ),
    (
        "org/day, 1 year, LA",
        "/v2/usage?start_date=2025-01-01&end_date=2025-12-31&bin_size=day&timezone=America/Los_Angeles",
    ),
    (
        "org/hour, 1 year, Kolkata",
        "/v2/usage?start_date=2025-01-01&end_date=2025-12-31&bin_size=hour&timezone=Asia/Kolkata",
    ),
    ("team/week, 1 year", "/v2/usage/team?start_date=2025-01-01&end_date=2025-12-31&bin_size=week"),
    ("device_user/month, 1 year", "/v2/usage/device_user?start_date=2025-01-01&end_date=2025-12-31&bin_size=month"),
    (
        "user/day display_all, 1 year",
        "/v2/usage/user?start_date=2025-01-01&end_date=2025-12-31&bin_size=day&display_all=true",
    ),
    (
        "device/day, 1 month, filtered 2 teams",
        "/v2/usage/device?start_date=2025-06-01&end_date=2025-06-30&bin_size=day",
    ),
    ("event page (1000), 1 month", "/v2/usage/event?start_date=2025-06-01&end_date=2025-06-30"),
    # The JSON is a page of 1000; the CSV every session of the year (COPY, see usage.api.output).
    (
        "event page (1000) / CSV (all), 1 year, LA",
        "/v2/usage/event?start_date=2025-01-01&end_date=2025-12-31&timezone=America/Los_Angeles",
    ),
    # Issue 11's slow shapes: many groups per bin, display_all's cross joins, and short fixed bins.
    ("device/hour, 1 year", "/v2/usage/device?start_date=2025-01-01&end_date=2025-12-31&bin_size=hour"),
    ("host/hour, 1 year", "/v2/usage/host?start_date=2025-01-01&end_date=2025-12-31&bin_size=hour"),
    (
        "device_user/month display_all, 1 year",
        "/v2/usage/device_user?start_date=2025-01-01&end_date=2025-12-31&bin_size=month&display_all=true",
    ),
    (
        "team/day display_all, 1 year",
        "/v2/usage/team?start_date=2025-01-01&end_date=2025-12-31&bin_size=day&display_all=true",
    ),
    ("org/600 s, 1 year", "/v2/usage?start_date=2025-01-01&end_date=2025-12-31&bin_size=600"),
    ("org/60 s, 1 month", "/v2/usage?start_date=2025-06-01&end_date=2025-06-30&bin_size=60"),
]

GENERATE_SQL = """
INSERT INTO usage_host (hostname, country)
SELECT 'host-' || i || '.bench.example', (ARRAY['US', 'GB', 'DE', 'JP', 'IN'])[1 + i %% 5]
FROM generate_series(1, 25) AS i;

INSERT INTO usage_device (organization_id, host_id, device_id, model, os, device_type)
SELECT %(org)s, h.id, 'dev' || lpad(i::text, %(width)s, '0'),
       (ARRAY['Pixel 8', 'iPhone 15', 'Galaxy S24', 'iPad Air'])[1 + i %% 4],
       (ARRAY['android', 'ios', 'android', 'ios'])[1 + i %% 4],
       (ARRAY['phone', 'phone', 'phone', 'tablet'])[1 + i %% 4]
FROM generate_series(1, %(devices)s) AS i
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM usage_host) h ON h.n = 1 + i %% 25;

INSERT INTO usage_team (id, organization_id, name)
SELECT gen_random_uuid(), %(org)s, 'Team ' || lpad(i::text, 2, '0') FROM generate_series(1, 20) AS i;

INSERT INTO usage_user (id, organization_id, email, name, notes)
SELECT gen_random_uuid(), %(org)s, 'user' || i || '@bench.example', 'User ' || i, ''
FROM generate_series(1, 200) AS i;

INSERT INTO usage_user_teams (user_id, team_id)
SELECT u.id, t.id
FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM usage_user) u
JOIN (SELECT id, row_number() OVER (ORDER BY name) AS n FROM usage_team) t ON t.n = 1 + u.n %% 20;

-- Log-normal durations (Box-Muller), median 10 minutes; one in a thousand lasts 1-4 days.
INSERT INTO usage_usageevent (id, organization_id, device_id, user_id, team_id, start_time, end_time, automated)
SELECT gen_random_uuid(), %(org)s,
       ids.devices[1 + floor(random() * %(devices)s)::int],
       CASE WHEN r.kind < 0.05 THEN NULL ELSE ids.users[1 + floor(random() * 200)::int] END,
       CASE WHEN r.kind > 0.97 THEN NULL ELSE ids.teams[1 + floor(random() * 20)::int] END,
       r.start_time,
       r.start_time + CASE
           WHEN r.kind BETWEEN 0.5 AND 0.501 THEN interval '1 day' * (1 + random() * 3)
           ELSE make_interval(secs => least(6 * 3600, exp(ln(600) + 0.9 * sqrt(-2 * ln(1 - random()))
                                                           * cos(2 * pi() * random()))))
       END,
       random() < 0.3
FROM (SELECT timestamptz '2025-01-01 00:00:00+00' + random() * interval '365 days' AS start_time,
             random() AS kind
      FROM generate_series(1, %(sessions)s)) AS r,
     (SELECT (SELECT array_agg(id ORDER BY id) FROM usage_device) AS devices,
             (SELECT array_agg(id ORDER BY id) FROM usage_user) AS users,
             (SELECT array_agg(id ORDER BY id) FROM usage_team) AS teams) AS ids
-- Stored in the order sessions arrive in (by time), as an import of the day's sessions stores them;
-- --shuffled stores them in random order instead (a worst case for the reports' hash tables). Not by
-- random(): PostgreSQL would reuse that sort key's value for every random() of the row.
ORDER BY CASE WHEN %(shuffled)s THEN md5(r.start_time::text) END, r.start_time;
"""


def bench_devices(sessions: int) -> int:
    """500 devices up to a million sessions, then 500 more per million (issue 11: 5,000 at 10M), so
    that each device keeps about 2,000 sessions a year."""
    return max(500, sessions // 2000)


def _grouping(url: str) -> tuple[str, ...]:
    """The dimensions of a timed report's route (``/v2/usage/<grouping>?...``)."""
    path = url.split("?")[0].removeprefix("/v2/usage").strip("/")
    return tuple(GROUPINGS[path or "org"])


class Command(BaseCommand):
    help = "Generate sessions into a benchmark database and time the usage reports through the API."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sessions", type=int, default=1_000_000)
        parser.add_argument("--database", default="usage_bench", help="Database to create on the configured server.")
        parser.add_argument("--repeat", type=int, default=3, help="Runs per report (the median is shown).")
        parser.add_argument("--regenerate", action="store_true", help="Drop and regenerate the data.")
        parser.add_argument("--only", default="", help="Run only the reports whose label contains this text.")
        parser.add_argument(
            "--shuffled", action="store_true", help="Store generated sessions in random order, not by time."
        )
        parser.add_argument("--metrics", default="", help="Compare each report with and without metrics=...")

    def handle(
        self,
        *args,
        sessions: int,
        database: str,
        repeat: int,
        regenerate: bool,
        only: str,
        shuffled: bool,
        metrics: str,
        **options,
    ) -> None:
        self.use_database(database, recreate=regenerate)
        call_command("migrate", verbosity=0)
        if UsageEvent.objects.count() != sessions:
            self.generate(sessions, shuffled=shuffled)
        token = self.token()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.stdout.write(f"{sessions:,} sessions in database {database!r}; median of {repeat} runs\n")
        if metrics:
            self.compare_metrics(client, metrics, repeat=repeat, only=only)
            return
        self.stdout.write(f"{'report':42} {'rows':>8} {'JSON s':>8} {'PG CPU s':>9} {'CSV s':>8} {'CSV peak MiB':>13}")
        pid = self.backend_pid()
        for label, url in REPORTS:
            if only not in label:
                continue
            if "filtered" in label:
                url += "&filter_team_name=Team%2001&filter_team_name=Team%2002"
            body, json_s, cpu_s = self.timed(repeat, lambda u=url: self.fetch_json(client, u), pid=pid)
            rows = len(orjson.loads(body)["report"])  # parsed after timing: the client's cost, not the API's
            with_csv = "event page" not in label or "CSV" in label
            csv_s, peak = self.fetch_csv(client, url) if with_csv else (float("nan"), float("nan"))
            self.stdout.write(f"{label:42} {rows:>8,} {json_s:>8.3f} {cpu_s:>9.2f} {csv_s:>8.3f} {peak:>13.2f}")

    def compare_metrics(self, client: Client, metrics: str, *, repeat: int, only: str) -> None:
        """Each report plain, then with ``metrics``, alternately: wall and backend CPU seconds."""
        self.stdout.write(f"metrics={metrics}\n")
        self.stdout.write(
            f"{'report':42} {'rows':>8} {'wall s':>8} {'+m wall':>8} {'ratio':>6} "
            f"{'CPU s':>7} {'+m CPU':>7} {'ratio':>6}"
        )
        pid = self.backend_pid()
        for label, url in REPORTS:
            if only not in label or "event page" in label:
                continue
            if unsupported := unsupported_metrics(metrics.split(","), _grouping(url)):
                self.stdout.write(f"{label:42} (not for this grouping: {', '.join(unsupported)})")
                continue
            runs: dict[str, list[tuple[float, float]]] = {"plain": [], "metrics": []}
            for _ in range(repeat):
                for kind, target in (("plain", url), ("metrics", f"{url}&metrics={metrics}")):
                    cpu_before, started = backend_cpu_seconds(pid), time.perf_counter()
                    body = self.fetch_json(client, target)
                    wall, cpu_after = time.perf_counter() - started, backend_cpu_seconds(pid)
                    runs[kind].append((wall, (cpu_after or 0.0) - (cpu_before or 0.0)))
            rows = len(orjson.loads(body)["report"])
            (wall, cpu), (m_wall, m_cpu) = (
                (statistics.median(w for w, _ in runs[k]), statistics.median(c for _, c in runs[k]))
                for k in ("plain", "metrics")
            )
            self.stdout.write(
                f"{label:42} {rows:>8,} {wall:>8.3f} {m_wall:>8.3f} {m_wall / wall:>6.2f} "
                f"{cpu:>7.2f} {m_cpu:>7.2f} {m_cpu / cpu if cpu else float('nan'):>6.2f}"
            )

    def use_database(self, name: str, *, recreate: bool) -> None:
        """Point the default connection at ``name`` on the same server, creating it if needed."""
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["dbname"] = settings.DATABASES["default"]["NAME"]
        with psycopg.connect(**params, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists and recreate:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                exists = None
            if not exists:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        connection.close()
        connection.settings_dict["NAME"] = name

    def generate(self, sessions: int, *, shuffled: bool) -> None:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE usage_usageevent, usage_user_teams, usage_user, usage_team, usage_device, usage_host, "
                "usage_organizationmembership, usage_organization CASCADE"
            )
        organization = Organization.objects.create(name="Bench")
        with connection.cursor() as cursor:
            devices = bench_devices(sessions)
            cursor.execute(
                GENERATE_SQL,
                {
                    "org": organization.pk,
                    "sessions": sessions,
                    "shuffled": shuffled,
                    "devices": devices,
                    "width": max(4, len(str(devices))),
                },
            )
        generated = time.perf_counter()
        with connection.cursor() as cursor:
            # The timeline refresh (usage.timeline) rewrote every session once: VACUUM, not only ANALYZE.
            cursor.execute("VACUUM ANALYZE")
        self.stdout.write(
            f"generated {sessions:,} sessions on {devices:,} devices in {generated - started:.1f} s "
            f"(with the timeline columns), then VACUUM ANALYZE in {time.perf_counter() - generated:.1f} s"
        )

    def token(self) -> str:
        user, _ = get_user_model().objects.get_or_create(username="bench")
        OrganizationMembership.objects.update_or_create(
            user=user, defaults={"organization": Organization.objects.get()}
        )
        return ApiToken.issue(user=user, name="bench")[1]

    def backend_pid(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def timed(self, repeat: int, run: Callable[[], bytes], *, pid: int) -> tuple[bytes, float, float]:
        """The last body, and the medians of the wall time and of the PostgreSQL backend's CPU time
        (NaN when the server is not on this machine): the machine is shared, the CPU less noisy."""
        times, cpus, body = [], [], b""
        for _ in range(repeat):
            cpu_before, started = backend_cpu_seconds(pid), time.perf_counter()
            body = run()
            times.append(time.perf_counter() - started)
            cpu_after = backend_cpu_seconds(pid)
            cpus.append(float("nan") if cpu_before is None or cpu_after is None else cpu_after - cpu_before)
        return body, statistics.median(times), statistics.median(cpus)

    def fetch_json(self, client: Client, url: str) -> bytes:
        """The whole response body: the time a client waits for the last byte."""
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {body[:300]!r}")
        return body

    def fetch_csv(self, client: Client, url: str) -> tuple[float, float]:
        """Time streaming the CSV without keeping it; then the peak of Python allocations in a traced run."""

        def stream() -> None:
            response = client.get(url + "&format=csv")
            # A cached answer (core.report_cache) comes whole, not streamed.
            for _chunk in response.streaming_content if response.streaming else [response.content]:
                pass

        started = time.perf_counter()
        stream()
        elapsed = time.perf_counter() - started
        tracemalloc.start()
        stream()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return elapsed, peak
