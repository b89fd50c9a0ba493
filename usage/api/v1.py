"""Legacy v1 device usage routes: ``/v1/usage[/{route}]`` (seed 000 "Legacy Usage Routes", SPEC §5, §7).

They run the v2 reporting core (same bins, zones, attribution and filters) and differ only in
their parameters and row shape: one metric per report, in the seed's units, and group fields
named as the legacy API named them. Sessions without a value for the group key are left out
(``drop_null_groups``), as legacy reports did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core import report_cache, tenancy
from core.routers import report_reads
from core.schema import USAGE_ERRORS, USAGE_POST_ERRORS, Row
from usage.api import params as p
from usage.api.output import report_response, usage_scopes
from usage.binning import make_bins
from usage.reporting import Filters, Report, ReportSpec, run_report


@dataclass(frozen=True)
class Route:
    """A legacy route: the core dimensions it groups by, and the optional label columns it adds."""

    dimensions: tuple[str, ...]
    extras: tuple[str, ...] = ()


# route (the path after /v1/usage) -> grouping
ROUTES: dict[str, Route] = {
    "": Route(()),
    "device": Route(("device",)),
    "user": Route(("user",)),
    "team": Route(("team",)),
    "host": Route(("host",)),
    "country": Route(("country",)),
    "team/device": Route(("team", "device")),
    "user/team": Route(("user",), extras=("user_teams",)),
    "devicemodel": Route(("device_model",)),
    "team/devicemodel": Route(("team", "device_model")),
}

# Options that swap a dimension for a variant; on routes without that dimension they do nothing (seed 000).
DIMENSION_OPTIONS: dict[str, tuple[str, str]] = {
    "group_by_device_id": ("device", "device_id"),
    "combine_phone_os": ("device_model", "device_model_combined"),
}
# include_user_notes adds this label column where the route groups by user.
NOTES_EXTRA = "user_notes"

# Core label column -> v1 row field. Core labels not listed (team_id, user_id) are not shown.
FIELD_NAMES: dict[str, str] = {
    "device_address": "device",
    "device_id": "device",
    "user_email": "user",
    "team_name": "team",
    "hostname": "hostname",
    "country": "country",
    "device_model": "device_model",
    "user_teams": "teams",
    "user_notes": "user_notes",
}


@dataclass(frozen=True)
class MetricUnit:
    """The unit a metric is shown in, and how many seconds make one (None: a count, shown as is)."""

    unit: str | None
    seconds: int | None = None


MINUTE = MetricUnit("minute", 60)
HOUR = MetricUnit("hour", 3600)
COUNT = MetricUnit(None)
# metric -> (unit, unit when bin_size=hour): total_time is in minutes only for hour bins (seed 000).
METRIC_UNITS: dict[str, tuple[MetricUnit, MetricUnit]] = {
    "total_time": (HOUR, MINUTE),
    "avg_session_length": (MINUTE, MINUTE),
    "session_count": (COUNT, COUNT),
    "device_count": (COUNT, COUNT),
    "user_count": (COUNT, COUNT),
    "team_count": (COUNT, COUNT),
}

DATETIME_FORMATS = {"hour": "%Y-%m-%d %H:%M"}  # other bin sizes: the date alone
DATE_FORMAT = "%Y-%m-%d"


class LegacyReportParams(p.Params):
    """Parameters of every v1 route (seed 000's legacy query parameter table)."""

    start_date = p.DateParamField(help_text="First day of the report, YYYYMMDD or YYYY-MM-DD.")
    end_date = p.DateParamField(required=False, help_text="Last day of the report (included). Default: now.")
    metric = p.ChoiceParamField(
        choices=list(METRIC_UNITS), required=False, default="total_time", help_text=f"One of {', '.join(METRIC_UNITS)}."
    )
    bin_size = p.BinSizeField(allow_seconds=False, required=False, default="month", help_text="hour, day, week, month.")
    timezone = p.TimezoneField(required=False, help_text="IANA time zone of the dates and bins. Default: UTC.")
    format = p.ChoiceParamField(choices=["json", "csv"], required=False, default="json", help_text="json or csv.")
    display_all = p.BooleanParamField(required=False, default=False, help_text="Include groups with no usage.")
    automated = p.BooleanParamField(required=False, help_text="Automated (true) or manual (false) sessions only.")
    combine_phone_os = p.BooleanParamField(
        required=False, default=False, help_text="devicemodel routes: phones become AndroidPhone / iPhone."
    )
    group_by_device_id = p.BooleanParamField(
        required=False, default=False, help_text="device routes: group by device id alone, merging its hosts."
    )
    include_user_notes = p.BooleanParamField(
        required=False, default=False, help_text="user routes: add the user's notes (user_notes)."
    )
    org_id = p.UUIDParamField(required=False, help_text="Staff tokens: the organization to read.")

    def get_fields(self) -> dict[str, serializers.Field]:
        # filter_on.* (declared in usage.reporting.FILTERS): names with a dot, which a class attribute cannot have.
        return {**super().get_fields(), **p.filter_fields("v1")}


@dataclass(frozen=True)
class LegacyOptions:
    """What shapes a legacy report beyond the range: metric, grouping options, filters."""

    metric: str
    bin_size: str
    dimensions: tuple[str, ...]
    extras: tuple[str, ...]
    filters: Filters
    display_all: bool


def legacy_options(*, route: Route, values: dict[str, Any]) -> LegacyOptions:
    """The route's dimensions with the options applied, and the filters, from validated parameters."""
    dimensions = tuple(
        next((variant for option, (base, variant) in DIMENSION_OPTIONS.items() if base == d and values[option]), d)
        for d in route.dimensions
    )
    extras = route.extras + ((NOTES_EXTRA,) if values["include_user_notes"] else ())
    filters = p.filters_from(values, automated=values.get("automated"))
    return LegacyOptions(
        metric=values["metric"],
        bin_size=values["bin_size"],
        dimensions=dimensions,
        extras=extras,
        filters=filters,
        display_all=values["display_all"],
    )


def metric_unit(*, metric: str, bin_size: str) -> MetricUnit:
    usual, hourly = METRIC_UNITS[metric]
    return hourly if bin_size == "hour" else usual


def legacy_rows(report: Report, *, metric: str, bin_size: str) -> Iterator[dict[str, Any]]:
    """Report tuples as v1 rows: datetime, group fields, the metric in its unit, unit."""
    unit = metric_unit(metric=metric, bin_size=bin_size)
    label_format = DATETIME_FORMATS.get(bin_size, DATE_FORMAT)
    labels = [label.strftime(label_format) for label in report.bins.labels]
    shown = [(i, FIELD_NAMES[name]) for i, name in enumerate(report.label_columns, start=1) if name in FIELD_NAMES]
    for row in report.rows:
        out: dict[str, Any] = {"datetime": labels[row[0] - 1]}
        for index, name in shown:
            out[name] = row[index]
        value = row[-1]
        out[metric] = value / unit.seconds if unit.seconds is not None and value is not None else value
        out["unit"] = unit.unit
        yield out


def legacy_fields(report: Report, *, metric: str) -> list[str]:
    return LEGACY_ROW.pick(
        ["datetime", *(FIELD_NAMES[n] for n in report.label_columns if n in FIELD_NAMES), metric, "unit"]
    )


LEGACY_ROW = Row(
    "LegacyUsageReportRow",
    {
        "datetime": serializers.RegexField(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2})?$",
            help_text="YYYY-MM-DD, or YYYY-MM-DD HH:MM for hour bins.",
        ),
        "device": serializers.CharField(required=False, help_text="device_id@hostname, or device id."),
        "user": serializers.CharField(required=False, help_text="The user's email."),
        "team": serializers.CharField(required=False, help_text="The team's name."),
        "hostname": serializers.CharField(required=False),
        "country": serializers.CharField(required=False),
        "device_model": serializers.CharField(required=False),
        "teams": serializers.ListField(child=serializers.CharField(), required=False, help_text="/user/team."),
        "user_notes": serializers.CharField(required=False, help_text="include_user_notes=true."),
        **{
            metric: serializers.FloatField(required=False, allow_null=True, help_text="When asked for (metric).")
            for metric in METRIC_UNITS
        },
        "unit": serializers.ChoiceField(
            choices=["hour", "minute"], allow_null=True, help_text="hour, minute, or null for counts."
        ),
    },
)
LEGACY_RESPONSE = LEGACY_ROW.report(
    "LegacyUsageReport", "JSON rows, or CSV (format=csv) with the same fields as header."
)

# Parameters come from the query string or the (form or JSON) body alike: the schema lists them once.
LEGACY_SCHEMA = {"parameters": p.openapi_parameters(LegacyReportParams), "request": None, "deprecated": True}


class LegacyUsageReportView(APIView):
    """Deprecated: one usage metric per time bin, optionally grouped (seed 000 legacy routes)."""

    route: str = ""  # set per URL by as_view(route=...)

    @extend_schema(responses={**LEGACY_RESPONSE, **USAGE_ERRORS}, **LEGACY_SCHEMA)
    def get(self, request: Request):
        return self.report(request)

    @extend_schema(responses={**LEGACY_RESPONSE, **USAGE_POST_ERRORS}, **LEGACY_SCHEMA)
    def post(self, request: Request):
        return self.report(request)

    def report(self, request: Request):
        values = p.validate(LegacyReportParams, p.request_params(request))
        organization = tenancy.organization_for(user=request.user, org_id=values.get("org_id"))
        span = p.requested_range(values)
        options = legacy_options(route=ROUTES[self.route], values=values)
        spec = ReportSpec(
            organization_id=organization.pk,
            bins=make_bins(start=span.start, end=span.end, tz=span.tz, bin_size=options.bin_size),
            dimensions=options.dimensions,
            metrics=(options.metric,),
            filters=options.filters,
            display_all=options.display_all,
            drop_null_groups=True,
            extras=options.extras,
        )

        def respond() -> StreamingHttpResponse:
            with report_reads():  # the replica, when configured (core.routers)
                report = run_report(spec)
            return report_response(
                legacy_rows(report, metric=options.metric, bin_size=options.bin_size),
                fields=legacy_fields(report, metric=options.metric),
                fmt=values["format"],
                filename=f"usage_v1_{self.route.replace('/', '_') or 'org'}_{values['start_date']:%Y%m%d}",
            )

        return report_cache.cached_response(
            request=request,
            scopes=usage_scopes(organization.pk),
            # The range as computed: without end_date it runs to now, which the parameters do not say.
            report=("v1", self.route, values, span.start, span.end),
            respond=respond,
        )
