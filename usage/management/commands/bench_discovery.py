"""Benchmark the discovery lists (SPEC §12) through the API, on bench_reports' generated data.

    python manage.py bench_discovery --sessions 1000000 [--database usage_bench_discovery]

Same data as bench_reports (500 devices on 25 hosts, 200 users, 20 teams, one year of sessions), in a
database of its own by default. Prints the median time until the last byte and the rows listed.
A device's first and last use are correlated subqueries inside the page query (on the (device,
start_time) INCLUDE end_time index): the lines ordered or filtered by last use compute them for every
device of the organization.
"""

from __future__ import annotations

import orjson
from django.test import Client

from usage.management.commands import bench_reports
from usage.models import Device, UsageEvent

ROUTES = [
    ("devices, first page (100)", "/v2/devices"),
    ("devices, one page of 1000", "/v2/devices?limit=1000"),
    ("devices by last use (all computed)", "/v2/devices?ordering=-last_used"),
    ("devices idle since 2025-12-20", "/v2/devices?idle_since=2025-12-20"),
    ("devices used since 2025-12-31, ios", "/v2/devices?used_since=2025-12-31&os=ios"),
    ("one device", "/v2/devices/{device}"),
    ("hosts", "/v2/hosts"),
    ("teams by member count", "/v2/teams?ordering=-member_count"),
    ("users with team names (200)", "/v2/users?limit=200"),
]


class Command(bench_reports.Command):
    help = "Time the discovery lists through the API on generated sessions."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database="usage_bench_discovery", repeat=5)

    def handle(self, *args, sessions: int, database: str, repeat: int, regenerate: bool, only: str, **options) -> None:
        self.use_database(database, recreate=regenerate)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if UsageEvent.objects.count() != sessions:
            self.generate(sessions, shuffled=options["shuffled"])
        client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token()}")
        device = Device.objects.order_by("pk").first().pk
        self.stdout.write(f"{sessions:,} sessions, {Device.objects.count()} devices; median of {repeat} runs\n")
        self.stdout.write(f"{'route':42} {'rows':>6} {'s':>8}")
        for label, url in ROUTES:
            if only not in label:
                continue
            path = url.format(device=device)
            body, seconds = self.timed(repeat, lambda path=path: self.fetch_json(client, path))
            data = orjson.loads(body)
            rows = len(data["results"]) if "results" in data else 1
            self.stdout.write(f"{label:42} {rows:>6} {seconds:>8.3f}")
