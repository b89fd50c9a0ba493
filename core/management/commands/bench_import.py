"""Measure the interchange import rate: ``python manage.py bench_import --sessions N``.

Generates a JSON Lines file of N sessions (with their organizations, teams, users, hosts and
devices) in a temporary directory, imports it into a throwaway database (created, migrated and
dropped; --keep imports into the configured database instead) and prints sessions per second.
The import commits, so the figure includes the deferred foreign-key checks a commit pays.

Other jobs on the machine change the figure, so it also prints the load average and the CPU
seconds of this process (checking, in Python) and of its PostgreSQL backend (writing; when the
server runs on this machine): those two are what the import itself costs.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import orjson
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from core.interchange import Importer, read_lines

ORGANIZATIONS = 2
TEAMS_PER_ORG = 10
USERS_PER_ORG = 250
HOSTS = 10
DEVICES_PER_ORG = 500
ANCHOR = datetime(2026, 8, 1, tzinfo=UTC)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate(path: Path, *, sessions: int, seed: int = 1) -> None:
    """Write a valid interchange file of ``sessions`` usage events and what they refer to."""
    rng = random.Random(seed)
    dumps = orjson.dumps
    with path.open("wb") as out:
        hosts = [f"host-{n:02d}.bench.example" for n in range(HOSTS)]
        for hostname in hosts:
            out.write(dumps({"kind": "host", "hostname": hostname, "country": rng.choice(["DE", "US", "IN", "FR"])}))
            out.write(b"\n")
        per_org = []
        for o in range(ORGANIZATIONS):
            org = _uuid(rng)
            out.write(dumps({"kind": "organization", "id": org, "name": f"Bench {o}"}) + b"\n")
            teams = [_uuid(rng) for _ in range(TEAMS_PER_ORG)]
            for n, team in enumerate(teams):
                out.write(dumps({"kind": "team", "id": team, "organization": org, "name": f"Team {n}"}) + b"\n")
            users = [_uuid(rng) for _ in range(USERS_PER_ORG)]
            for n, user in enumerate(users):
                record = {
                    "kind": "user",
                    "id": user,
                    "organization": org,
                    "email": f"user{n}.{o}@bench.example",
                    "teams": [rng.choice(teams)],
                }
                out.write(dumps(record) + b"\n")
            devices = []
            for n in range(DEVICES_PER_ORG):
                device_id, hostname = f"dev-{o}-{n:04d}", rng.choice(hosts)
                record = {
                    "kind": "device",
                    "organization": org,
                    "device_id": device_id,
                    "hostname": hostname,
                    "os": rng.choice(["android", "ios"]),
                    "device_type": rng.choice(["phone", "tablet"]),
                }
                out.write(dumps(record) + b"\n")
                devices.append(f"{device_id}@{hostname}")
            per_org.append((org, teams, users, devices))
        span = 90 * 86400
        for _ in range(sessions):
            org, teams, users, devices = per_org[rng.randrange(ORGANIZATIONS)]
            start = ANCHOR + timedelta(seconds=rng.randrange(span))
            end = start + timedelta(seconds=rng.randrange(60, 4 * 3600))
            record = {
                "kind": "usage_event",
                "id": _uuid(rng),
                "organization": org,
                "device": rng.choice(devices),
                "user": rng.choice(users),
                "team": rng.choice(teams),
                "start_time": start.isoformat(),
                "end_time": end.isoformat(),
                "automated": rng.random() < 0.1,
            }
            out.write(dumps(record) + b"\n")


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by a local PostgreSQL backend (None when it is not local: no /proc entry)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Measured(NamedTuple):
    counts: dict[str, int]
    seconds: float
    python_cpu: float
    backend_cpu: float | None  # None: the server is not on this machine


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


@contextmanager
def throwaway_database():
    """Point the default connection at a new migrated database, dropped afterwards (Django's test-database tools)."""
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_import_{os.getpid()}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


class Command(BaseCommand):
    help = "Generate N sessions as JSON Lines, import them into a throwaway database and print sessions per second."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sessions", type=int, default=100_000, help="Number of sessions (default 100000).")
        parser.add_argument(
            "--keep", action="store_true", help="Import into the configured database and keep the data."
        )

    def handle(self, *args, sessions: int, keep: bool, **options) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.jsonl"
            started = time.perf_counter()
            generate(path, sessions=sessions)
            megabytes = path.stat().st_size / 1e6
            self.stdout.write(
                f"Generated {sessions} sessions ({megabytes:.1f} MB) in {time.perf_counter() - started:.1f} s."
            )
            with nullcontext() if keep else throwaway_database():
                load_before = load_average()
                measured = self.timed_import(path)
        imported, seconds = measured.counts.get("usage_event", 0), measured.seconds
        where = "kept in the database" if keep else "in a throwaway database, committed"
        self.stdout.write(
            f"Imported {imported} sessions in {seconds:.1f} s: {imported / seconds:,.0f} sessions/s ({where})."
        )
        backend = measured.backend_cpu
        self.stdout.write(
            f"CPU: Python {measured.python_cpu:.2f} s, PostgreSQL backend "
            f"{'unknown (not local)' if backend is None else f'{backend:.2f} s'}; "
            f"load average before {load_before}, after {load_average()}."
        )

    def timed_import(self, path: Path) -> Measured:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        backend_before, python_before = backend_cpu_seconds(pid), time.process_time()
        started = time.perf_counter()
        with path.open("rb") as stream:
            counts = Importer().run(read_lines(stream))  # commits, so the deferred FK checks are paid
        seconds = time.perf_counter() - started
        backend_after = backend_cpu_seconds(pid)
        return Measured(
            counts=counts,
            seconds=seconds,
            python_cpu=time.process_time() - python_before,
            backend_cpu=None if backend_before is None or backend_after is None else backend_after - backend_before,
        )
