"""Create an API token for a Django user, granting it the organization and clients named (SPEC §2).

    python manage.py create_api_token USERNAME [--organization ORG_ID] [--client CLIENT_ID ...] [--staff] [--write]

The user is created when it does not exist. The raw token is printed alone on the last line; it is
never stored (only its hash), so it cannot be shown again.
"""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.models import ApiToken, Client, ClientGrant, Organization, OrganizationMembership


def _parse_uuid(value: str, option: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a UUID.")


def _organization(value: str | None) -> Organization | None:
    if value is None:
        return None
    organization = Organization.objects.filter(pk=_parse_uuid(value, "--organization")).first()
    if organization is None:
        raise CommandError(f"--organization {value}: no such organization.")
    return organization


def _clients(values: list[str]) -> list[Client]:
    wanted = {_parse_uuid(value, "--client"): value for value in values}
    found = Client.objects.in_bulk(list(wanted))
    missing = [text for pk, text in wanted.items() if pk not in found]
    if missing:
        raise CommandError(f"--client {', '.join(missing)}: no such client.")
    return [found[pk] for pk in wanted]


class Command(BaseCommand):
    help = "Create an API token for USERNAME (creating the user if needed) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--organization", metavar="ORG_ID", help="Organization the usage routes read.")
        parser.add_argument(
            "--client",
            metavar="CLIENT_ID",
            nargs="+",
            action="extend",
            default=[],
            help="Client(s) whose app analytics the token may read (repeatable).",
        )
        parser.add_argument("--staff", action="store_true", help="Make the user staff (reads every tenant).")
        parser.add_argument("--write", action="store_true", help="Allow the token to use the ingestion endpoint.")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(
        self,
        *args,
        username: str,
        organization: str | None,
        client: list[str],
        staff: bool,
        write: bool,
        name: str,
        **options,
    ) -> None:
        # Everything named is checked before anything is written.
        org = _organization(organization)
        clients = _clients(client)
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
            if staff:
                user.is_staff = True
            if created or staff:
                user.save()
            if org is not None:
                OrganizationMembership.objects.update_or_create(user=user, defaults={"organization": org})
            for each in clients:
                ClientGrant.objects.get_or_create(user=user, client=each)
            _, raw = ApiToken.issue(user=user, name=name, can_write=write)

        verb = "Created user" if created else "User"
        grants = [f"organization {org.name} ({org.pk})"] if org else []
        grants += [f"client {each.name} ({each.pk})" for each in clients]
        self.stdout.write(f"{verb} {username!r}" + (f"; granted {', '.join(grants)}" if grants else "") + ".")
        flags = [flag for flag, on in (("staff", user.is_staff), ("write", write)) if on]
        self.stdout.write("Token (shown once, store it now)" + (f" [{', '.join(flags)}]" if flags else "") + ":")
        self.stdout.write(raw)
