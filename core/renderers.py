"""Fast JSON rendering: report rows are plain dicts, serialized by orjson in one call."""

from __future__ import annotations

from decimal import Decimal

import orjson
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class OrjsonRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class FormatParameterNegotiation(DefaultContentNegotiation):
    """Every API response is JSON (or CSV streamed by hand, chosen by a ``format`` parameter).

    DRF would answer 406 to ``Accept: text/csv`` or a browser's ``text/html``, since it knows no
    renderer for them, refusing a client that asks for CSV both ways. The Accept header is
    therefore not consulted; request bodies are still parsed by their content type.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
