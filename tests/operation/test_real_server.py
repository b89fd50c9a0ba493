"""Operation tests against real processes (SPEC §14): gunicorn serving the WSGI application, on a
PostgreSQL cluster of the test's own that the tests stop while requests run.

- the README's demo command serves with gunicorn, static files included, DEBUG off;
- gunicorn's and Django's own refusals (URI too long, malformed request, disallowed host) answer
  in the error envelope;
- the database stopped mid-traffic: 503 envelopes with Retry-After, never a 500, and no failed
  request once it is back (connections are health-checked before reuse), nor more connections
  than the server's threads;
- a CSV stream whose database dies midway ends with an aborted connection, not a clean end.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time

import orjson
import pytest
import requests

from tests.operation import processes

REPORT = "/v2/usage/device?start_date=2026-08-01&end_date=2026-11-15&bin_size=week"
SESSIONS = 150_000  # a CSV listing of ~30 MB: more than the socket buffers between server and client


@pytest.fixture(scope="module")
def cluster():
    with processes.cluster() as made:
        yield made


@pytest.fixture(scope="module")
def token(cluster) -> str:
    """The demo data (``manage.py demo --no-serve``) and many more sessions, and a token of the tests' own
    (so that no test depends on the demo's credentials)."""
    processes.manage(cluster.url, "demo", "--no-serve", timeout=180)
    [(organization, device)] = cluster.sql(
        "SELECT m.organization_id, (SELECT d.id FROM usage_device d WHERE d.organization_id = m.organization_id "
        "ORDER BY d.id LIMIT 1) FROM usage_organizationmembership m JOIN auth_user u ON u.id = m.user_id "
        "WHERE u.username = 'demo'"
    )
    cluster.sql(
        "INSERT INTO usage_usageevent (id, organization_id, device_id, start_time, end_time, automated) "
        "SELECT gen_random_uuid(), %s, %s, t, t + interval '5 seconds', true "
        "FROM generate_series(1, %s) n, LATERAL (SELECT timestamptz '2025-01-01' + n * interval '10 seconds') s(t)",
        [organization, device, SESSIONS],
    )
    output = processes.manage(cluster.url, "create_api_token", "operations", "--organization", str(organization))
    return output.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(cluster, token, tmp_path_factory):
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with processes.gunicorn(cluster.url, log, WEB_CONCURRENCY="2", GUNICORN_THREADS="4") as running:
        yield running


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def envelope(response: requests.Response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    return orjson.loads(response.content)["error"]


def raw_request(server, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_the_demo_command_serves_with_gunicorn_and_static_files(cluster, token, tmp_path):
    port = processes.free_port()
    command = [sys.executable, "manage.py", "demo", "--port", str(port)]
    env = processes.environment(cluster.url, GUNICORN_ACCESS_LOG="")
    del env["SECRET_KEY"]  # the demo makes a key for its server
    with processes.process_group(command, env, tmp_path / "demo.log") as process:
        server = processes.Server(process, port, tmp_path / "demo.log")
        processes.wait_until_up(server, timeout=90)
        log = server.log.read_text()
        assert "gunicorn" in log.lower() and "Booting worker" in log
        fresh = re.search(r"^API token \(.*\):\n(\S+)$", log, re.MULTILINE)[1]
        response = requests.get(server.url(REPORT), headers=auth(fresh), timeout=30)
        assert response.status_code == 200 and response.json()["report"]
        # The admin and Swagger UI are styled with DEBUG off: their assets are served.
        login = requests.get(server.url("/admin/login/"), timeout=10)
        assert login.status_code == 200 and "/static/admin/css/base.css" in login.text
        css = requests.get(server.url("/static/admin/css/base.css"), timeout=10)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        docs = requests.get(server.url("/api/docs/"), timeout=10)
        assert docs.status_code == 200
        swagger = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"
        assert swagger in docs.text
        assert requests.get(server.url(swagger), timeout=10).status_code == 200


def test_health_endpoints(server):
    assert requests.get(server.url("/healthz"), timeout=10).json() == {"status": "ok"}
    assert requests.get(server.url("/readyz"), timeout=10).json() == {"status": "ready"}


def test_the_servers_own_refusals_are_in_the_envelope(server, token):
    status, headers, body = raw_request(server, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == "invalid_parameter"
    status, headers, body = raw_request(server, b"NOT A REQUEST\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == "invalid_parameter"
    response = requests.get(server.url("/v2/usage"), headers={"Host": "evil.example.com"}, timeout=10)
    assert response.status_code == 400
    assert envelope(response) == {
        "code": "invalid_parameter",
        "message": "The Host header names a host this service does not answer for.",
        "details": {},
    }
    request = (
        f"POST /v2/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n[]"
    )
    status, headers, body = raw_request(server, request.encode())
    assert status == 400 and headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"]["code"] == "invalid_parameter"


class Traffic:
    """Threads sending reports in a loop, recording (start, end, status, body or error) per request."""

    def __init__(self, server, token: str, threads: int = 4) -> None:
        self.server, self.token = server, token
        self.results: list[tuple[float, float, int | None, bytes | str, str | None]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        session = requests.Session()
        paths = [REPORT, "/v2/usage/event?start_date=2026-08-01&end_date=2026-08-02&limit=50", "/readyz"]
        n = 0
        while not self.stop.is_set():
            path = paths[n % len(paths)]
            n += 1
            started = time.monotonic()
            try:
                response = session.get(self.server.url(path), headers=auth(self.token), timeout=20)
                entry = (
                    started,
                    time.monotonic(),
                    response.status_code,
                    response.content,
                    response.headers.get("Retry-After"),
                )
            except requests.RequestException as exc:
                entry = (started, time.monotonic(), None, repr(exc), None)
            self.results.append(entry)
            time.sleep(0.02)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def client_connections(cluster) -> int:
    [(count,)] = cluster.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    return count


def test_a_database_outage_answers_503_and_heals_by_itself(cluster, server, token):
    with Traffic(server, token) as traffic:
        time.sleep(1.5)
        stopped = time.monotonic()
        cluster.stop("fast")
        time.sleep(2.5)
        cluster.start()
        back = time.monotonic()
        time.sleep(3)
    before = [r for r in traffic.results if r[1] < stopped]
    during = [r for r in traffic.results if r[0] > stopped and r[1] < back]
    after = [r for r in traffic.results if r[0] > back]
    assert before and during and len(after) > 10
    assert {r[2] for r in before} == {200}
    assert [r for r in traffic.results if r[2] is None] == [], "the server must answer throughout"
    assert 500 not in {r[2] for r in traffic.results}
    for _, _, status, body, retry_after in during:
        if status != 200:
            assert status == 503
            error = orjson.loads(body)["error"]
            assert error["code"] == "service_unavailable"
            assert retry_after == "5"
    assert 503 in {r[2] for r in during}
    assert {r[2] for r in after} == {200}, [r[2:4] for r in after if r[2] != 200][:3]
    # Connection reuse never piles up: at most workers x threads.
    assert client_connections(cluster) <= 2 * 4


def test_a_stream_whose_database_dies_midway_is_aborted(cluster, server, token):
    """A listing that reads the database while it streams (v0's, from a server-side cursor) is cut short."""
    url = server.url("/v0/usage/events?start_date=20250101&end_date=20250131&format=csv")
    try:
        with requests.get(url, headers=auth(token), stream=True, timeout=30) as response:
            assert response.status_code == 200
            chunks = response.iter_content(65536)
            received = len(next(chunks))
            cluster.stop("immediate")
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                for chunk in chunks:
                    received += len(chunk)
            assert received < SESSIONS * 100  # well short of the whole listing
    finally:
        if not cluster.running():
            cluster.start()


def test_the_event_csv_is_whole_before_it_is_sent(cluster, server, token):
    """The v2 event CSV is written by a COPY that ends before the response starts: a database that
    dies once the first bytes are sent no longer matters, and the listing arrives whole."""
    url = server.url("/v2/usage/event?start_date=2025-01-01&end_date=2025-01-31&format=csv")
    expected = requests.get(url, headers=auth(token), timeout=30).content
    try:
        with requests.get(url, headers=auth(token), stream=True, timeout=30) as response:
            assert response.status_code == 200
            chunks = response.iter_content(65536)
            received = [next(chunks)]
            cluster.stop("immediate")
            received.extend(chunks)
        assert b"".join(received) == expected
        assert len(expected) > 65536 * 2  # more than what was sent before the database stopped
    finally:
        if not cluster.running():
            cluster.start()


def test_a_restart_while_idle_costs_no_request(cluster, server, token):
    """Every server thread holds a connection; the database restarts while no request runs: each stale
    connection is found dead by the health check before its next use, not by a failed request."""
    from concurrent.futures import ThreadPoolExecutor

    def fetch(_: int) -> int:
        return requests.get(server.url(REPORT), headers=auth(token), timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(fetch, range(48))) == {200}  # 2 workers x 4 threads all connected
        cluster.stop("fast")
        cluster.start()
        assert list(pool.map(fetch, range(48))) == [200] * 48
