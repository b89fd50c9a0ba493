"""``python manage.py demo [--port 8000] [--no-serve] [--reset-credentials]``: a running service with demo data.

Migrates, imports fixtures/demo.jsonl (idempotent: running it again changes nothing), makes sure of
the staff superuser ``admin`` and of an API token for a user of the first demo organization with a
grant on the demo client, prints how to use them, then serves the application with gunicorn (as
production does, see gunicorn.conf.py) unless --no-serve. Without SECRET_KEY in the environment the
server gets a key generated for this run.

Safe to run again:

- One demo per database at a time. The demo holds a PostgreSQL advisory lock on a connection of its
  own for as long as it runs (the lock dies with the process, however it ends, and no pid can be
  mistaken for another process's), with the connection's application_name saying where it serves.
  A second demo that finds the lock taken says which URL and pid hold it and exits with status 1
  before it changes anything; so does a demo whose port is taken by another program.
- Credentials change only when asked (``--reset-credentials``, or DEMO_ADMIN_PASSWORD naming another
  password). Otherwise the admin and the live demo token are kept. Only a hash of a token is in the
  database, so the demo keeps the generated password and the plain token in DEMO_CREDENTIALS_FILE
  (``.demo-credentials.json``, git-ignored, mode 0600, one entry per database) and prints them again
  from there; when that file does not know them (another checkout made them), it says they are
  unchanged, since when, and how to get new ones.
- The embedded PostgreSQL stops however the demo ends: SIGTERM and SIGHUP end it as Ctrl-C does (the
  exit handlers run, gunicorn is stopped first), gunicorn is told by the kernel to stop if the demo
  dies without a word (SIGKILL), and the handles of dead processes are dropped (see embedded_db).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from core.interchange import Importer, ImportFailed, read_lines
from core.models import ApiToken, Client, ClientGrant, Organization, OrganizationMembership, hash_token
from usage_project.embedded_db import forget_dead_handles

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.jsonl"
ADMIN_USERNAME = "admin"
API_USERNAME = "demo"
TOKEN_NAME = "demo command"
LOCK_KEY = (0x75736167, 0x64656D6F)  # "usag", "demo": the advisory lock a running demo holds
LABEL = "usage demo"  # start of the lock holder's application_name


def first_ids(path: Path) -> tuple[str, str, str]:
    """The first organization and the first client of the demo file, and that client's first app by name.

    Read from the file rather than the apps' models: core imports from no app above it.
    """
    organization = client = None
    apps: list[tuple[str, str]] = []
    with path.open("rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            if record["kind"] == "organization" and organization is None:
                organization = record["id"]
            elif record["kind"] == "client" and client is None:
                client = record["id"]
            elif record["kind"] == "application" and record["client"] == client:
                apps.append((record["name"], record["id"]))
    if not (organization and client and apps):
        raise CommandError(f"{path} has no organization, no client or no application of that client.")
    return organization, client, min(apps)[1]


class Command(BaseCommand):
    help = "Migrate, load the demo data, create an admin login and an API token, and run the server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port of the server (default 8000).")
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything but do not run the server.")
        parser.add_argument(
            "--reset-credentials",
            action="store_true",
            help="Set a new admin password and issue a new API token, revoking the previous demo token "
            "(otherwise both are kept from the last run).",
        )

    def handle(self, *args, port: int, no_serve: bool, reset_credentials: bool, **options) -> None:
        base = f"http://127.0.0.1:{port}"
        try:
            with ends_on_signals(), demo_lock(None if no_serve else f"{base}/"):
                if not no_serve:
                    check_port_free(port)
                self._prepare_and_serve(base, port, no_serve=no_serve, reset=reset_credentials)
        finally:
            if getattr(settings, "EMBEDDED_PGDATA", None):
                # A gunicorn worker killed on a timeout leaves its pid behind: the last live handle
                # (this process, at exit) then stops the server.
                forget_dead_handles(settings.EMBEDDED_PGDATA)

    def _prepare_and_serve(self, base: str, port: int, *, no_serve: bool, reset: bool) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        with DEMO_FILE.open("rb") as stream:
            try:
                counts = Importer().run(read_lines(stream))
            except ImportFailed as failed:
                raise CommandError(f"{DEMO_FILE} could not be imported:\n" + "\n".join(failed.lines()))
        self.stdout.write("Demo data: " + ", ".join(f"{number} {kind}" for kind, number in counts.items()) + ".")

        store = CredentialStore(Path(settings.DEMO_CREDENTIALS_FILE), database_key())
        known = store.load()
        organization_id, client_id, app_id = first_ids(DEMO_FILE)
        with transaction.atomic():
            password, password_changed = self._admin(reset=reset, known=known.get("admin_password"))
            raw, kept, token_changed = self._token(organization_id, client_id, reset=reset, known=known.get("token"))
            # Within the transaction: a file that cannot be written leaves the old credentials in place.
            store.save(admin_password=password, token=raw)
        organization = Organization.objects.get(pk=organization_id)
        client = Client.objects.get(pk=client_id)

        if password is None:
            admin_line = "password unchanged (not known to this checkout; --reset-credentials sets a new one)"
        else:
            admin_line = f"password {password}" + ("" if password_changed else " (unchanged)")
        if raw is not None:
            token_header = (
                "API token (new; " if token_changed else "API token (unchanged; "
            ) + f"kept in {store.path}, readable only by you; --reset-credentials issues a new one):"
        else:
            token_header = (
                f"API token: the demo token {kept.prefix}… issued {kept.created_at:%Y-%m-%d %H:%M} UTC is unchanged. "
                "Only its hash is stored and this checkout does not know its value: "
                "run `manage.py demo --reset-credentials` for a new one."
            )
        shown = raw or "<token>"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Portal:   {base}/  (log in with the admin login below; staff see every organization)",
                    f"          usage of {organization.name}: {base}/organizations/{organization.pk}/usage/"
                    "?start_date=2026-10-01&end_date=2026-10-31&bin_size=day&grouping=team",
                    f"API docs: {base}/api/docs/",
                    f"Admin:    {base}/admin/  login {ADMIN_USERNAME!r}, {admin_line}",
                    f"API user: {API_USERNAME!r} of {organization.name} ({organization.pk}),",
                    f"          with a grant on client {client.name} ({client.pk}); the token may also write.",
                    "",
                    "Try:",
                    f'  curl -H "Authorization: Bearer {shown}" \\',
                    f'    "{base}/v2/usage/team?start_date=2026-08-01&end_date=2026-11-15&bin_size=month"',
                    f'  curl -H "Authorization: Bearer {shown}" \\',
                    f'    "{base}/v2/clients/{client.pk}/analytics/apps/{app_id}/utilization'
                    f'?granularity=monthly&start_date=2026-10-01&end_date=2026-10-31"',
                    "",
                    token_header,
                    *([raw] if raw else []),
                ]
            )
        )
        if not no_serve:
            self.stdout.flush()
            self._serve(port)

    def _serve(self, port: int) -> None:
        """Gunicorn on the loopback interface, until interrupted (the embedded database lives as long)."""
        env = {name: value for name, value in os.environ.items() if name != "USAGE_COMMAND_LINE"}
        env["SECRET_KEY"] = env.get("SECRET_KEY") or secrets.token_urlsafe(50)
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
        config = Path(settings.BASE_DIR) / "gunicorn.conf.py"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(config)],
            cwd=settings.BASE_DIR,
            env=env,
            preexec_fn=stop_when_parent_dies if sys.platform == "linux" else None,
        )
        code = None
        try:
            code = server.wait()
        except KeyboardInterrupt:
            pass  # Ctrl-C reached gunicorn too (same process group): it is stopping
        finally:
            # Also on SIGTERM/SIGHUP of the demo (SystemExit from ends_on_signals): gunicorn first, so
            # its workers leave the embedded database before this process's exit handlers stop it.
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        if code not in (None, 0, -15):
            raise CommandError(f"gunicorn stopped with exit status {code}.")

    def _admin(self, *, reset: bool, known: str | None) -> tuple[str | None, bool]:
        """The admin's password to print (None: unknown here) and whether it was changed now."""
        wanted = os.environ.get("DEMO_ADMIN_PASSWORD")
        admin, created = get_user_model().objects.get_or_create(username=ADMIN_USERNAME)
        admin.is_staff = admin.is_superuser = admin.is_active = True
        password, changed = None, False
        if wanted:
            password = wanted
            changed = created or not admin.check_password(wanted)
        elif created or reset or not admin.has_usable_password():
            password, changed = secrets.token_urlsafe(12), True
        elif known and admin.check_password(known):
            password = known
        if changed:
            # Only then: a new password hash logs out the admin's open browser sessions.
            admin.set_password(password)
        admin.save()
        return password, changed

    def _token(
        self, organization_id: str, client_id: str, *, reset: bool, known: str | None
    ) -> tuple[str | None, ApiToken | None, bool]:
        """The live demo token: (its value if known, the token when its value is not, whether it is new)."""
        user, created = get_user_model().objects.get_or_create(username=API_USERNAME)
        if created:
            user.set_unusable_password()  # an API identity, not a login
            user.save()
        OrganizationMembership.objects.update_or_create(user=user, defaults={"organization_id": organization_id})
        ClientGrant.objects.get_or_create(user=user, client_id=client_id)
        live = ApiToken.objects.active().filter(user=user, name=TOKEN_NAME)
        if not reset:
            if known and live.filter(key_hash=hash_token(known)).exists():
                return known, None, False
            if kept := live.first():
                return None, kept, False
        # One live demo token at a time: a reset revokes the previous ones.
        ApiToken.objects.filter(user=user, name=TOKEN_NAME, revoked_at__isnull=True).update(revoked_at=timezone.now())
        _, raw = ApiToken.issue(user=user, name=TOKEN_NAME, can_write=True)
        return raw, None, True


class CredentialStore:
    """The demo's plain credentials, per database, in a file only its owner can read."""

    def __init__(self, path: Path, database: str) -> None:
        self.path = path
        self.database = database

    def _all(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def load(self) -> dict[str, str]:
        return self._all().get(self.database, {})

    def save(self, **values: str | None) -> None:
        everything = self._all()
        everything[self.database] = {name: value for name, value in values.items() if value}
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(everything, file, indent=2)
        os.chmod(temporary, 0o600)  # also when it existed with other permissions
        os.replace(temporary, self.path)


def database_key() -> str:
    """Which database the credentials belong to: host (or socket folder), port and name."""
    params = connection.settings_dict
    return f"{params['HOST'] or 'localhost'}:{params['PORT'] or 5432}/{params['NAME']}"


@contextmanager
def demo_lock(url: str | None) -> Iterator[BaseDatabaseWrapper]:
    """Hold the demo's advisory lock on a connection of its own, or refuse: another demo runs here."""
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    where = f"serving {url}" if url else "preparing"
    try:
        with holder.cursor() as cursor:
            # Named before the lock is tried, so that a second demo never sees a nameless holder.
            cursor.execute("SELECT set_config('application_name', %s, false)", [f"{LABEL} {where}, pid {os.getpid()}"])
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", LOCK_KEY)
            if not cursor.fetchone()[0]:
                cursor.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
                    "AND l.objsubid = 2 "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    LOCK_KEY,
                )
                row = cursor.fetchone()
                raise CommandError(already_running(row[0] if row else ""))
        yield holder
    finally:
        holder.close()  # releases the lock


def already_running(application_name: str) -> str:
    described = application_name.removeprefix(LABEL).strip() or "starting"
    pid = re.search(r"pid (\d+)", described)
    stop = f"Ctrl-C in its terminal, or `kill {pid[1]}`" if pid else "Ctrl-C in its terminal"
    return (
        f"A demo is already running on this database ({described}). Nothing was changed: its admin "
        f"password and API token keep working. Use that one, or stop it first ({stop})."
    )


def check_port_free(port: int) -> None:
    """Refuse before anything changes when another program listens on the port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CommandError(
                f"Port {port} is in use by another program ({error.strerror}). Nothing was changed; "
                "pick another with --port."
            ) from None


@contextmanager
def ends_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the demo as Ctrl-C does: unwinding, so that gunicorn is stopped and the
    exit handlers (which stop the embedded PostgreSQL) run, rather than dying on the spot."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    # Signal handlers can only be set from the main thread (not so in some test runners).
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_when_parent_dies() -> None:
    """In the gunicorn child, before exec: the kernel sends it SIGTERM when the demo dies, even by SIGKILL."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
