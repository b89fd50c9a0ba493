from django.apps import AppConfig


class UsageConfig(AppConfig):
    """Device usage: organizations, teams, users, hosts, devices and their sessions."""

    name = "usage"
    verbose_name = "Device usage"
