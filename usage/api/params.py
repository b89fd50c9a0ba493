"""Request parameters of the device usage routes: reading, validation, and the report range.

Parameters come from the query string, a form-encoded body or a JSON body, merged. Each route
declares its parameters with a DRF input serializer; anything it does not declare is rejected, so
that a typo never silently returns an unfiltered report.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from core.errors import InvalidParameter
from usage.binning import MIN_BIN_SECONDS, local_midnight

MAX_BIN_DIGITS = 100  # far beyond any range; bins longer than the range are one bin
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
DATE_FORMATS = {"YYYYMMDD": "%Y%m%d", "YYYY-MM-DD": "%Y-%m-%d", "YYYY/MM/DD": "%Y/%m/%d"}

# --------------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------------


class DateParamField(serializers.Field):
    """A calendar date in one of the accepted forms (v2 and v1: YYYYMMDD, YYYY-MM-DD)."""

    def __init__(self, *, forms: Iterable[str] = ("YYYYMMDD", "YYYY-MM-DD"), **kwargs: Any) -> None:
        self.forms = tuple(forms)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> date:
        text = str(data).strip()
        for form in self.forms:
            try:
                value = datetime.strptime(text, DATE_FORMATS[form]).date()
            except ValueError:
                continue
            # Near year 1 or 9999 a local midnight (or the day after end_date) is outside Python's datetime.
            if not MIN_DATE <= value <= MAX_DATE:
                raise serializers.ValidationError(f"must be between {MIN_DATE} and {MAX_DATE}, got {text!r}")
            return value
        raise serializers.ValidationError(f"must be a date as {' or '.join(self.forms)}, got {text!r}")

    def to_representation(self, value: date) -> str:
        return value.isoformat()


class TimezoneField(serializers.Field):
    """An IANA time zone name, such as America/Los_Angeles or US/Pacific."""

    def to_internal_value(self, data: Any) -> zoneinfo.ZoneInfo:
        text = str(data).strip()
        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(
                f"must be an IANA time zone name such as UTC or America/Los_Angeles, got {text!r}"
            )

    def to_representation(self, value: zoneinfo.ZoneInfo) -> str:
        return str(value)


class BinSizeField(serializers.Field):
    """A calendar bin (hour, day, week, month) or, where allowed, a number of seconds >= 60."""

    def __init__(self, *, allow_seconds: bool, **kwargs: Any) -> None:
        self.allow_seconds = allow_seconds
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str | int:
        text = str(data).strip().lower()
        if text in ("hour", "day", "week", "month"):
            return text
        choices = "hour, day, week, month" + (
            f" or a number of seconds (at least {MIN_BIN_SECONDS})" if self.allow_seconds else ""
        )
        # isdigit() alone admits "²", and int() refuses more than sys.get_int_max_str_digits() digits.
        if self.allow_seconds and text.isascii() and text.isdigit() and len(text) <= MAX_BIN_DIGITS:
            if int(text) < MIN_BIN_SECONDS:
                raise serializers.ValidationError(f"must be at least {MIN_BIN_SECONDS} seconds, got {text}")
            return int(text)
        raise serializers.ValidationError(f"must be one of {choices}, got {str(data)!r}")

    def to_representation(self, value: str | int) -> str:
        return str(value)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "must be true or false, got {input!r}"}


class ChoiceParamField(serializers.ChoiceField):
    default_error_messages = {"invalid_choice": "must be one of {choices}, got {input!r}"}

    def fail(self, key: str, **kwargs: Any) -> None:
        if key == "invalid_choice":
            kwargs["choices"] = ", ".join(str(c) for c in self.choices)
            kwargs["input"] = str(kwargs.get("input"))
        super().fail(key, **kwargs)


class UUIDListField(serializers.ListField):
    # A child field, so that an error carries the index of the bad value (validate() reports it).
    child = serializers.UUIDField(error_messages={"invalid": "must be UUIDs, got {value!r}"})


class StringListField(serializers.ListField):
    # validate() puts the parameter name before the message: "filter_team_name must not be empty".
    child = serializers.CharField(trim_whitespace=True, error_messages={"blank": "must not be empty"})


def openapi_parameters(serializer: type[serializers.Serializer]) -> list[OpenApiParameter]:
    """The OpenAPI query parameters of a route, from its parameter serializer (shared by v1 and v2)."""
    return [
        OpenApiParameter(
            name,
            OpenApiTypes.STR,
            many=isinstance(field, serializers.ListField),
            required=field.required,
            description=(field.help_text or "") + (" Repeatable." if isinstance(field, serializers.ListField) else ""),
        )
        for name, field in serializer().fields.items()
    ]


# --------------------------------------------------------------------------------------------
# Reading parameters
# --------------------------------------------------------------------------------------------


def request_params(request: Request, *, extra: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
    """Every parameter of the request as a list of string values: query string, then body."""
    params: dict[str, list[str]] = {key: request.query_params.getlist(key) for key in request.query_params}
    body = extra if extra is not None else (request.data if request.method in ("POST", "PUT", "PATCH") else {})
    if hasattr(body, "getlist"):
        items = [(key, body.getlist(key)) for key in body]
    elif isinstance(body, Mapping):
        items = [(key, value if isinstance(value, list) else [value]) for key, value in body.items()]
    else:
        raise InvalidParameter("The request body must be a JSON object or form-encoded parameters.")
    for key, values in items:
        params.setdefault(key, []).extend(
            "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for v in values
        )
    return params


def validate(serializer_class: type[serializers.Serializer], params: dict[str, list[str]]) -> dict[str, Any]:
    """Validate ``params`` with ``serializer_class``; the first problem becomes a 400 naming it."""
    fields = serializer_class().fields
    unknown = sorted(key for key in params if key not in fields)
    if unknown:
        raise InvalidParameter(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Accepted: {', '.join(sorted(fields))}.",
            {name: params[name] for name in unknown},
        )
    data: dict[str, Any] = {}
    for key, values in params.items():
        if isinstance(fields[key], serializers.ListField):
            data[key] = values
        elif len(values) > 1:
            raise InvalidParameter(f"{key} was given {len(values)} times; give it once.", {key: values})
        else:
            data[key] = values[0]
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        name, problems = next(iter(serializer.errors.items()))
        value = params[name][-1] if name in params else None
        if isinstance(problems, dict):  # a list field: {index: [errors]}; report the value at fault
            index, errors = next(iter(problems.items()))
            problem, value = errors[0], params[name][int(index)]
        else:
            problem = problems[0]
        # Our messages read on from the name ("start_date must be ..."); DRF's are sentences of their own.
        message = f"{name} {problem}" if str(problem)[:1].islower() else f"{name}: {problem}"
        if problem.code == "required":
            message = f"{name} is required"
        if name == "non_field_errors":
            message = str(problem)
        raise InvalidParameter(message, {name: value})
    return serializer.validated_data


# --------------------------------------------------------------------------------------------
# Report range
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRange:
    start: datetime
    end: datetime
    tz: zoneinfo.ZoneInfo


def report_range(*, start_date: date, end_date: date | None, tz: zoneinfo.ZoneInfo) -> ReportRange:
    """``[start_date 00:00, end_date + 1 day 00:00)`` in ``tz`` (end inclusive); no end: now."""
    if end_date is not None and end_date < start_date:
        raise InvalidParameter(
            f"end_date {end_date.isoformat()} is before start_date {start_date.isoformat()}",
            {"start_date": start_date.isoformat(), "end_date": end_date.isoformat()},
        )
    start = local_midnight(start_date, tz)
    end = local_midnight(end_date + timedelta(days=1), tz) if end_date else timezone.now().astimezone(UTC)
    if end <= start:
        raise InvalidParameter(
            f"start_date {start_date.isoformat()} is in the future; give an end_date or an earlier start_date",
            {"start_date": start_date.isoformat()},
        )
    return ReportRange(start=start, end=end, tz=tz)


def requested_range(values: Mapping[str, Any]) -> ReportRange:
    """The report range of validated ``start_date``, ``end_date`` and ``timezone`` (default UTC)."""
    return report_range(
        start_date=values["start_date"],
        end_date=values.get("end_date"),
        tz=values.get("timezone") or zoneinfo.ZoneInfo("UTC"),
    )
