"""`manage.py demo` as real processes on an embedded PostgreSQL of the tests' own (EMBEDDED_PGDATA in a
temporary folder, never the checkout's ``.pgdata/``), as the README runs it:

- a second demo while the first serves is refused and leaves the first's token and login working;
- SIGTERM of the demo, or Ctrl-C, stops gunicorn and the embedded server (its postmaster pid is gone),
  and so does an error on the way up;
- a demo killed by SIGKILL takes its gunicorn along and leaves its pid in ``.handle_pids.json``: the
  next start drops it and, being the last handle, stops the server when it ends.

The data folder is prepared once (``demo --no-serve``) for the module; every process is ended by its
id on the way out, and so is a postmaster left running by a failed test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest
import requests

from tests.operation import processes
from usage_project.embedded_db import alive

REPORT = "/v2/usage/team?start_date=2026-08-01&end_date=2026-11-15&bin_size=month"
LEFT_OUT = {
    "DATABASE_URL",
    "TEST_DB_NAME",
    "USAGE_COMMAND_LINE",
    "DJANGO_SETTINGS_MODULE",
    "XDG_RUNTIME_DIR",
    "SECRET_KEY",
    "DEMO_ADMIN_PASSWORD",
}


class Embedded:
    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.credentials = folder / "demo-credentials.json"
        self.env = {name: value for name, value in os.environ.items() if name not in LEFT_OUT}
        self.env.update(
            EMBEDDED_PGDATA=str(self.data),
            DEMO_CREDENTIALS_FILE=str(self.credentials),
            PYTHONUNBUFFERED="1",
            GUNICORN_ACCESS_LOG="",
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="2",
        )

    def postmaster(self) -> int | None:
        """The pid of the running server, from its postmaster.pid (None: not running)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except FileNotFoundError:
            return None
        return pid if alive(pid) else None

    def handles(self) -> list[int]:
        return json.loads((self.data / ".handle_pids.json").read_text() or "[]")

    def manage(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=processes.ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop_leftovers(self) -> None:
        if pid := self.postmaster():
            os.kill(pid, signal.SIGINT)  # fast shutdown
            psutil.Process(pid).wait(timeout=30)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    made = Embedded(tmp_path_factory.mktemp("demo"))
    try:
        prepared = made.manage("demo", "--no-serve", timeout=120)
        assert prepared.returncode == 0, prepared.stderr
        yield made
    finally:
        made.stop_leftovers()


@contextmanager
def serving(embedded: Embedded, tmp_path: Path, name: str) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """``manage.py demo --port <free port>`` in a session of its own; whatever is left of that session
    (the gunicorn of a demo that failed to take it along) is ended by its group id on the way out."""
    port = processes.free_port()
    log = tmp_path / f"{name}.log"
    command = [sys.executable, "manage.py", "demo", "--port", str(port)]
    group = None
    try:
        with processes.process_group(command, embedded.env, log) as process:
            group = process.pid
            yield process, port, log
    finally:
        if group is not None:
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def started(process: subprocess.Popen, port: int, log: Path) -> tuple[str, str]:
    """Wait until the demo serves; its printed (password, token)."""
    processes.wait_until_up(processes.Server(process, port, log), timeout=50)
    text = log.read_text()
    password = re.search(r"^Admin: .* login 'admin', password (\S+)", text, re.MULTILINE)[1]
    token = re.search(r"^API token \(.*\):\n(\S+)$", text, re.MULTILINE)[1]
    return password, token


def gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def admin_login(port: int, password: str) -> int:
    """Log in to the admin as a browser does; the status of the page it lands on."""
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/admin/login/?next=/admin/"
    session.get(url, timeout=10)
    answer = session.post(
        url,
        data={"username": "admin", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": url},
        timeout=10,
    )
    return answer.status_code if answer.url == f"http://127.0.0.1:{port}/admin/" else 401


def test_a_second_demo_is_refused_and_the_first_keeps_serving_with_its_credentials(embedded, tmp_path):
    with serving(embedded, tmp_path, "first") as (first, port, log):
        password, token = started(first, port, log)
        assert admin_login(port, password) == 200

        second = embedded.manage("demo", "--port", str(processes.free_port()), "--reset-credentials")
        assert second.returncode == 1
        assert second.stderr.strip() == (
            f"CommandError: A demo is already running on this database (serving http://127.0.0.1:{port}/, "
            f"pid {first.pid}). Nothing was changed: its admin password and API token keep working. Use that "
            f"one, or stop it first (Ctrl-C in its terminal, or `kill {first.pid}`)."
        )
        assert "API token" not in second.stdout

        response = requests.get(f"http://127.0.0.1:{port}{REPORT}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json()["report"]
        assert admin_login(port, password) == 200
        assert admin_login(port, "not-the-password") == 401
        assert first.poll() is None
        assert first.pid in embedded.handles()


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ("SIGTERM of the demo alone", 128 + signal.SIGTERM),
        ("Ctrl-C: SIGINT to the terminal's process group", 0),
    ],
)
def test_the_demo_stopped_stops_gunicorn_and_the_embedded_server(embedded, tmp_path, how, status):
    with serving(embedded, tmp_path, "stopped") as (demo, port, log):
        started(demo, port, log)
        postmaster = embedded.postmaster()
        assert postmaster is not None
        workers = [child.pid for child in psutil.Process(demo.pid).children(recursive=True)]
        assert workers  # gunicorn's master and worker

        if how.startswith("SIGTERM"):
            os.kill(demo.pid, signal.SIGTERM)
        else:
            os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(timeout=45) == status
        assert gone(postmaster), "the embedded PostgreSQL still runs"
        assert not [pid for pid in workers if alive(pid)]
        assert embedded.handles() == []


def test_a_demo_that_fails_to_start_leaves_no_server_running(embedded):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = embedded.manage("demo", "--port", str(port))
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"CommandError: Port {port} is in use by another program (Address already in use). Nothing was "
        "changed; pick another with --port."
    )
    # It started the embedded server (its settings do) and stopped it on the way out.
    assert (
        "database system is shut down" in (embedded.data / "log").read_text().rsplit("database system is ready", 1)[1]
    )
    assert embedded.postmaster() is None and embedded.handles() == []


def test_a_stale_pid_of_a_killed_demo_is_recovered_on_the_next_start(embedded, tmp_path):
    with serving(embedded, tmp_path, "killed") as (demo, port, log):
        password, token = started(demo, port, log)
        gunicorn = [child.pid for child in psutil.Process(demo.pid).children(recursive=True)]
        os.kill(demo.pid, signal.SIGKILL)
        demo.wait(timeout=10)
        # Its gunicorn is told to stop by the kernel; the demo's own pid stays listed, and the server runs.
        assert all(gone(pid) for pid in gunicorn), "gunicorn outlived the killed demo"
        postmaster = embedded.postmaster()
        assert postmaster is not None
        assert demo.pid in embedded.handles()

        again = embedded.manage("demo", "--no-serve")
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == token  # the same credentials
        assert f"login 'admin', password {password} (unchanged)" in again.stdout
        assert gone(postmaster), "the next demo did not stop the server it was the last user of"
        assert embedded.handles() == []
