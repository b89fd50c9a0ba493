"""Query parameters of the app analytics endpoints: parsed into typed values, every mistake a 400.

Each endpoint has a serializer class listing its parameters (drf-spectacular documents them from
it). ``parse`` rejects unknown and repeated parameters, turns field errors into the error envelope
naming the parameter and its value, and returns typed values (``reporting`` dataclasses).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from rest_framework import serializers
from rest_framework.request import Request

from apps_analytics import reporting
from apps_analytics.models import Client, Department
from core.errors import InvalidParameter

MAX_PERIOD_DAYS = 366
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class IsoDateField(serializers.DateField):
    """A date written exactly YYYY-MM-DD (no other forms, no time part)."""

    def __init__(self, *, param: str, **kwargs: Any) -> None:
        messages = {"required": f"{param} is required.", "invalid": f"{param} must be a date written YYYY-MM-DD."}
        super().__init__(error_messages=messages, **kwargs)

    def to_internal_value(self, value: Any) -> date:
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            self.fail("invalid")
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail("invalid")


def _choice(param: str, choices: list[str], **kwargs: Any) -> serializers.ChoiceField:
    listed = ", ".join(choices)
    messages = {"required": f"{param} is required.", "invalid_choice": f"{param} must be one of: {listed}."}
    return serializers.ChoiceField(choices=choices, error_messages=messages, **kwargs)


def _department_field(param: str, *, help_text: str) -> serializers.CharField:
    messages = {"blank": f"{param} must list at least one department UUID."}
    return serializers.CharField(required=False, error_messages=messages, help_text=help_text)


def _ordering_choices(names: list[str]) -> list[str]:
    return [variant for name in names for variant in (name, f"-{name}")]


class QueryParams(serializers.Serializer):
    """Base class: one serializer field per query parameter."""

    # Parameters that may be repeated (their values are joined with commas); all others appear once.
    repeatable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def parse(cls, request: Request, **context: Any) -> dict[str, Any]:
        """The typed values of the request's query parameters, or an InvalidParameter (400)."""
        query = request.query_params
        fields = cls().fields
        unknown = [name for name in query if name not in fields]
        if unknown:
            raise InvalidParameter(
                f"Unknown query parameter(s): {', '.join(unknown)}. Accepted: {', '.join(fields) or 'none'}.",
                {name: query.get(name) for name in unknown},
            )
        data: dict[str, str] = {}
        for name in query:
            values = query.getlist(name)
            if len(values) > 1 and name not in cls.repeatable:
                raise InvalidParameter(f"{name} was given more than once.", {name: values})
            data[name] = ",".join(values)
        serializer = cls(data=data, context=context)
        if not serializer.is_valid():
            name, errors = next(iter(serializer.errors.items()))
            raise InvalidParameter(str(errors[0]), {name: data.get(name)})
        return serializer.validated_data


class ScopeParams(QueryParams):
    """The period and the department scope, shared by every report."""

    repeatable = frozenset({"department_ids", "department_id"})

    start_date = IsoDateField(param="start_date", help_text="Start of the period (YYYY-MM-DD), client's local date.")
    end_date = IsoDateField(param="end_date", help_text="End of the period, inclusive (YYYY-MM-DD).")
    department_ids = _department_field(
        "department_ids",
        help_text="Comma-separated department UUIDs: only usage of users in any of them (each user counted once).",
    )
    department_id = _department_field(
        "department_id",
        help_text="Deprecated alias of department_ids; when both are given their departments are merged.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        period = _period(attrs, "start_date", "end_date")
        raw = {name: attrs[name] for name in ("department_ids", "department_id") if name in attrs}
        client: Client = self.context["client"]
        return {
            **attrs,
            "scope": reporting.Scope(client_id=client.id, period=period, department_ids=_departments(client, raw)),
        }


def _period(attrs: dict[str, Any], start_name: str, end_name: str) -> reporting.Period:
    start, end = attrs[start_name], attrs[end_name]
    details = {start_name: start.isoformat(), end_name: end.isoformat()}
    if end < start:
        raise InvalidParameter(f"{end_name} must not be before {start_name}.", details)
    period = reporting.Period(start=start, end=end)
    if period.days > MAX_PERIOD_DAYS:
        raise InvalidParameter(
            f"The period {start_name} to {end_name} spans {period.days} days; at most {MAX_PERIOD_DAYS} are allowed.",
            details,
        )
    return period


def _departments(client: Client, raw: dict[str, str]) -> tuple[UUID, ...]:
    """The departments of department_ids and department_id merged, each checked to be the client's."""
    ids: dict[UUID, None] = {}  # ordered and without duplicates
    for name, value in raw.items():
        for item in value.split(","):
            try:
                ids[UUID(item.strip())] = None
            except ValueError:
                raise InvalidParameter(
                    f"{name} must be comma-separated department UUIDs; {item.strip()!r} is not a UUID.", {name: value}
                )
    if not ids:
        return ()
    known = set(Department.objects.filter(client=client, id__in=list(ids)).values_list("id", flat=True))
    foreign = [str(department) for department in ids if department not in known]
    if foreign:
        name = "department_ids" if "department_ids" in raw else "department_id"
        raise InvalidParameter(f"{name}: no department {', '.join(foreign)} in this client.", {name: foreign})
    return tuple(ids)


class UtilizationParams(ScopeParams):
    """Seed 001's parameters: the scope plus granularity and the optional comparison period."""

    granularity = _choice(
        "granularity",
        list(reporting.GRANULARITY_UNITS),
        help_text="Calendar buckets over which avg_time_ms_per_day is averaged (required, no default).",
    )
    compare_start_date = IsoDateField(
        param="compare_start_date",
        required=False,
        help_text="Comparison period start (YYYY-MM-DD). Must be given with compare_end_date.",
    )
    compare_end_date = IsoDateField(
        param="compare_end_date",
        required=False,
        help_text="Comparison period end, inclusive (YYYY-MM-DD). Must be given with compare_start_date.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        start, end = attrs.get("compare_start_date"), attrs.get("compare_end_date")
        if (start is None) != (end is None):
            given, missing = (
                ("compare_start_date", "compare_end_date")
                if end is None
                else ("compare_end_date", "compare_start_date")
            )
            raise InvalidParameter(
                f"{given} requires {missing} to be provided",
                {
                    "compare_start_date": start.isoformat() if start else None,
                    "compare_end_date": end.isoformat() if end else None,
                },
            )
        compare = _period(attrs, "compare_start_date", "compare_end_date") if start else None
        return {**attrs, "compare": compare}


class PageParams(QueryParams):
    """limit/offset pagination."""

    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        error_messages={
            "invalid": "limit must be an integer.",
            "min_value": "limit must be at least 1.",
            "max_value": f"limit must be at most {MAX_LIMIT}.",
        },
        help_text=f"Rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
    )
    offset = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        error_messages={"invalid": "offset must be an integer.", "min_value": "offset must be at least 0."},
        help_text="Rows to skip (default 0).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "page": reporting.Page(limit=attrs["limit"], offset=attrs["offset"])}


def _ordering(value: str) -> reporting.Ordering:
    return reporting.Ordering(name=value.removeprefix("-"), descending=value.startswith("-"))


class AppsUtilizationParams(UtilizationParams, PageParams):
    """App Utilization: seed 001's parameters, ordering and pagination."""

    ordering = _choice(
        "ordering",
        _ordering_choices(list(reporting.APP_ORDERINGS)),
        required=False,
        default="name",
        help_text="Sort key, '-' for descending (default name); metrics sort by the primary period's value.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "ordering": _ordering(attrs["ordering"])}


class ActivityParams(ScopeParams):
    """App Activity: the scope and one daily metric."""

    metric = _choice("metric", list(reporting.DAILY_METRICS), help_text="The daily metric (required).")


class AppUsersParams(ScopeParams, PageParams):
    """App Utilization Users for One App: the scope, ordering and pagination."""

    ordering = _choice(
        "ordering",
        _ordering_choices(list(reporting.USER_ORDERINGS)),
        required=False,
        default="-active_time_ms",
        help_text="Sort key, '-' for descending (default -active_time_ms, then email).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "ordering": _ordering(attrs["ordering"])}


class AppListParams(PageParams):
    """The client's apps: pagination only (ordered by name)."""


class NoParams(QueryParams):
    """An endpoint without query parameters (any given is unknown)."""
