from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_timeline(sender, *, using: str, **kwargs) -> None:
    from usage.timeline import install

    install(using=using)


class UsageConfig(AppConfig):
    """Device usage: organizations, teams, users, hosts, devices and their sessions."""

    name = "usage"
    verbose_name = "Device usage"

    def ready(self) -> None:
        # The sessions' timeline columns and triggers (usage.timeline), after every migrate.
        post_migrate.connect(_install_timeline, sender=self, dispatch_uid="usage_timeline_install")
