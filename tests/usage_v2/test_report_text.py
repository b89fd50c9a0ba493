"""Report rows written by PostgreSQL (``usage.api.v2.report_text_sql``): byte for byte what Python wrote.

Floats: ``float_text_sql`` writes every float8 as ``repr`` (the CSV) and as orjson (the JSON) do,
awkward ones included (integral values, the ends of the plain-digit ranges, 1e15 to 1e16, tiny and
huge values, subnormals, -0.0, NaN and infinities). Reports: on generated sessions with awkward
labels (commas, quotes, newlines, carriage returns, backslashes, control characters, formula
characters, non-ASCII), durations to the microsecond, every grouping, zones, bin sizes, units,
metrics and display_all, the route's JSON and CSV equal what ``report_response`` writes of
``report_rows`` (the code path the routes used before).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.core.cache import caches
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import awkward_devices
from usage.api.output import float_text_sql, report_response
from usage.api.v2 import GROUPINGS, TRUSTED_FIELDS, report_fields, report_rows
from usage.binning import make_bins
from usage.models import Team, UsageEvent, User
from usage.reporting import ReportSpec, run_report

pytestmark = pytest.mark.django_db

# Where the notations change (1e-5, 1e-4, 1e15, 1e16) and their neighbours, and other edges.
EDGES = [
    0.0,
    -0.0,
    1.0,
    90.0,
    0.1,
    1e-4,
    0.00009999999999999999,
    1e-5,
    0.000009999999999999999,
    2.5e-5,
    1.5e-7,
    1e15,
    999999999999999.9,
    1234567890123456.8,
    9999999999999998.0,
    1e16,
    1.2345e16,
    1e22,
    1.7976931348623157e308,
    5e-324,
    2.2250738585072014e-308,
    3599.999999,
    float("nan"),
    float("inf"),
    float("-inf"),
]


def written_by_postgres(values: list[float]) -> list[tuple[str | None, str | None]]:
    python, json = float_text_sql("v.x", style="python"), float_text_sql("v.x", style="json")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {python}, {json} FROM unnest(%s::float8[]) WITH ORDINALITY AS v(x, n) ORDER BY v.n", [values]
        )
        return cursor.fetchall()


def test_floats_by_hand():
    assert written_by_postgres([90.0, 1e-5, 1.5e-7, 1234567890123456.8, 1e16, -0.0, float("nan")]) == [
        ("90.0", "90.0"),
        ("1e-05", "0.00001"),
        ("1.5e-07", "1.5e-7"),
        ("1234567890123456.8", "1234567890123456.8"),
        ("1e+16", "1e+16"),
        ("-0.0", "-0.0"),
        ("nan", "null"),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=200))
@example(values=EDGES).via("the notations' edges")
def test_floats_are_written_as_python_and_orjson_write_them(values):
    values += [-v for v in values]
    assert written_by_postgres(values) == [(repr(v), orjson.dumps(v).decode()) for v in values]


def test_null_stays_null():
    assert written_by_postgres([None]) == [(None, None)]


AWKWARD = st.text(
    alphabet=st.sampled_from(list("ab ,;\"'\n\r\t=+-@é€\\.\x01\x1f\x7f\u2028"))
    | st.characters(exclude_categories=["Cs"]),
    max_size=6,
).map(lambda text: text.replace("\x00", ""))
START = datetime(2024, 3, 9, tzinfo=UTC)
SESSION = st.tuples(
    st.integers(0, 3),  # device
    st.none() | st.integers(0, 2),  # user
    st.none() | st.integers(0, 2),  # team
    st.integers(0, 3 * 86400 * 10**6),  # start, microseconds after START
    st.sampled_from([0, 1, 1_000_000, 3_600_000_000]) | st.integers(0, 2 * 86400 * 10**6),  # duration
)
METRIC_SETS = [
    ("total_time", "device_count", "session_count"),
    ("avg_session_length", "total_time", "user_count", "team_count", "avg_concurrency", "peak_concurrency"),
]


def previous_answer(spec: ReportSpec, *, unit: str, fmt: str) -> bytes:
    """The report as the route wrote it before: Python over the report query's rows."""
    report = run_report(spec)
    response = report_response(
        report_rows(report, unit=unit),
        fields=report_fields(report),
        fmt=fmt,
        filename="x",
        tuples=True,
        trusted=TRUSTED_FIELDS,
    )
    return b"".join(part if isinstance(part, bytes) else part.encode() for part in response.streaming_content)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(AWKWARD, min_size=12, max_size=12),
    sessions=st.lists(SESSION, max_size=12),
    grouping=st.sampled_from(list(GROUPINGS)),
    zone_name=st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Kathmandu"]),
    bin_size=st.sampled_from(["hour", "day", 5400]),
    unit=st.sampled_from(["second", "minute", "hour"]),
    metrics=st.sampled_from(METRIC_SETS),
    display_all=st.booleans(),
)
@example(
    names=['a,"b"\nc', "=cmd", "", "\rx", "-1", "+", "@home", "\tx", "x\r\ny", "é,€\\", '"\x01', "\\."],
    sessions=[(0, 0, 0, 1, 1), (1, None, None, 0, 90_000_001), (2, 1, 2, 3600_000_000, 0)],
    grouping="device_user",
    zone_name="America/Los_Angeles",
    bin_size="hour",
    unit="minute",
    metrics=METRIC_SETS[1],
    display_all=True,
).via("awkward values by hand")
def test_reports_written_by_postgres_are_the_python_ones(
    api, org, names, sessions, grouping, zone_name, bin_size, unit, metrics, display_all
):
    caches["reports"].clear()  # the rolled-back data of an earlier example leaves the same versions
    with transaction.atomic():
        # Four devices on two hosts, three users and three teams (emails and team names awkward).
        devices = awkward_devices(org, names)
        users = [User.objects.create(organization=org, email=f"{names[6 + i]}{i}", name="u") for i in range(3)]
        teams = [Team.objects.create(organization=org, name=f"{names[9 + i]}{i}") for i in range(3)]
        UsageEvent.objects.bulk_create(
            UsageEvent(
                organization=org,
                device=devices[device],
                user=users[user] if user is not None else None,
                team=teams[team] if team is not None else None,
                start_time=START + timedelta(microseconds=offset),
                end_time=START + timedelta(microseconds=offset + duration),
            )
            for device, user, team, offset, duration in sessions
        )
        zone = ZoneInfo(zone_name)
        start, end = (datetime(2024, 3, day, tzinfo=zone).astimezone(UTC) for day in (9, 13))
        spec = ReportSpec(
            organization_id=org.pk,
            bins=make_bins(start=start, end=end, tz=zone, bin_size=bin_size),
            dimensions=GROUPINGS[grouping],
            metrics=metrics,
            display_all=display_all,
        )
        params = {
            "start_date": "2024-03-09",
            "end_date": "2024-03-12",
            "timezone": zone_name,
            "bin_size": bin_size,
            "unit": unit,
            "metrics": ",".join(metrics),
            "display_all": str(display_all).lower(),
        }
        for fmt in ("json", "csv"):
            response = api.get(f"/v2/usage/{grouping}", {**params, "format": fmt})
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == previous_answer(spec, unit=unit, fmt=fmt)
        transaction.set_rollback(True)
