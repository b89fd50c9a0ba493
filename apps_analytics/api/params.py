"""Query parameters of the app analytics endpoints, declared with the shared parameter layer
(``core.params``: the same reading, rejections and wording as every other route), turned into
typed values (``reporting`` dataclasses) by each declaration's ``validate``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from apps_analytics import reporting
from apps_analytics.models import Client, Department
from core import params as p
from core.errors import InvalidParameter

MAX_PERIOD_DAYS = 366
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _iso_date(**kwargs: Any) -> p.DateParamField:
    return p.DateParamField(forms=("YYYY-MM-DD",), **kwargs)


def _departments_field(**kwargs: Any) -> p.ListParamField:
    return p.ListParamField(child=p.UUIDParamField(), commas=True, required=False, **kwargs)


class ScopeParams(p.Params):
    """The period and the department scope, shared by every report."""

    start_date = _iso_date(help_text="Start of the period (YYYY-MM-DD), client's local date.")
    end_date = _iso_date(help_text="End of the period, inclusive (YYYY-MM-DD).")
    department_ids = _departments_field(
        help_text="Comma-separated department UUIDs: only usage of users in any of them (each user counted once).",
    )
    department_id = _departments_field(
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


def _departments(client: Client, raw: dict[str, list[UUID]]) -> tuple[UUID, ...]:
    """The departments of department_ids and department_id merged, each checked to be the client's."""
    ids = dict.fromkeys(department for values in raw.values() for department in values)  # ordered, no duplicates
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

    granularity = p.ChoiceParamField(
        choices=list(reporting.GRANULARITY_UNITS),
        help_text="Calendar buckets over which avg_time_ms_per_day is averaged (required, no default).",
    )
    compare_start_date = _iso_date(
        required=False,
        help_text="Comparison period start (YYYY-MM-DD). Must be given with compare_end_date.",
    )
    compare_end_date = _iso_date(
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


class PageParams(p.Params):
    """limit/offset pagination."""

    limit = p.limit_field(default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    offset = p.offset_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "page": reporting.Page(limit=attrs["limit"], offset=attrs["offset"])}


def _ordering(value: str) -> reporting.Ordering:
    return reporting.Ordering(name=value.removeprefix("-"), descending=value.startswith("-"))


class AppsUtilizationParams(UtilizationParams, PageParams):
    """App Utilization: seed 001's parameters, ordering and pagination."""

    ordering = p.OrderingField(
        names=list(reporting.APP_ORDERINGS),
        required=False,
        default="name",
        help_text="Sort key, '-' for descending (default name); metrics sort by the primary period's value.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "ordering": _ordering(attrs["ordering"])}


class ActivityParams(ScopeParams):
    """App Activity: the scope and one daily metric."""

    metric = p.ChoiceParamField(choices=list(reporting.DAILY_METRICS), help_text="The daily metric (required).")


class AppUsersParams(ScopeParams, PageParams):
    """App Utilization Users for One App: the scope, ordering and pagination."""

    ordering = p.OrderingField(
        names=list(reporting.USER_ORDERINGS),
        required=False,
        default="-active_time_ms",
        help_text="Sort key, '-' for descending (default -active_time_ms, then email).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        return {**attrs, "ordering": _ordering(attrs["ordering"])}


class AppListParams(PageParams):
    """The client's apps: pagination only (ordered by name)."""


class NoParams(p.Params):
    """An endpoint without query parameters (any given is unknown)."""
