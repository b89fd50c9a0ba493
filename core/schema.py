"""The OpenAPI schema: authentication (bearer token, session), the error envelope, typed response rows, and
the schema view (``/api/schema/``, YAML, or JSON with ``?format=json``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularAPIView
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


class ParamsBodyScheme(OpenApiSerializerExtension):
    """A route's parameter declaration sent as a JSON object body: the same types as in the query string."""

    target_class = "core.params.Params"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        from core.params import openapi_body

        return openapi_body(type(self.target) if not isinstance(self.target, type) else self.target)


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


# What every API route may answer besides its own errors.
COMMON_ERRORS = {
    "e401": "Missing, malformed, unknown or revoked token.",
    "e503": "The database is unavailable or the query ran past its time limit: retry later, or narrow the request.",
}


def error_responses(**descriptions: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses in the error envelope, e.g. ``error_responses(e400="...", e404="...")``;
    401 and 503, which every route may answer, are added unless given."""
    return {
        int(key[1:]): OpenApiResponse(ErrorSerializer, description=text)
        for key, text in {**COMMON_ERRORS, **descriptions}.items()
    }


USAGE_ERRORS = error_responses(
    e400="Invalid or unknown parameters (the message names them).",
    e403="The token may not read this organization.",
    e404="Unknown route or grouping, or (staff) an unknown org_id.",
)
# Routes that also take their parameters as a form-encoded or JSON body.
USAGE_POST_ERRORS = {
    **USAGE_ERRORS,
    **error_responses(e415="The body is neither form-encoded parameters nor a JSON object."),
}

# --------------------------------------------------------------------------------------------
# Response rows: declared once, read by the renderer (field names and order) and by the schema.
# --------------------------------------------------------------------------------------------

LOCAL_DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


def local_datetime(**kwargs) -> serializers.RegexField:
    """A local date and time written "YYYY-MM-DD HH:MM:SS"."""
    return serializers.RegexField(LOCAL_DATETIME_PATTERN, **kwargs)


class Row:
    """A response row type: its fields in order, each a serializer field that only the schema reads
    (rows are rendered from tuples or dicts, never through a serializer: the fast path stays)."""

    def __init__(self, name: str, fields: Mapping[str, serializers.Field]) -> None:
        self.name = name
        self.fields = dict(fields)

    @property
    def names(self) -> list[str]:
        return list(self.fields)

    def pick(self, names: Iterable[str]) -> list[str]:
        """``names`` in the given order, each checked to be a declared field (what a renderer writes)."""
        names = list(names)
        undeclared = [name for name in names if name not in self.fields]
        if undeclared:
            raise LookupError(f"{self.name} does not declare {', '.join(undeclared)}")
        return names

    def serializer(self) -> serializers.Serializer:
        return inline_serializer(self.name, copy.deepcopy(self.fields))  # the serializer class takes them over

    def report(self, name: str, description: str, **tail: serializers.Field) -> dict[tuple[int, str], OpenApiResponse]:
        """The 200 responses: JSON ``{"report": [rows], **tail}``, or CSV (format=csv)."""
        body = inline_serializer(name, {"report": serializers.ListField(child=self.serializer()), **tail})
        return {
            (200, "application/json"): OpenApiResponse(response=body, description=description),
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description=description),
        }


class SchemaView(SpectacularAPIView):
    """The schema, YAML by default; ``?format=json`` (or ``Accept: application/json``) gives JSON."""

    def perform_content_negotiation(self, request, force=False):
        renderers = self.get_renderers()
        wanted = request.query_params.get("format")
        if wanted is None and "application/json" in request.headers.get("Accept", ""):
            wanted = "json"
        for renderer in renderers:
            if renderer.format == wanted:
                return renderer, renderer.media_type
        return renderers[0], renderers[0].media_type
