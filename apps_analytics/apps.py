from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, *, using: str, **kwargs) -> None:
    from apps_analytics import rollup
    from apps_analytics.models import Application, AppUsageReport, Client, ClientUser, Department
    from core import versions

    # What the app analytics read (core.versions): per client (its time zone too), and shared tables.
    for model in (AppUsageReport, Application, ClientUser, Department):
        versions.track(table=model._meta.db_table, tenant="client", column="client_id", area="apps", using=using)
    versions.track(table=Client._meta.db_table, tenant="client", column="id", area="apps", using=using)
    versions.track(table=ClientUser.departments.through._meta.db_table, area="apps", using=using)
    rollup.install(using=using)  # the reports' per-day and per-user summaries (apps_analytics.rollup)


class AppsAnalyticsConfig(AppConfig):
    """App utilization analytics per client (seed 001)."""

    name = "apps_analytics"
    verbose_name = "App analytics"

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="apps_analytics_after_migrate")
