from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, *, using: str, **kwargs) -> None:
    from core import versions
    from usage import rollup, timeline
    from usage.models import Device, Host, Team, UsageEvent, User

    timeline.install(using=using)
    rollup.install(using=using)  # reads the timeline columns
    # What the device usage reports read (core.versions): per organization, and shared tables.
    for model in (UsageEvent, Device, Team, User):
        versions.track(
            table=model._meta.db_table, tenant="organization", column="organization_id", area="usage", using=using
        )
    for table in (Host._meta.db_table, User.teams.through._meta.db_table):
        versions.track(table=table, area="usage", using=using)


class UsageConfig(AppConfig):
    """Device usage: organizations, teams, users, hosts, devices and their sessions."""

    name = "usage"
    verbose_name = "Device usage"

    def ready(self) -> None:
        # The sessions' timeline columns and triggers (usage.timeline) and the data versions.
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="usage_after_migrate")
