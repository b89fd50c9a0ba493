"""Legacy v0 events route: ``/v0/usage/events`` (seed 000 "Get A List of Device Usage Events", SPEC §8).

The sessions of the organization that overlap ``[start_date, end_date)`` in UTC, listed by the
shared events query (``usage.events``), in the seed's legacy shape:

- JSON ``{"report": [...]}``; a manual session is ``{"user", "email", "device_id", "hostname",
  "start_time", "end_time", "duration", "date"}``, an automated one has ``"team"`` (the team's
  name) in place of ``user`` and ``email``. ``user`` is the user's name, or the email when the
  name is empty; a session without a user (or, automated, without a team) has null there.
  ``start_time``/``end_time`` are UTC, ``"YYYY-MM-DD HH:MM:SS"`` (whole seconds); ``duration`` is
  the session's full length in seconds (a float, not clipped to the range); ``date`` is the UTC
  date the session started, ``"YYYYMMDD"``.
- CSV: the header ``User/Team,Email,Device Id,Hostname,Start time,End time,Duration,Date``,
  ``Email`` ``N/A`` for automated sessions.

Parameters come from the query string and the body. The seed's example sends a JSON text with
``curl -d``, which labels it form-encoded: a body that parses as a JSON object is read as JSON
whatever its content type, on GET as on POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core import tenancy
from core.errors import InvalidParameter
from core.routers import report_reads
from core.schema import USAGE_ERRORS, USAGE_POST_ERRORS, Row, local_datetime
from usage.api import params as p
from usage.api.output import report_response
from usage.events import EventQuery, event_rows
from usage.reporting import Filters

MAX_DAYS = 120
SESSION_FIELDS = ("device_id", "hostname", "start_time", "end_time", "duration", "date")
# Columns of the shared events query this route reads.
COLUMNS = ["user_name", "user_email", "team_name", "automated", *SESSION_FIELDS]
CSV_HEADER = ["User/Team", "Email", "Device Id", "Hostname", "Start time", "End time", "Duration", "Date"]
AUTOMATED_EMAIL = "N/A"


class LegacyEventParams(p.Params):
    """Parameters of ``/v0/usage/events`` (seed 000)."""

    start_date = p.DateParamField(
        forms=("YYYYMMDD", "YYYY/MM/DD", "YYYY-MM-DD"), help_text="First day (UTC), YYYYMMDD or YYYY/MM/DD."
    )
    end_date = p.DateParamField(
        forms=("YYYYMMDD", "YYYY/MM/DD", "YYYY-MM-DD"),
        required=False,
        help_text="Day after the last one (UTC, excluded). Default: today. At most 120 days after start_date.",
    )
    devices = p.text_list(help_text="Device addresses (device_id@hostname). Default: all.")
    format = p.ChoiceParamField(choices=["json", "csv"], required=False, default="json", help_text="json or csv.")
    org_id = p.UUIDParamField(required=False, help_text="Staff tokens: the organization to read.")


def body_params(request: Request) -> Mapping[str, Any]:
    """The body's parameters: a JSON object whatever the content type, otherwise the parsed form."""
    raw = request.body
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        if request.content_type.startswith("application/json"):
            raise InvalidParameter("The request body is not valid JSON.")
        return request.data  # form-encoded or multipart, on GET too
    if not isinstance(parsed, dict):
        raise InvalidParameter('The request body must be a JSON object, such as {"start_date": "20200601"}.')
    return parsed


def events_range(*, start_date: date, end_date: date | None) -> tuple[datetime, datetime]:
    """``[start_date, end_date)`` in UTC; end_date defaults to today; at most MAX_DAYS days."""
    end = end_date or timezone.now().astimezone(UTC).date()
    details = {"start_date": start_date.isoformat(), "end_date": end.isoformat()}
    if end <= start_date:
        default = "" if end_date else " (end_date defaults to today, UTC)"
        raise InvalidParameter(
            f"end_date {end.isoformat()}{default} must be after start_date {start_date.isoformat()}: "
            "events are listed from start_date up to, not including, end_date",
            details,
        )
    if (end - start_date).days > MAX_DAYS:
        raise InvalidParameter(
            f"The range from start_date {start_date.isoformat()} to end_date {end.isoformat()} is "
            f"{(end - start_date).days} days, more than the {MAX_DAYS} allowed: ask for shorter ranges",
            details,
        )
    return datetime.combine(start_date, time(), UTC), datetime.combine(end, time(), UTC)


def json_row(event: dict[str, Any]) -> dict[str, Any]:
    """A session in the seed's JSON shape: ``team`` for automated sessions, else ``user`` and ``email``."""
    who = (
        {"team": event["team_name"]}
        if event["automated"]
        else {"user": event["user_name"] or event["user_email"], "email": event["user_email"]}
    )
    return {**who, **{name: event[name] for name in SESSION_FIELDS}}


def csv_row(event: dict[str, Any]) -> dict[str, Any]:
    """A session under the seed's CSV header; ``Email`` is ``N/A`` for automated sessions."""
    row = json_row(event)
    who = (row["team"], AUTOMATED_EMAIL) if event["automated"] else (row["user"], row["email"])
    return dict(zip(CSV_HEADER, [*who, *(row[name] for name in SESSION_FIELDS)], strict=True))


ROW_SHAPES = {"json": json_row, "csv": csv_row}

EVENT_ROW = Row(
    "LegacyUsageEvent",
    {
        "user": serializers.CharField(
            required=False, allow_null=True, help_text="Manual sessions: the user's name (or email)."
        ),
        "email": serializers.CharField(required=False, allow_null=True, help_text="Manual sessions."),
        "team": serializers.CharField(
            required=False, allow_null=True, help_text="Automated sessions: the team's name."
        ),
        "device_id": serializers.CharField(),
        "hostname": serializers.CharField(),
        "start_time": local_datetime(help_text="UTC."),
        "end_time": local_datetime(help_text="UTC."),
        "duration": serializers.FloatField(min_value=0, help_text="Seconds."),
        "date": serializers.RegexField(r"^[0-9]{8}$", help_text="UTC start date, YYYYMMDD."),
    },
)
EVENT_ROW.pick(["user", "email", "team", *SESSION_FIELDS])  # what json_row writes
EVENTS_RESPONSE = EVENT_ROW.report(
    "LegacyUsageEvents", "JSON, or CSV (format=csv) with the header " + ",".join(CSV_HEADER) + "."
)
EVENTS_BODY = {"application/json": LegacyEventParams}
EVENTS_DESCRIPTION = (
    "Deprecated. The sessions that overlap [start_date, end_date) in UTC. Parameters may be sent in "
    "the query string or as a JSON object body (GET or POST, whatever the Content-Type)."
)


class LegacyUsageEventView(APIView):
    """Deprecated: the organization's sessions in a UTC date range, in the seed's legacy shape."""

    @extend_schema(
        parameters=p.openapi_parameters(LegacyEventParams),
        responses={**EVENTS_RESPONSE, **USAGE_ERRORS},
        description=EVENTS_DESCRIPTION,
        deprecated=True,
    )
    def get(self, request: Request):
        return self.events(request)

    @extend_schema(
        request=EVENTS_BODY,
        responses={**EVENTS_RESPONSE, **USAGE_POST_ERRORS},
        description=EVENTS_DESCRIPTION,
        deprecated=True,
    )
    def post(self, request: Request):
        return self.events(request)

    def events(self, request: Request):
        values = p.validate(LegacyEventParams, p.request_params(request, extra=body_params(request)))
        organization = tenancy.organization_for(user=request.user, org_id=values.get("org_id"))
        start, end = events_range(start_date=values["start_date"], end_date=values.get("end_date"))
        query = EventQuery(
            organization_id=organization.pk,
            start=start,
            end=end,
            tz=ZoneInfo("UTC"),
            filters=Filters(device_addresses=values.get("devices", ())),
        )
        fmt = values["format"]
        shape = ROW_SHAPES[fmt]
        with report_reads():  # the replica, when configured (core.routers)
            rows = event_rows(query, columns=COLUMNS)
        return report_response(
            (shape(event) for event in rows),
            fields=CSV_HEADER,
            fmt=fmt,
            filename=f"usage_events_{values['start_date']:%Y%m%d}",
        )
