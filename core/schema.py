"""OpenAPI description of the authentication (bearer token, session) and of the error envelope (drf-spectacular)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer <token>`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "cookieAuth"
    priority = 1  # before drf-spectacular's own description of the scheme

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The session of a logged-in user (the portal); unsafe methods also need the CSRF token "
            "(X-CSRFToken header).",
        }


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "invalid_parameter",
            "authentication_required",
            "permission_denied",
            "not_found",
            "method_not_allowed",
            "payload_too_large",
            "rate_limited",
            "server_error",
            "service_unavailable",
        ]
    )
    message = serializers.CharField(help_text="What is wrong, naming the parameter, in words a user can act on.")
    details = serializers.DictField(help_text="The parameters concerned and the values received.")


class ErrorSerializer(serializers.Serializer):
    """The error envelope of every non-2xx response."""

    error = ErrorBodySerializer()


def error_responses(**descriptions: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses in the error envelope, e.g. ``error_responses(e400="...", e404="...")``."""
    return {int(key[1:]): OpenApiResponse(ErrorSerializer, description=text) for key, text in descriptions.items()}


USAGE_ERRORS = error_responses(
    e400="Invalid or unknown parameters (the message names them).",
    e401="Missing, unknown or revoked token.",
    e403="The token may not read this organization.",
    e404="Unknown route or grouping.",
)
