"""``python manage.py demo [--port 8000] [--no-serve]``: a running service with demo data in one command.

Migrates, imports fixtures/demo.jsonl (idempotent: running it again changes nothing), creates or
resets the staff superuser ``admin`` (password from DEMO_ADMIN_PASSWORD, else generated), issues an
API token for a user of the first demo organization with a grant on the demo client, prints how to
use them, then serves the application with gunicorn (as production does, see gunicorn.conf.py)
unless --no-serve. Without SECRET_KEY in the environment the server gets a key generated for this run.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from core.interchange import Importer, ImportFailed, read_lines
from core.models import ApiToken, Client, ClientGrant, Organization, OrganizationMembership

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.jsonl"
ADMIN_USERNAME = "admin"
API_USERNAME = "demo"
TOKEN_NAME = "demo command"


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

    def handle(self, *args, port: int, no_serve: bool, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        with DEMO_FILE.open("rb") as stream:
            try:
                counts = Importer().run(read_lines(stream))
            except ImportFailed as failed:
                raise CommandError(f"{DEMO_FILE} could not be imported:\n" + "\n".join(failed.lines()))
        self.stdout.write("Demo data: " + ", ".join(f"{number} {kind}" for kind, number in counts.items()) + ".")

        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        organization_id, client_id, app_id = first_ids(DEMO_FILE)
        with transaction.atomic():
            self._admin(password)
            raw = self._token(organization_id, client_id)
        organization = Organization.objects.get(pk=organization_id)
        client = Client.objects.get(pk=client_id)

        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Portal:   {base}/  (log in with the admin login below; staff see every organization)",
                    f"          usage of {organization.name}: {base}/organizations/{organization.pk}/usage/"
                    "?start_date=2026-10-01&end_date=2026-10-31&bin_size=day&grouping=team",
                    f"API docs: {base}/api/docs/",
                    f"Admin:    {base}/admin/  login {ADMIN_USERNAME!r}, password {password}",
                    f"API user: {API_USERNAME!r} of {organization.name} ({organization.pk}),",
                    f"          with a grant on client {client.name} ({client.pk}); the token may also write.",
                    "",
                    "Try:",
                    f'  curl -H "Authorization: Bearer {raw}" \\',
                    f'    "{base}/v2/usage/team?start_date=2026-08-01&end_date=2026-11-15&bin_size=month"',
                    f'  curl -H "Authorization: Bearer {raw}" \\',
                    f'    "{base}/v2/clients/{client.pk}/analytics/apps/{app_id}/utilization'
                    f'?granularity=monthly&start_date=2026-10-01&end_date=2026-10-31"',
                    "",
                    "API token (shown once):",
                    raw,
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
            [sys.executable, "-m", "gunicorn", "--config", str(config)], cwd=settings.BASE_DIR, env=env
        )
        try:
            code = server.wait()
        except KeyboardInterrupt:
            server.terminate()
            code = server.wait(timeout=60)
        if code not in (0, -15):
            raise CommandError(f"gunicorn stopped with exit status {code}.")

    def _admin(self, password: str) -> None:
        admin, _ = get_user_model().objects.get_or_create(username=ADMIN_USERNAME)
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()

    def _token(self, organization_id: str, client_id: str) -> str:
        user, created = get_user_model().objects.get_or_create(username=API_USERNAME)
        if created:
            user.set_unusable_password()  # an API identity, not a login
            user.save()
        OrganizationMembership.objects.update_or_create(user=user, defaults={"organization_id": organization_id})
        ClientGrant.objects.get_or_create(user=user, client_id=client_id)
        # One live demo token at a time: the previous runs' tokens are revoked.
        ApiToken.objects.filter(user=user, name=TOKEN_NAME, revoked_at__isnull=True).update(revoked_at=timezone.now())
        _, raw = ApiToken.issue(user=user, name=TOKEN_NAME, can_write=True)
        return raw
