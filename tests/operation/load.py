"""A bounded load test: 16 clients for 60 s on a report mix against gunicorn (loopback only).

    .venv/bin/python -m tests.operation.load [--clients 16] [--seconds 60] [--workers 2] [--threads 4]

It makes a throwaway PostgreSQL cluster (initdb, a port of 55410-55419), loads the demo data
(``manage.py demo --no-serve``), gives each client a token of its own (the per-token rate limit is
meant for one client), starts gunicorn with the production settings on a free loopback port, and
runs the clients for the fixed duration; then it stops everything and prints requests per second,
latency percentiles, the error count and the most database connections seen at once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.operation import processes

MIX = [
    "/v2/usage/device?start_date=2026-08-01&end_date=2026-11-15&bin_size=week",
    "/v2/usage/team?start_date=2026-08-01&end_date=2026-11-15&bin_size=day&timezone=America/Los_Angeles",
    "/v2/usage?start_date=2026-08-01&end_date=2026-11-15&bin_size=hour",
    "/v2/usage/device_user?start_date=2026-09-01&end_date=2026-09-30&bin_size=day&format=csv",
    "/v2/usage/host?start_date=2026-08-01&end_date=2026-11-15&bin_size=month&display_all=true",
    "/v1/usage/team/device?start_date=2026-08-01&end_date=2026-11-15&bin_size=week",
    "/v2/usage/event?start_date=2026-09-01&end_date=2026-09-07&limit=500",
    "/v0/usage/events?start_date=20260901&end_date=20260910&format=csv",
]
MAX_CLIENTS, MAX_SECONDS = 64, 600  # bounded whatever the arguments


def client(server, token: str, deadline: float, results: list, errors: list) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    n = 0
    while time.monotonic() < deadline:
        path = MIX[n % len(MIX)]
        n += 1
        started = time.monotonic()
        try:
            response = session.get(server.url(path), timeout=60)
            ok = response.status_code == 200
            detail = f"{response.status_code} {path} {response.content[:200]!r}"
        except requests.RequestException as exc:
            ok, detail = False, f"{path} {exc!r}"
        results.append(time.monotonic() - started)
        if not ok:
            errors.append(detail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    clients, seconds = min(args.clients, MAX_CLIENTS), min(args.seconds, MAX_SECONDS)

    with processes.cluster() as cluster, tempfile.TemporaryDirectory() as folder:
        print(f"PostgreSQL on 127.0.0.1:{cluster.port}: loading the demo data...", flush=True)
        processes.manage(cluster.url, "demo", "--no-serve", timeout=300)
        tokens = [
            processes.manage(cluster.url, "create_api_token", f"load{i}", "--organization", organization(cluster))
            .strip()
            .splitlines()[-1]
            for i in range(clients)
        ]
        log = Path(folder) / "gunicorn.log"
        env = {"WEB_CONCURRENCY": str(args.workers), "GUNICORN_THREADS": str(args.threads), "GUNICORN_ACCESS_LOG": ""}
        with processes.gunicorn(cluster.url, log, **env) as server:
            for path in MIX:  # warm up, and fail early on a broken route
                response = requests.get(server.url(path), headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=60)
                assert response.status_code == 200, (path, response.status_code, response.content[:300])
            results: list[float] = []
            errors: list[str] = []
            peak = [0]
            deadline = time.monotonic() + seconds
            threads = [
                threading.Thread(target=client, args=(server, token, deadline, results, errors)) for token in tokens
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                peak[0] = max(peak[0], connections(cluster))
                time.sleep(1)
            elapsed = time.monotonic() - started
    latencies = sorted(results)
    print(f"{clients} clients, {seconds:g} s, gunicorn {args.workers} workers x {args.threads} threads")
    print(f"requests: {len(latencies)}  ({len(latencies) / elapsed:.1f} req/s)")
    print(
        f"latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    print(f"errors: {len(errors)}")
    for error in errors[:5]:
        print("  ", error)
    print(f"database connections at most: {peak[0]} (bound: {args.workers * args.threads})")


def organization(cluster) -> str:
    [(pk,)] = cluster.sql(
        "SELECT m.organization_id::text FROM usage_organizationmembership m JOIN auth_user u ON u.id = m.user_id "
        "WHERE u.username = 'demo'"
    )
    return pk


def connections(cluster) -> int:
    [(count,)] = cluster.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    return count


if __name__ == "__main__":
    main()
