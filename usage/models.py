"""Device usage data (SPEC §4)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

# The tenancy models live in core (the bottom floor); imported here for the FKs and for existing imports.
from core.models import Organization, OrganizationMembership

__all__ = ["Device", "Host", "Organization", "OrganizationMembership", "Team", "UsageEvent", "User"]


class Team(models.Model):
    """A team of an organization; sessions are charged to it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.name


class User(models.Model):
    """A person who uses devices (not a Django login)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="users")
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")

    class Meta:
        # "Users" are Django's logins (under Authentication and Authorization); these are not.
        verbose_name = "device user"
        ordering = ["email"]
        indexes = [models.Index(fields=["organization", "email"])]

    def __str__(self) -> str:
        return self.email


class Host(models.Model):
    """A machine that hosts devices; its country places the devices for `/v1/usage/country`."""

    hostname = models.CharField(max_length=255, unique=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class Device(models.Model):
    """A device on a host; its address ``device_id@hostname`` is unique."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="devices")
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="devices")
    device_id = models.CharField(max_length=200)
    model = models.CharField(max_length=200, blank=True)
    os = models.CharField(max_length=50, blank=True, help_text="For example android or ios.")
    device_type = models.CharField(max_length=50, blank=True, help_text="For example phone or tablet.")

    class Meta:
        ordering = ["device_id"]
        constraints = [models.UniqueConstraint(fields=["device_id", "host"], name="device_address_unique")]
        indexes = [models.Index(fields=["organization"])]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.device_id}@{self.host.hostname}"


class UsageEvent(models.Model):
    """One device session. Since Aug 2022 it carries a user and a team; older ones one of them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The session table is the fact table that imports fill by the million. Its references are
    # resolved and checked by every writer (import, ingestion, admin forms) and Django emulates
    # on_delete, so the database-level foreign keys are left out: their deferred per-row checks
    # were measured at about half of PostgreSQL's cost per imported session.
    # The organization is indexed by usage_event_org_start (leading column).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="usage_events", db_index=False, db_constraint=False
    )
    # Indexed by usage_event_device_start (leading column).
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="usage_events", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_events", db_constraint=False
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_events", db_constraint=False
    )
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    automated = models.BooleanField(default=False)

    class Meta:
        ordering = ["start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gte=F("start_time")),
                name="usage_event_end_after_start",
                violation_error_message="The end time must not be before the start time.",
            ),
        ]
        indexes = [
            # Reports read sessions overlapping a range: start_time < range end and end_time > range start.
            models.Index(fields=["organization", "start_time"], name="usage_event_org_start"),
            models.Index(fields=["organization", "end_time"], name="usage_event_org_end"),
            # Discovery: a device's first use is one probe of this index, its last use and idle_since /
            # used_since an index-only scan of the device's entries (end_time is included). It replaces the
            # plain device index (deletes, per-device lookups), so imports keep the same number of indexes:
            # a separate (device, end_time) index made the last use a probe too but cost imports ~35% more
            # PostgreSQL CPU (bench_import), for a gain the page sizes do not need (bench_discovery).
            models.Index(fields=["device", "start_time"], name="usage_event_device_start", include=["end_time"]),
        ]

    def __str__(self) -> str:
        return f"Session {str(self.pk)[:8]} from {self.start_time:%Y-%m-%d %H:%M:%S %Z}"

    @property
    def duration_seconds(self) -> float:
        return (self.end_time - self.start_time).total_seconds()
