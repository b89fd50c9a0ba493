"""limit/offset pagination of every list (SPEC §12, the app lists of §9): DRF's LimitOffsetPagination.

DRF reads ``limit``/``offset`` leniently (a bad value falls back to the default, a large one is cut
to the maximum); here a bad value is a 400 naming it, as for every other parameter.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from core.errors import InvalidParameter


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """``{"count", "next", "previous", "results"}``; limit 100 by default, at most 1000."""

    default_limit = 100
    max_limit = 1000

    def get_limit(self, request: Request) -> int:
        return self._integer(request, self.limit_query_param, default=self.default_limit, low=1, high=self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._integer(request, self.offset_query_param, default=0, low=0, high=None)

    def _integer(self, request: Request, name: str, *, default: int, low: int, high: int | None) -> int:
        values = request.query_params.getlist(name)
        if not values:
            return default
        if len(values) > 1:
            raise InvalidParameter(f"{name} was given {len(values)} times; give it once.", {name: values})
        text = values[0].strip()
        bounds = f"between {low} and {high}" if high is not None else f"of at least {low}"
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None  # bigint-safe
        if number is None or number < low or (high is not None and number > high):
            raise InvalidParameter(f"{name} must be an integer {bounds}, got {values[0]!r}", {name: values[0]})
        return number

    def links(self, request: Request, *, limit: int, offset: int, count: int) -> dict[str, Any]:
        """count, next and previous of a page that the caller fetched itself (reports count their own rows)."""
        self.request, self.limit, self.offset, self.count = request, limit, offset, count
        return {"count": count, "next": self.get_next_link(), "previous": self.get_previous_link()}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_limit}
                parameter["description"] = f"Rows per page (default {self.default_limit}, at most {self.max_limit})."
            else:
                parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
                parameter["description"] = "Rows to skip (default 0)."
        return parameters
