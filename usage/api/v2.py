"""v2 device usage routes: ``/v2/usage[/{grouping}]`` and ``/v2/usage/event`` (seed 000, SPEC §5-6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core import tenancy
from core.errors import InvalidParameter, NotFound
from core.schema import USAGE_ERRORS
from usage.api import params as p
from usage.api.output import report_response
from usage.binning import format_local, make_bins
from usage.events import EVENT_FIELDS, EventQuery, event_page, event_rows
from usage.reporting import METRICS as REPORT_METRICS
from usage.reporting import Filters, Report, ReportSpec, run_report, unsupported_metrics

# grouping -> dimensions of the reporting core
GROUPINGS: dict[str, tuple[str, ...]] = {
    "org": (),
    "device": ("device",),
    "team": ("team",),
    "user": ("user",),
    "host": ("host",),
    "device_team": ("device", "team"),
    "device_user": ("device", "user"),
}
ALIASES = {
    "device-team": "device_team",
    "team/device": "device_team",
    "device-user": "device_user",
    "user/device": "device_user",
}
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
METRICS = ("total_time", "device_count", "session_count")  # without ``metrics``: seed 000's three
# What ``metrics`` may name (SPEC §11), in the order the schema lists them.
METRIC_CHOICES = (
    *METRICS,
    "user_count",
    "team_count",
    "avg_session_length",
    "peak_concurrency",
    "avg_concurrency",
    "utilization",
)
# Report fields the service writes itself (CSV leaves them as they are; labels are checked).
TRUSTED_FIELDS = frozenset({"datetime", "start_time", "end_time", *METRIC_CHOICES, "unit"})


class MetricsField(serializers.ListField):
    """Metric names, repeated or comma-separated; unknown or repeated names are refused."""

    child = serializers.CharField()

    def to_internal_value(self, data: list[str]) -> tuple[str, ...]:
        names: list[str] = []
        for index, value in enumerate(data):
            for name in (part.strip() for part in str(value).split(",")):
                problem = (
                    "must name a metric, got an empty name"
                    if not name
                    else f"must be among {', '.join(METRIC_CHOICES)}, got {name!r}"
                    if name not in METRIC_CHOICES
                    else f"names {name} twice"
                    if name in names
                    else None
                )
                if problem:  # keyed by the value at fault, which validate() reports
                    raise serializers.ValidationError({index: [problem]})
                names.append(name)
        return tuple(names)


class FilterParams(serializers.Serializer):
    """The five repeatable filters of seed 000 (kinds AND'ed, values of one kind OR'ed)."""

    filter_team_id = p.UUIDListField(required=False)
    filter_team_name = p.StringListField(required=False)
    filter_user_id = p.UUIDListField(required=False)
    filter_user_email = p.StringListField(required=False)
    filter_device_address = p.StringListField(required=False)
    org_id = serializers.UUIDField(required=False, error_messages={"invalid": "must be a UUID, got {value!r}"})


class RangeParams(FilterParams):
    start_date = p.DateParamField()
    end_date = p.DateParamField(required=False)
    timezone = p.TimezoneField(required=False)
    format = p.ChoiceParamField(choices=["json", "csv"], required=False, default="json")


class ReportParams(RangeParams):
    bin_size = p.BinSizeField(allow_seconds=True, required=False, default="month")
    unit = p.ChoiceParamField(choices=list(UNITS), required=False, default="second")
    display_all = p.StrictBooleanField(required=False, default=False)
    metrics = MetricsField(
        required=False,
        help_text=f"Metrics of each row, in this order (default {', '.join(METRICS)}): {', '.join(METRIC_CHOICES)}. "
        "Comma-separated or repeated.",
    )


class EventParams(RangeParams):
    limit = serializers.IntegerField(
        required=False,
        default=1000,
        min_value=1,
        max_value=10_000,
        error_messages={
            "invalid": "must be a whole number",
            "min_value": "must be at least {min_value}",
            "max_value": "must be at most {max_value}",
        },
    )
    cursor = serializers.CharField(required=False)


def filters_from(values: dict[str, Any]) -> Filters:
    return Filters(
        team_ids=values.get("filter_team_id", ()),
        team_names=values.get("filter_team_name", ()),
        user_ids=values.get("filter_user_id", ()),
        user_emails=values.get("filter_user_email", ()),
        device_addresses=values.get("filter_device_address", ()),
    )


def report_rows(report: Report, *, unit: str) -> Iterator[tuple]:
    """Report tuples as v2 rows, in ``report_fields`` order: bin times, metrics, group labels, unit."""
    bins = report.bins
    divisor = UNITS[unit]
    times = [
        (format_local(bins.labels[i]), format_local(bins.local(i)), format_local(bins.local(i + 1)))
        for i in range(len(bins))
    ]
    labels_end = 1 + len(report.label_columns)
    unit_cell = (unit,)
    durations = [i for i, name in enumerate(report.metric_columns) if REPORT_METRICS[name].duration]
    if divisor == 1:  # the default: the row's own slices, joined without unpacking each value
        for row in report.rows:
            yield times[row[0] - 1] + row[labels_end:] + row[1:labels_end] + unit_cell
    else:
        for row in report.rows:
            values = list(row[labels_end:])
            for i in durations:
                if values[i] is not None:
                    values[i] /= divisor
            yield times[row[0] - 1] + tuple(values) + row[1:labels_end] + unit_cell


def report_fields(report: Report) -> list[str]:
    return ["datetime", "start_time", "end_time", *report.metric_columns, *report.label_columns, "unit"]


REPORT_RESPONSE = OpenApiResponse(
    response=inline_serializer(
        "UsageReport",
        {
            "report": serializers.ListField(
                child=inline_serializer(
                    "UsageReportRow",
                    {
                        "datetime": serializers.CharField(),
                        "start_time": serializers.CharField(),
                        "end_time": serializers.CharField(),
                        "total_time": serializers.FloatField(required=False, help_text="In `unit`."),
                        "device_count": serializers.IntegerField(required=False),
                        "session_count": serializers.IntegerField(required=False),
                        # Only when named in ``metrics`` (SPEC §11), in the order named.
                        "user_count": serializers.IntegerField(required=False),
                        "team_count": serializers.IntegerField(required=False),
                        "avg_session_length": serializers.FloatField(
                            required=False, allow_null=True, help_text="In `unit`; null when no session starts."
                        ),
                        "peak_concurrency": serializers.IntegerField(
                            required=False, help_text="Most sessions in progress at one instant of the interval."
                        ),
                        "avg_concurrency": serializers.FloatField(
                            required=False, help_text="Session time in the interval / its length."
                        ),
                        "utilization": serializers.FloatField(
                            required=False,
                            allow_null=True,
                            help_text="Percent of the devices' time busy (org, device, host); null without devices.",
                        ),
                        "device_address": serializers.CharField(required=False),
                        "team_id": serializers.UUIDField(required=False, allow_null=True),
                        "team_name": serializers.CharField(required=False, allow_null=True),
                        "user_id": serializers.UUIDField(required=False, allow_null=True),
                        "user_email": serializers.CharField(required=False, allow_null=True),
                        "hostname": serializers.CharField(required=False),
                        "unit": serializers.CharField(),
                    },
                )
            )
        },
    ),
    description="JSON rows, or CSV (format=csv) with the same fields as header.",
)


def _report_schema(operation: str):
    metrics = OpenApiParameter(
        "metrics",
        OpenApiTypes.STR,
        many=True,
        enum=METRIC_CHOICES,
        description=ReportParams().fields["metrics"].help_text
        + " Adds these fields to each row between end_time and the group fields; utilization only with the "
        "org, device and host groupings.",
    )
    schema = {
        "parameters": [q for q in p.openapi_parameters(ReportParams) if q.name != "metrics"] + [metrics],
        "responses": {200: REPORT_RESPONSE, **USAGE_ERRORS},
        "request": None,
    }
    return extend_schema_view(
        get=extend_schema(operation_id=f"{operation}_get", **schema),
        post=extend_schema(operation_id=f"{operation}_post", **schema),
    )


@_report_schema("usage_report_grouping")
class UsageReportView(APIView):
    """Aggregate device usage in time bins, optionally grouped (org, device, team, user, host, ...)."""

    def get(self, request: Request, grouping: str = "org"):
        return self.report(request, grouping)

    def post(self, request: Request, grouping: str = "org"):
        return self.report(request, grouping)

    def report(self, request: Request, grouping: str):
        grouping = ALIASES.get(grouping, grouping)
        if grouping not in GROUPINGS:
            valid = ", ".join([*GROUPINGS, *ALIASES, "event"])
            raise NotFound(f"Unknown grouping {grouping!r}. Valid groupings: {valid}.", {"grouping": grouping})
        values = p.validate(ReportParams, p.request_params(request))
        organization = tenancy.organization_for(user=request.user, org_id=values.get("org_id"))
        span = p.requested_range(values)
        bins = make_bins(start=span.start, end=span.end, tz=span.tz, bin_size=values["bin_size"])
        metrics = values.get("metrics") or METRICS
        if unsupported := unsupported_metrics(metrics, GROUPINGS[grouping]):
            able = [name for name, dims in GROUPINGS.items() if not unsupported_metrics(unsupported, dims)]
            raise InvalidParameter(
                f"metrics: {unsupported[0]} needs a grouping of devices: {', '.join(able)}, not {grouping}",
                {"metrics": unsupported[0]},
            )
        spec = ReportSpec(
            organization_id=organization.pk,
            bins=bins,
            dimensions=GROUPINGS[grouping],
            metrics=metrics,
            filters=filters_from(values),
            display_all=values["display_all"],
        )
        report = run_report(spec)
        return report_response(
            report_rows(report, unit=values["unit"]),
            fields=report_fields(report),
            fmt=values["format"],
            filename=f"usage_{grouping}_{values['start_date']:%Y%m%d}",
            tuples=True,
            trusted=TRUSTED_FIELDS,
        )


@_report_schema("usage_report")
class OrgUsageReportView(UsageReportView):
    """``/v2/usage``: the org grouping (a route of its own in the schema)."""


class UsageEventView(APIView):
    """The sessions that overlap the range, cursor-paginated (JSON) or streamed whole (CSV)."""

    @extend_schema(parameters=p.openapi_parameters(EventParams), responses={200: OpenApiTypes.OBJECT, **USAGE_ERRORS})
    def get(self, request: Request):
        values = p.validate(EventParams, p.request_params(request))
        organization = tenancy.organization_for(user=request.user, org_id=values.get("org_id"))
        span = p.requested_range(values)
        query = EventQuery(
            organization_id=organization.pk, start=span.start, end=span.end, tz=span.tz, filters=filters_from(values)
        )
        filename = f"usage_events_{values['start_date']:%Y%m%d}"
        if values["format"] == "csv":
            return report_response(event_rows(query), fields=EVENT_FIELDS, fmt="csv", filename=filename)
        rows, next_cursor = event_page(query, limit=values["limit"], cursor=values.get("cursor"))
        return report_response(
            rows, fields=EVENT_FIELDS, fmt="json", filename=filename, tail={"next_cursor": next_cursor}
        )
