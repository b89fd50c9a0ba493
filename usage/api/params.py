"""Parameters of the device usage routes: the bin size and the report range.

Reading, rejecting unknown and repeated parameters and the shared field types live in
``core.params`` (the same for every route); they are re-exported here for the usage routes.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from core.errors import InvalidParameter
from core.params import (  # noqa: F401 (re-exported: the usage routes' parameter vocabulary)
    BooleanParamField,
    ChoiceParamField,
    DateParamField,
    IntegerParamField,
    ListParamField,
    ParamField,
    Params,
    TextParamField,
    TimezoneField,
    UUIDParamField,
    openapi_body,
    openapi_parameters,
    request_params,
    text_list,
    uuid_list,
    validate,
)
from usage.binning import MIN_BIN_SECONDS, local_midnight
from usage.reporting import FILTERS, Filters

# A whole number of seconds, at least MIN_BIN_SECONDS (60), at most 100 digits (bins longer than the range are one bin).
MIN_BIN_PATTERN = re.compile("[6-9][0-9]|[1-9][0-9]{2,99}")
CALENDAR_BINS = ("hour", "day", "week", "month")


class BinSizeField(ParamField):
    """A calendar bin (hour, day, week, month) or, where allowed, a number of seconds >= 60."""

    def __init__(self, *, allow_seconds: bool, **kwargs: Any) -> None:
        self.allow_seconds = allow_seconds
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str | int:
        text = str(data)
        if text in CALENDAR_BINS:
            return text
        if self.allow_seconds and MIN_BIN_PATTERN.fullmatch(text):
            return int(text)
        choices = ", ".join(CALENDAR_BINS) + (
            f" or a number of seconds (at least {MIN_BIN_SECONDS})" if self.allow_seconds else ""
        )
        if self.allow_seconds and text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 3:
            raise serializers.ValidationError(f"must be at least {MIN_BIN_SECONDS} seconds, got {text}")
        raise serializers.ValidationError(f"must be one of {choices}, got {text!r}")

    def to_representation(self, value: str | int) -> str:
        return str(value)

    def openapi(self) -> dict[str, Any]:
        if not self.allow_seconds:
            return {"type": "string", "enum": list(CALENDAR_BINS)}
        return {"type": "string", "pattern": f"^(?:{'|'.join(CALENDAR_BINS)}|{MIN_BIN_PATTERN.pattern})$"}


# --------------------------------------------------------------------------------------------
# Filters: the parameters of each version, generated from the reporting core's declarations
# --------------------------------------------------------------------------------------------

FILTER_VALUES = {"uuid": uuid_list, "text": text_list}


def filter_fields(version: str) -> dict[str, ListParamField]:
    """The filter parameters of ``version`` ("v2" or "v1") by name; each validates into its
    ``Filters`` field (``source``), so that ``filters_from`` needs no mapping."""
    return {
        getattr(declared, version): FILTER_VALUES[declared.value](source=declared.field, help_text=declared.description)
        for declared in FILTERS
        if getattr(declared, version)
    }


def filters_from(values: Mapping[str, Any], **extra: Any) -> Filters:
    """The ``Filters`` of validated parameters (of any version: ``filter_fields`` names their sources)."""
    given = {declared.field: values[declared.field] for declared in FILTERS if declared.field in values}
    return Filters(**given, **extra)


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
