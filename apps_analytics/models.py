"""App utilization data (SPEC §9)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

# The tenancy models live in core (the bottom floor); imported here for the FKs and for existing imports
# (validate_timezone also for migration 0001).
from core.models import Client, ClientGrant, validate_timezone

__all__ = [
    "AppUsageReport",
    "Application",
    "Client",
    "ClientGrant",
    "ClientUser",
    "Department",
    "validate_timezone",
]


class Department(models.Model):
    """A department of a client; reports can be scoped to its members."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClientUser(models.Model):
    """A person at a client who uses applications."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="users")
    email = models.EmailField(max_length=254)
    departments = models.ManyToManyField(Department, blank=True, related_name="members")

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["client", "email"])]

    def __str__(self) -> str:
        return self.email


class Application(models.Model):
    """An application licensed by a client."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppUsageReport(models.Model):
    """Daily usage of one application by one user (the seed's ``app_usage_reports``)."""

    # Both lead a composite index below (and the unique constraint): separate indexes would only slow writes.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="usage_reports", db_index=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="usage_reports", db_index=False)
    user = models.ForeignKey(ClientUser, on_delete=models.CASCADE, related_name="usage_reports")
    activity_date = models.DateField()
    total_active_ms = models.BigIntegerField()
    total_session_count = models.IntegerField()

    class Meta:
        ordering = ["activity_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "user", "activity_date"], name="app_usage_report_unique_day"
            ),
            models.CheckConstraint(
                condition=Q(total_active_ms__gte=0) & Q(total_session_count__gte=0),
                name="app_usage_report_non_negative",
                violation_error_message="Active time and session count cannot be negative.",
            ),
        ]
        indexes = [
            # Detail and activity read one app over a date range; the list reads a client over a range.
            models.Index(fields=["application", "activity_date"], name="app_usage_app_date"),
            models.Index(fields=["client", "activity_date"], name="app_usage_client_date"),
        ]

    def __str__(self) -> str:
        return f"{self.application} {self.user} {self.activity_date}"
