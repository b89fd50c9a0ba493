from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared API plumbing: tokens, authentication, the error envelope, rendering."""

    name = "core"
    verbose_name = "API access"

    def ready(self) -> None:
        from core import schema  # noqa: F401  (registers the OpenAPI authentication extension)
