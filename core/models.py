"""Who may read and write what: the tenants, their members and grants, and the API tokens.

Tenancy is the bottom floor that ``usage`` and ``apps_analytics`` build on: an **Organization** owns
the device usage rows, a **Client** the app analytics rows; an **OrganizationMembership** ties a
Django login to its organization, a **ClientGrant** to a client it may read. The four models were
moved here from the two apps (migration core 0002) and keep their tables.

API tokens: shown once, stored hashed, revocable, with a last-used time.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "ua_"


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. Europe/Paris).") from exc


class Organization(models.Model):
    """A tenant of the device usage data. Every usage row belongs to exactly one; no token reads another's rows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)

    class Meta:
        db_table = "usage_organization"  # moved from the usage app; the table kept its name
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationMembership(models.Model):
    """Ties a Django login (and so its API tokens) to the organization its usage routes read."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_membership")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        db_table = "usage_organizationmembership"

    def __str__(self) -> str:
        return f"{self.user} → {self.organization}"


class Client(models.Model):
    """A tenant of the app analytics (a customer organization); its dates are in its own time zone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        db_table = "apps_analytics_client"  # moved from the apps_analytics app; the table kept its name
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClientGrant(models.Model):
    """Lets a Django login (and its API tokens) read one client's analytics."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_grants")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="grants")

    class Meta:
        db_table = "apps_analytics_clientgrant"
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="client_grant_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.client}"


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token of a Django user. Only its SHA-256 hash and a short prefix are stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    can_write = models.BooleanField(default=False, help_text="May use the ingestion endpoints.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, *, user, name: str = "", can_write: bool = False) -> tuple[ApiToken, str]:
        """Create a token and return it with its raw value, which is never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=raw[:10], key_hash=hash_token(raw), can_write=can_write)
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
