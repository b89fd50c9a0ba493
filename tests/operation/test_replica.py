"""Report reads on a real streaming replica (DATABASE_REPLICA_URL, core.routers), writes on the primary.

A throwaway primary (initdb, wal_level=replica, a replication entry in pg_hba) and its replica
(pg_basebackup -R) run on ports of 55440-55449, both logging every statement; gunicorn serves with
DATABASE_URL on the primary and DATABASE_REPLICA_URL on the replica. What each request ran where is
read from the two servers' logs: the listing and the report queries on the replica; the token
lookup, tenancy, and every write on the primary. A report waits for the replica to replay the writes
made before it, and reads the primary when the replica is out of reach.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests.operation import processes

PORTS = range(55440, 55450)
ORG = "00000000-0000-4000-8000-0000000000a1"
DEVICE_ADDRESS = "tab-1@h1.replica.test"
LOGGING = "log_statement = 'all'\nlog_line_prefix = '%m [%p] '\n"

pytestmark = pytest.mark.skipif(
    not (processes.SYSTEM_BINARIES / "pg_basebackup").exists(), reason="PostgreSQL 15 server binaries not installed"
)


class Primary(processes.Cluster):
    """initdb, then what a streaming replica needs: WAL for replicas and a replication connection."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, ports=PORTS)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\n" + LOGGING)
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")


class Standby(processes.Cluster):
    """A base backup of the primary with -R (standby.signal and primary_conninfo): a hot standby."""

    def __init__(self, folder: Path, primary: Primary) -> None:
        self.primary = primary
        super().__init__(folder, ports=PORTS)

    def create(self) -> None:  # no initdb: the backup is the cluster
        primary = self.primary
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip

    def caught_up(self, primary: Primary, timeout: float = 30) -> None:
        [(lsn,)] = primary.sql("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while not self.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])[0][0]:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)


class Logs:
    """The statements each server logged from now on."""

    def __init__(self, *clusters: processes.Cluster) -> None:
        self.clusters = clusters
        self.offsets = [cluster.log.stat().st_size for cluster in clusters]

    def read(self) -> list[str]:
        time.sleep(0.3)  # the servers write their logs as they go
        texts = []
        for cluster, offset in zip(self.clusters, self.offsets, strict=True):
            with cluster.log.open("rb") as log:
                log.seek(offset)
                texts.append(log.read().decode(errors="replace"))
        return texts


SEED = f"""
from django.contrib.auth import get_user_model
from core.models import ApiToken, Organization, OrganizationMembership
from usage.models import Device, Host, UsageEvent
from datetime import datetime, timedelta, UTC
org = Organization.objects.create(id="{ORG}", name="Replicated")
user = get_user_model().objects.create_user(username="reader")
OrganizationMembership.objects.create(user=user, organization=org)
host = Host.objects.create(hostname="h1.replica.test")
device = Device.objects.create(organization=org, host=host, device_id="tab-1")
start = datetime(2024, 1, 1, 10, tzinfo=UTC)
for n in range(3):
    UsageEvent.objects.create(organization=org, device=device, start_time=start + timedelta(hours=n),
                              end_time=start + timedelta(hours=n, minutes=30))
print(ApiToken.issue(user=user, name="read")[1], ApiToken.issue(user=user, name="write", can_write=True)[1])
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Primary, Standby]]:
    folders = [Path(tempfile.mkdtemp(prefix="usage-replica-")) for _ in range(2)]
    started: list[processes.Cluster] = []
    try:
        primary = Primary(folders[0])
        primary.start()
        started.append(primary)
        standby = Standby(folders[1], primary)
        standby.start()
        started.append(standby)
        yield primary, standby
    finally:
        for cluster in reversed(started):
            if cluster.running():
                cluster.stop("immediate")
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tokens(pair) -> tuple[str, str]:
    primary, standby = pair
    processes.manage(primary.url, "migrate", "--no-input", timeout=300)
    reader, writer = processes.manage(primary.url, "shell", "-c", SEED).splitlines()[-1].split()
    standby.caught_up(primary)
    return reader, writer


@pytest.fixture(scope="module")
def server(pair, tokens, tmp_path_factory):
    primary, standby = pair
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with processes.gunicorn(
        primary.url, log, DATABASE_REPLICA_URL=standby.url, WEB_CONCURRENCY="1", GUNICORN_THREADS="2"
    ) as running:
        yield running


def get(server, token: str, path: str, **params: str) -> requests.Response:
    return requests.get(server.url(path), params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_the_replica_is_a_hot_standby_of_the_primary(pair, tokens):
    primary, standby = pair
    assert standby.sql("SELECT pg_is_in_recovery()") == [(True,)]
    assert primary.sql("SELECT pg_is_in_recovery()") == [(False,)]
    assert standby.sql("SELECT count(*) FROM usage_usageevent") == [(3,)]


def test_the_event_csv_is_read_from_the_replica(pair, tokens, server):
    reader, _ = tokens
    logs = Logs(*pair)
    response = get(server, reader, "/v2/usage/event", start_date="2024-01-01", format="csv")
    on_primary, on_standby = logs.read()
    assert response.status_code == 200, response.text
    assert len(response.text.splitlines()) == 4  # the header and three sessions
    assert "COPY (SELECT" in on_standby and "usage_usageevent" in on_standby
    assert "usage_usageevent" not in on_primary
    # Authentication and tenancy are decided on the primary; the replica saw none of it.
    assert "core_apitoken" in on_primary and "usage_organizationmembership" in on_primary
    assert "core_apitoken" not in on_standby and "usage_organizationmembership" not in on_standby


def test_an_event_page_is_read_from_the_replica(pair, tokens, server):
    reader, _ = tokens
    logs = Logs(*pair)
    response = get(server, reader, "/v2/usage/event", start_date="2024-01-01", limit="2")
    on_primary, on_standby = logs.read()
    assert response.status_code == 200, response.text
    assert len(orjson.loads(response.content)["report"]) == 2
    assert "FROM usage_usageevent" in on_standby and "LIMIT" in on_standby
    assert "usage_usageevent" not in on_primary


def test_a_usage_report_is_read_from_the_replica(pair, tokens, server):
    reader, _ = tokens
    logs = Logs(*pair)
    response = get(server, reader, "/v2/usage/device", start_date="2024-01-01", end_date="2024-01-01")
    on_primary, on_standby = logs.read()
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content)["report"][0]["session_count"] == 3
    assert "usage_usageevent" in on_standby
    assert "usage_usageevent" not in on_primary


def test_writes_go_to_the_primary_and_reach_the_replica(pair, tokens, server):
    """An ingested session is written on the primary; the replica's listing shows it at once."""
    reader, writer = tokens
    logs = Logs(*pair)
    record = {
        "kind": "usage_event",
        "id": "00000000-0000-4000-8000-0000000000e9",
        "organization": ORG,
        "device": DEVICE_ADDRESS,
        "start_time": "2024-01-01T20:00:00Z",
        "end_time": "2024-01-01T20:05:00Z",
        "automated": True,
    }
    response = requests.post(
        server.url("/v2/ingest"),
        data=orjson.dumps([record]),
        headers={"Authorization": f"Bearer {writer}", "Content-Type": "application/json"},
        timeout=30,
    )
    on_primary, on_standby = logs.read()
    assert response.status_code == 200, response.text
    # The session is written (COPY ... FROM STDIN, or INSERT: core.interchange) on the primary.
    assert re.search(r"(COPY|INSERT INTO) \S*usage_usageevent", on_primary), on_primary[-2000:]
    for write in ("INSERT", "UPDATE", "DELETE", "FROM STDIN"):
        assert write not in on_standby  # a hot standby refuses writes: none was sent there
    # Read at once: the report waits for the replica to replay the write (core.routers.replica_caught_up).
    logs = Logs(*pair)
    csv = get(server, reader, "/v2/usage/event", start_date="2024-01-01", format="csv").text
    assert record["id"] in csv and len(csv.splitlines()) == 5
    on_primary, on_standby = logs.read()
    assert "pg_current_wal_lsn" in on_primary and "pg_last_wal_replay_lsn" in on_standby
    assert "COPY (SELECT" in on_standby and "usage_usageevent" not in on_primary


def test_a_replica_out_of_reach_is_passed_over_for_the_primary(pair, tokens, server):
    """Last in this module: the replica is stopped, and the reports read the primary."""
    _, standby = pair
    reader, _ = tokens
    standby.stop("immediate")
    logs = Logs(*pair)
    response = get(server, reader, "/v2/usage/event", start_date="2024-01-01", format="csv")
    on_primary, _ = logs.read()
    assert response.status_code == 200, response.text
    assert len(response.text.splitlines()) == 5
    assert "COPY (SELECT" in on_primary
