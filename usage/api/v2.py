"""v2 device usage routes: ``/v2/usage[/{grouping}]`` and ``/v2/usage/event`` (seed 000, SPEC §5-6)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core import report_cache, tenancy
from core.errors import InvalidParameter, NotFound
from core.routers import report_reads
from core.schema import USAGE_ERRORS, USAGE_POST_ERRORS, Row, local_datetime
from usage import events
from usage.api import params as p
from usage.api.output import (
    csv_cell_sql,
    csv_copy_response,
    csv_copy_statement,
    csv_line_sql,
    csv_quoted_sql,
    csv_rows_response,
    json_object_sql,
    json_rows_response,
    json_value_sql,
    report_response,
    usage_scopes,
)
from usage.binning import format_local, make_bins
from usage.events import EVENT_FIELDS, EVENT_KINDS, EventQuery, event_page
from usage.limits import check_report_size
from usage.reporting import METRICS as REPORT_METRICS
from usage.reporting import Report, ReportSpec, build_report_sql, report_labels, unsupported_metrics

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


class MetricsField(p.ListParamField):
    """Metric names, repeated or comma-separated; unknown, empty or repeated names are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=p.ChoiceParamField(choices=METRIC_CHOICES), unique=True, **kwargs)

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        names: list[str] = []
        for value in data if isinstance(data, list) else [data]:
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
                if problem:
                    self.bad_value = value  # the error names the value at fault
                    raise serializers.ValidationError(problem)
                names.append(name)
        return tuple(names)


class FilterParams(p.Params):
    """The filters (kinds AND'ed, values of one kind OR'ed), declared in ``usage.reporting.FILTERS``."""

    org_id = p.UUIDParamField(required=False, help_text="Staff tokens: the organization to read.")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**p.filter_fields("v2"), **super().get_fields()}


class RangeParams(FilterParams):
    start_date = p.DateParamField(help_text="First day of the report, YYYYMMDD or YYYY-MM-DD.")
    end_date = p.DateParamField(required=False, help_text="Last day of the report (included). Default: now.")
    timezone = p.TimezoneField(required=False, help_text="IANA time zone of the dates and bins. Default: UTC.")
    format = p.ChoiceParamField(choices=["json", "csv"], required=False, default="json", help_text="json or csv.")


class ReportParams(RangeParams):
    bin_size = p.BinSizeField(
        allow_seconds=True,
        required=False,
        default="month",
        help_text="hour, day, week, month, or a number of seconds (at least 60).",
    )
    unit = p.ChoiceParamField(
        choices=list(UNITS), required=False, default="second", help_text="The unit of total_time."
    )
    display_all = p.BooleanParamField(
        required=False, default=False, help_text="Every group of the organization in every bin, zeros included."
    )
    metrics = MetricsField(
        required=False,
        help_text=f"Metrics of each row, in this order (default {', '.join(METRICS)}), repeated or comma-separated; "
        "they come between end_time and the group fields. utilization only with the org, device and host groupings.",
    )


class EventParams(RangeParams):
    limit = p.IntegerParamField(
        required=False, default=1000, min_value=1, max_value=10_000, help_text="Sessions per page (JSON)."
    )
    cursor = p.TextParamField(required=False, help_text="The next_cursor of the previous page.")


filters_from = p.filters_from


def report_rows(report: Report, *, unit: str) -> Iterator[tuple]:
    """Report tuples as v2 rows, in ``report_fields`` order: bin times, metrics, group labels, unit.
    The routes write their rows in PostgreSQL instead (``report_text_sql``): this is the reference
    its property tests compare it with."""
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
    return REPORT_ROW.pick(
        ["datetime", "start_time", "end_time", *report.metric_columns, *report.label_columns, "unit"]
    )


def _name_array(values: list[str]) -> str:
    """An array literal of bin times (``format_local``: digits, dashes, colons and a space), each
    maybe between double quotes (escaped here)."""
    if not all(_BIN_TIME.fullmatch(v) for v in values):
        raise ValueError("bin times are written YYYY-MM-DD HH:MM:SS")
    return "{" + ",".join('"' + v.replace('"', '\\"') + '"' for v in values) + "}"


_BIN_TIME = re.compile(r'"?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"?')


def report_text_sql(spec: ReportSpec, *, unit: str, fmt: str) -> tuple[str, dict[str, Any]]:
    """SQL of the report's rows as text, and its parameters: with ``fmt`` json each row the text of
    its JSON object, with csv its CSV line; byte for byte what ``report_response`` writes of
    ``report_rows``. Its order is the report query's (a subquery with ORDER BY stays whole).

    Python formatting the rows cost more than the report's query (a year of device/hour bins: 1.1M
    rows). Here labels are written once per group (``build_report_sql``'s ``labels_as``) and bin
    times once per bin, then looked up by bin: ``name`` is a fixed-width type, so an element of a
    ``name[]`` is found in constant time (a ``text[]`` is walked from its start).
    """
    json = fmt == "json"
    labels = report_labels(spec)
    fields = report_text_fields(spec)
    kinds = {name: _kind(name) for name in fields}
    typed = {name: "plain" if kind == "integer" else kind for name, kind in kinds.items() if kind != "text"}
    cell = csv_cell_sql(typed, TRUSTED_FIELDS)
    if json:  # labels, times and unit come as JSON texts; times and unit need no escapes
        sql, params = build_report_sql(spec, labels_as=lambda label: json_value_sql(label, kind="text"))
        kinds.update(dict.fromkeys([*labels, "datetime", "start_time", "end_time", "unit"], "json"))
    else:  # labels come as CSV cells, neutralized and quoted
        sql, params = build_report_sql(spec, labels_as=lambda label: csv_quoted_sql(cell("label", label)))
    quote = '"' if json else ""
    bins = spec.bins
    params.update(
        bin_labels=_name_array([quote + format_local(label) + quote for label in bins.labels]),
        bin_times=_name_array([quote + format_local(bins.local(i)) + quote for i in range(len(bins) + 1)]),
    )
    divisor = UNITS[unit]
    values = {
        "datetime": "(%(bin_labels)s::name[])[r.rb]::text",
        "start_time": "(%(bin_times)s::name[])[r.rb]::text",
        "end_time": "(%(bin_times)s::name[])[r.rb + 1]::text",
        **{
            name: f"(r.{name} / {divisor}::float8)" if REPORT_METRICS[name].duration and divisor != 1 else f"r.{name}"
            for name in spec.metrics
        },
        **{name: f"r.{name}" for name in labels},
        "unit": f"'{quote}{unit}{quote}'::text",  # a name of UNITS
    }
    source = f"({sql}) AS r"
    if json:
        select = json_object_sql([(name, json_value_sql(values[name], kind=kinds[name])) for name in fields])
        return f"SELECT {select} FROM {source}", params
    cells = [values[name] if name in labels else cell(name, values[name]) for name in fields]
    return f"SELECT {csv_line_sql(cells)} FROM {source}", params


def report_text_fields(spec: ReportSpec) -> list[str]:
    """The fields of ``report_text_sql``'s rows, in order (``report_fields`` of the report)."""
    return REPORT_ROW.pick(["datetime", "start_time", "end_time", *spec.metrics, *report_labels(spec), "unit"])


def _kind(name: str) -> str:
    """How a report field is written: float, integer or text (by its type in the schema)."""
    declared = REPORT_ROW.fields[name]
    if isinstance(declared, serializers.FloatField):
        return "float"
    if isinstance(declared, serializers.IntegerField):
        return "integer"
    return "text"


def _label(field_class: type[serializers.Field], groupings: str, *, allow_null: bool = False) -> serializers.Field:
    """A group label: present in the rows of ``groupings`` only."""
    absent = " Null: the sessions without one." if allow_null else ""
    return field_class(required=False, allow_null=allow_null, help_text=f"Groupings {groupings}.{absent}")


def _metric(
    field_class: type[serializers.Field], text: str, *, allow_null: bool = False, default: bool = False
) -> serializers.Field:
    """A metric: present when ``metrics`` names it (``default``: also when ``metrics`` is not given)."""
    text += " Present without metrics, or if metrics names it." if default else " Only if named in metrics."
    return field_class(required=False, allow_null=allow_null, min_value=0, help_text=text)


REPORT_ROW = Row(
    "UsageReportRow",
    {
        "datetime": local_datetime(help_text="The bin's calendar label, local time."),
        "start_time": local_datetime(help_text="Start of the bin's part inside the range, local time."),
        "end_time": local_datetime(help_text="End of the bin's part inside the range, local time."),
        # Without ``metrics`` a row has these three; with it, the metrics named, in the order named.
        "total_time": _metric(serializers.FloatField, "Session time in the bin, in unit.", default=True),
        "device_count": _metric(serializers.IntegerField, "Devices with time in the bin.", default=True),
        "session_count": _metric(serializers.IntegerField, "Sessions that start in the bin.", default=True),
        # Only when named in ``metrics`` (SPEC §11), in the order named.
        "user_count": _metric(serializers.IntegerField, "Users with time in the bin."),
        "team_count": _metric(serializers.IntegerField, "Teams with time in the bin."),
        "avg_session_length": _metric(
            serializers.FloatField, "Mean full length of the sessions starting in the bin, in unit.", allow_null=True
        ),
        "peak_concurrency": _metric(serializers.IntegerField, "Most sessions in progress at one instant."),
        "avg_concurrency": _metric(serializers.FloatField, "Session time in the interval / its length."),
        "utilization": _metric(
            serializers.FloatField,
            "Percent of the devices' time busy (org, device, host groupings); null without devices.",
            allow_null=True,
        ),
        "device_address": _label(serializers.CharField, "device, device_team, device_user"),
        "team_id": _label(serializers.UUIDField, "team, device_team", allow_null=True),
        "team_name": _label(serializers.CharField, "team, device_team", allow_null=True),
        "user_id": _label(serializers.UUIDField, "user, device_user", allow_null=True),
        "user_email": _label(serializers.CharField, "user, device_user", allow_null=True),
        "hostname": _label(serializers.CharField, "host"),
        "unit": serializers.ChoiceField(choices=list(UNITS), help_text="The unit of total_time."),
    },
)
EVENT_ROW = Row(
    "UsageEvent",
    {
        "id": serializers.UUIDField(),
        "device_address": serializers.CharField(help_text="device_id@hostname"),
        "device_id": serializers.CharField(),
        "hostname": serializers.CharField(),
        "user_id": serializers.UUIDField(allow_null=True),
        "user_email": serializers.CharField(allow_null=True),
        "team_id": serializers.UUIDField(allow_null=True),
        "team_name": serializers.CharField(allow_null=True),
        "automated": serializers.BooleanField(),
        "start_time": local_datetime(help_text="Local time in the requested zone."),
        "end_time": local_datetime(help_text="Local time in the requested zone."),
        "duration": serializers.FloatField(min_value=0, help_text="The session's full length in seconds."),
    },
)
EVENT_COLUMNS = EVENT_ROW.pick(EVENT_FIELDS)
REPORT_RESPONSE = REPORT_ROW.report("UsageReport", "JSON rows, or CSV (format=csv) with the same fields as header.")
EVENTS_RESPONSE = EVENT_ROW.report(
    "UsageEvents",
    "JSON, one page of sessions; CSV (format=csv): every session, the same fields as header.",
    next_cursor=serializers.CharField(allow_null=True, help_text="Pass as cursor for the next page; null on the last."),
)
GROUPING_PARAMETER = OpenApiParameter(
    "grouping",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=[*GROUPINGS, *(alias for alias in ALIASES if "/" not in alias)],
    description="What the rows are grouped by (team/device and user/device also name device_team and device_user).",
)


def _report_schema(operation: str, *, grouping: bool):
    parameters = [*p.openapi_parameters(ReportParams), *([GROUPING_PARAMETER] if grouping else [])]
    get = {"parameters": parameters, "responses": {**REPORT_RESPONSE, **USAGE_ERRORS}, "request": None}
    post = {**get, "responses": {**REPORT_RESPONSE, **USAGE_POST_ERRORS}}
    return extend_schema_view(
        get=extend_schema(operation_id=f"{operation}_get", **get),
        post=extend_schema(operation_id=f"{operation}_post", **post),
    )


@_report_schema("usage_report_grouping", grouping=True)
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

        def respond() -> StreamingHttpResponse:
            check_report_size(spec)  # bins x groups known too large: a 400 before the query runs
            select, params = report_text_sql(spec, unit=values["unit"], fmt=values["format"])
            with report_reads():  # the replica, when configured (core.routers)
                if values["format"] == "csv":
                    header = report_text_fields(spec)
                    filename = f"usage_{grouping}_{values['start_date']:%Y%m%d}"
                    return csv_rows_response(select, params, header=header, filename=filename)
                return json_rows_response(select, params)

        return report_cache.cached_response(
            request=request,
            scopes=usage_scopes(organization.pk),
            # The range as computed: without end_date it runs to now, which the parameters do not say.
            report=("v2", grouping, values, span.start, span.end),
            respond=respond,
        )


@_report_schema("usage_report", grouping=False)
class OrgUsageReportView(UsageReportView):
    """``/v2/usage``: the org grouping (a route of its own in the schema)."""


class UsageEventView(APIView):
    """The sessions that overlap the range, cursor-paginated (JSON) or streamed whole (CSV)."""

    @extend_schema(parameters=p.openapi_parameters(EventParams), responses={**EVENTS_RESPONSE, **USAGE_ERRORS})
    def get(self, request: Request):
        values = p.validate(EventParams, p.request_params(request))
        organization = tenancy.organization_for(user=request.user, org_id=values.get("org_id"))
        span = p.requested_range(values)
        query = EventQuery(
            organization_id=organization.pk, start=span.start, end=span.end, tz=span.tz, filters=filters_from(values)
        )
        filename = f"usage_events_{values['start_date']:%Y%m%d}"
        if values["format"] == "csv":
            # Every session: PostgreSQL writes the CSV (COPY), as csv_stream would, at ~1 µs a row.
            cell = csv_cell_sql(EVENT_KINDS)
            select, params = events.events_sql(query, columns=EVENT_COLUMNS, keys=False, cell=cell)
            with report_reads():  # the replica, when configured (core.routers)
                return csv_copy_response(csv_copy_statement(select), params, filename=filename)
        with report_reads():
            rows, next_cursor = event_page(query, limit=values["limit"], cursor=values.get("cursor"))
        return report_response(
            rows, fields=EVENT_COLUMNS, fmt="json", filename=filename, tail={"next_cursor": next_cursor}
        )
