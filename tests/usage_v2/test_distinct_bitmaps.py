"""Distinct counts by bitmaps (``build_report_sql(shortcuts=True, bitmaps=True)``) against the general path.

For random sessions on four devices of three hosts, of three users and two teams (some without a
user or team, some zero-length, many starting or ending on a bin edge or outside the range), in
every grouping, zone, bin size (calendar and fixed), filter and display_all: the report with
devices, users and teams counted by bitmaps equals, row for row, the one that carries them through
a first aggregation level as group keys of their own, for every metric the grouping allows (floats
to 1e-6: the two add the same seconds in another order).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import make_device, utc
from usage.api.v2 import GROUPINGS
from usage.binning import make_bins
from usage.models import Device, Host, Organization, Team, UsageEvent, User
from usage.reporting import (
    BITMAP_BITS_MAX,
    DIMENSIONS,
    METRICS,
    Filters,
    ReportSpec,
    _bitmaps_fit,
    build_report_sql,
    unsupported_metrics,
)

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Lord_Howe"]
BIN_SIZES = ["hour", "day", "week", "month", 900, 3600, 5400]
FIRST_DAY = date(2024, 3, 8)  # two days before Los Angeles springs forward
QUARTER = 900
# Every v2 grouping, and the legacy routes' device attributes.
DIMENSION_SETS = [*GROUPINGS.values(), ("device_id",), ("country",), ("device_model_combined",)]


@pytest.fixture
def people(org) -> dict[str, list]:
    other = Organization.objects.create(name="Other")
    devices = [make_device(org, address) for address in ("d0@h0.p", "d1@h0.p", "d2@h1.p", "d3@h2.p")]
    Host.objects.filter(hostname="h0.p").update(country="US")  # h2.p has none: a null group
    Host.objects.filter(hostname="h1.p").update(country="DE")
    teams = [Team.objects.create(organization=org, name=name) for name in ("Blue", "Red")]
    users = [User.objects.create(organization=org, email=f"u{i}@x.example") for i in range(3)]
    # Another organization's rows take no rank of the first's bitmaps.
    Team.objects.create(organization=other, name="Blue")
    User.objects.create(organization=other, email="u0@x.example")
    make_device(other, "x0@h0.p")
    return {"devices": devices, "teams": teams, "users": users}


def rows(spec: ReportSpec, *, shortcuts: bool, stored_timelines: bool) -> list[tuple]:
    sql, params = build_report_sql(spec, shortcuts=shortcuts, bitmaps=shortcuts, stored_timelines=stored_timelines)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in cursor.fetchall()]


session_strategy = st.tuples(
    st.integers(0, 3),  # device
    st.integers(-1, 2),  # user (-1: none)
    st.integers(-1, 1),  # team (-1: none)
    st.integers(-24, 4 * 96).map(lambda q: q * QUARTER) | st.integers(-86400, 4 * 86400),  # start after day 0
    st.integers(0, 12).map(lambda q: q * QUARTER) | st.integers(0, 6 * 3600) | st.integers(0, 3 * 86400),
)
filter_strategy = st.sampled_from(
    [
        {},
        {"hostnames": ["h0.p"]},
        {"device_addresses": ["d2@h1.p", "d3@h2.p"]},
        {"team_names": ["Blue"]},
        {"user_emails": ["U1@x.example", "u2@x.example"]},
        {"automated": True},
        {"hostnames": ["h0.p", "h1.p"], "team_names": ["Red"]},
    ]
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=st.lists(session_strategy, max_size=14),
    automated=st.lists(st.booleans(), min_size=14, max_size=14),
    zone_name=st.sampled_from(ZONES),
    bin_size=st.sampled_from(BIN_SIZES),
    days=st.integers(1, 3),
    filters=filter_strategy,
    display_all=st.booleans(),
)
# Sessions ending on an hour edge (no time in the next bin), a zero-length one, one over the range.
@example(
    sessions=[(0, 0, 0, 3600, 3600), (1, 1, -1, 7200, 0), (0, -1, 1, 1800, 5400), (2, 2, 0, -3600, 5 * 86400)],
    automated=[False] * 14,
    zone_name="UTC",
    bin_size="hour",
    days=1,
    filters={},
    display_all=False,
)
def test_bitmaps_count_as_the_general_path(
    people, sessions, automated, zone_name, bin_size, days, filters, display_all
):
    zone = ZoneInfo(zone_name)
    devices: list[Device] = people["devices"]
    org = devices[0].organization
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=zone)
    with transaction.atomic():
        UsageEvent.objects.bulk_create(
            UsageEvent(
                organization=org,
                device=devices[d],
                user=people["users"][u] if u >= 0 else None,
                team=people["teams"][t] if t >= 0 else None,
                start_time=start + timedelta(seconds=offset),
                end_time=start + timedelta(seconds=offset + length),
                automated=automated[i],
            )
            for i, (d, u, t, offset, length) in enumerate(sessions)
        )
        # In UTC, as the routes pass them: adding fixed seconds to a local time would add wall time.
        bins = make_bins(
            start=start.astimezone(UTC), end=(start + timedelta(days=days)).astimezone(UTC), tz=zone, bin_size=bin_size
        )
        for dimensions in DIMENSION_SETS:
            metrics = [m for m in METRICS if not unsupported_metrics([m], dimensions)]
            for drop_null_groups in (False, True) if all(DIMENSIONS[d].device_key for d in dimensions) else (False,):
                spec = ReportSpec(
                    organization_id=org.id,
                    bins=bins,
                    dimensions=dimensions,
                    metrics=metrics,
                    filters=Filters(**filters),
                    display_all=display_all,
                    drop_null_groups=drop_null_groups,
                )
                for stored_timelines in (True, False):
                    general = rows(spec, shortcuts=False, stored_timelines=stored_timelines)
                    assert rows(spec, shortcuts=True, stored_timelines=stored_timelines) == general, (
                        dimensions,
                        stored_timelines,
                    )
        transaction.set_rollback(True)


def test_counts_by_hand(people):
    """Two devices of h0 in one hour, one of them again ending exactly on the next hour's edge."""
    d0, d1 = people["devices"][:2]
    org = d0.organization
    for device, start, end in (
        (d0, "2024-03-08 10:10", "2024-03-08 10:20"),
        (d1, "2024-03-08 10:30", "2024-03-08 11:00"),  # nothing of it in 11:00-12:00
        (d0, "2024-03-08 11:15", "2024-03-08 11:15"),  # zero-length: starts, counts no device
    ):
        UsageEvent.objects.create(organization=org, device=device, start_time=utc(start), end_time=utc(end))
    zone = ZoneInfo("UTC")
    bins = make_bins(start=utc("2024-03-08 10:00"), end=utc("2024-03-08 12:00"), tz=zone, bin_size="hour")
    spec = ReportSpec(
        organization_id=org.id, bins=bins, dimensions=("host",), metrics=("device_count", "session_count")
    )
    assert rows(spec, shortcuts=True, stored_timelines=True) == [(1, "h0.p", 2, 2), (2, "h0.p", 0, 1)]


def test_bitmaps_count_where_the_organization_has_at_most_8192_of_each_kind(people):
    org = people["devices"][0].organization
    assert _bitmaps_fit(org.id, ["device_id", "user_id", "team_id"])  # 4 devices, 3 users, 2 teams
    Team.objects.bulk_create(Team(organization=org, name=f"T{n}") for n in range(BITMAP_BITS_MAX - 2))
    assert _bitmaps_fit(org.id, ["team_id"])  # 8,192 teams
    Team.objects.create(organization=org, name="One more")
    assert not _bitmaps_fit(org.id, ["team_id"])
    assert not _bitmaps_fit(org.id, ["device_id", "team_id"])
    assert _bitmaps_fit(org.id, ["device_id", "user_id"])


def test_teams_per_user_of_an_organization_past_the_limit_are_counted_without_bitmaps(people):
    """The same answer either way: here, past the limit, the first level carries the teams."""
    d0, d1 = people["devices"][:2]
    blue, red = people["teams"]
    ann = people["users"][0]
    org = d0.organization
    bins = make_bins(start=utc("2024-03-08 10:00"), end=utc("2024-03-08 11:00"), tz=ZoneInfo("UTC"), bin_size="hour")
    spec = ReportSpec(organization_id=org.id, bins=bins, dimensions=("user",), metrics=("team_count", "session_count"))
    assert "bits_team_id" in build_report_sql(spec)[0]  # two teams: by bitmaps
    Team.objects.bulk_create(Team(organization=org, name=f"T{n}") for n in range(BITMAP_BITS_MAX))
    for device, team in ((d0, blue), (d1, red), (d0, blue)):
        UsageEvent.objects.create(
            organization=org,
            device=device,
            user=ann,
            team=team,
            start_time=utc("2024-03-08 10:00"),
            end_time=utc("2024-03-08 10:30"),
        )
    sql, params = build_report_sql(spec)
    assert "bits_team_id" not in sql
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == [(1, str(ann.id), "u0@x.example", 2, 3)]
