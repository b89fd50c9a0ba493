from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, *, using: str, **kwargs) -> None:
    from django.core.management import call_command

    from core import versions

    # The data versions (core.versions), a new release of them, and the database cache's table.
    versions.new_release(using=using)
    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    """Shared API plumbing: tokens, authentication, the error envelope, rendering."""

    name = "core"
    verbose_name = "API access"

    def ready(self) -> None:
        from core import schema  # noqa: F401  (registers the OpenAPI authentication extension)

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="core_after_migrate")
