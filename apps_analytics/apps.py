from django.apps import AppConfig


class AppsAnalyticsConfig(AppConfig):
    """App utilization analytics per client (seed 001)."""

    name = "apps_analytics"
    verbose_name = "App analytics"
