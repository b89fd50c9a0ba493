"""The organizations' five-minute slots (usage.rollup) against the sessions they sum.

For random sessions of two organizations (on four devices, of three users and two teams, some
without either, zero-length ones, many on slot and bin edges, some outside the range), written in
several statements and then changed the ways the application changes them (moved, shortened to
half or to nothing, given another device, user or team, deleted; a user and a device deleted with
their cascades): every report of the whole organization that reads the slots, in every zone and bin
size they serve and with every metric, equals row for row the report computed from the sessions
(``slots=False``). Times are whole seconds, so both ways add the same exact floats: equality is
exact, not to a tolerance.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import make_device, utc
from usage.binning import make_bins
from usage.models import Device, Organization, Team, UsageEvent, User
from usage.reporting import SLOT_METRICS, Filters, ReportSpec, build_report_sql
from usage.rollup import SLOT_BITS_MAX

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kathmandu", "Australia/Lord_Howe"]
BIN_SIZES = ["hour", "day", "week", "month", 300, 900, 5400]
FIRST_DAY = datetime(2024, 3, 8)  # two days before Los Angeles springs forward
QUARTER = 900
EVERY = tuple(SLOT_METRICS)


@pytest.fixture
def people(org) -> dict[str, list]:
    other = Organization.objects.create(name="Other")
    devices = [make_device(org, address) for address in ("d0@h0.p", "d1@h0.p", "d2@h1.p")]
    devices.append(make_device(other, "x0@h0.p"))
    teams = [Team.objects.create(organization=org, name=name) for name in ("Blue", "Red")]
    users = [User.objects.create(organization=org, email=f"u{i}@x.example") for i in range(3)]
    return {"devices": devices, "teams": teams, "users": users}


def report(spec: ReportSpec, *, slots: bool) -> list[tuple]:
    sql, params = build_report_sql(spec, slots=slots)
    assert ("usage_org_slots" in sql) == slots, "the slots serve this report"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


sessions_strategy = st.lists(
    st.tuples(
        st.integers(0, 3),  # device (3: the other organization's)
        st.integers(-1, 2),  # user (-1: none)
        st.integers(-1, 1),  # team (-1: none)
        st.integers(-24, 4 * 96).map(lambda q: q * QUARTER) | st.integers(-86400, 4 * 86400),
        st.integers(0, 12).map(lambda q: q * 300) | st.integers(0, 6 * 3600) | st.integers(0, 3 * 86400),
    ),
    max_size=14,
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=sessions_strategy,
    chunks=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    zone_name=st.sampled_from(ZONES),
    days=st.integers(1, 3),
)
# On slot edges: one ending on an edge (no time after it), a zero-length one on an edge, one
# wholly inside another of the same device, and one from before the range to after it.
@example(
    sessions=[(0, 0, 0, 3600, 300), (1, 1, -1, 3900, 0), (0, -1, 1, 3000, 1200), (2, 2, 0, -3600, 5 * 86400)],
    chunks=2,
    seed=0,
    zone_name="UTC",
    days=1,
)
def test_the_slots_give_the_sessions_report_after_every_write(people, sessions, chunks, seed, zone_name, days):
    rng = random.Random(seed)
    org = people["devices"][0].organization
    # Read again for each example: an earlier one deleted (and rolled back) some of them.
    devices: list[Device] = [Device.objects.get(pk=d.pk) for d in people["devices"]]
    users = list(User.objects.filter(organization=org).order_by("email"))
    teams = list(Team.objects.filter(organization=org).order_by("name"))
    zone = ZoneInfo(zone_name)
    start = FIRST_DAY.replace(tzinfo=zone)
    made = [
        UsageEvent(
            organization=devices[d].organization,
            device=devices[d],
            user=users[u] if u >= 0 and d < 3 else None,
            team=teams[t] if t >= 0 and d < 3 else None,
            start_time=start + timedelta(seconds=offset),
            end_time=start + timedelta(seconds=offset + length),
        )
        for d, u, t, offset, length in sessions
    ]
    with transaction.atomic():
        for i in range(chunks):
            UsageEvent.objects.bulk_create(made[i::chunks])
        for event in rng.sample(made, len(made) // 2):
            change = rng.choice(["move", "shorten", "zero", "device", "user", "team", "delete"])
            mine = event.organization_id == org.id
            if change == "move":
                shift = timedelta(seconds=rng.choice([-300, QUARTER, 3 * 3600 + 7, -86400]))
                event.start_time, event.end_time = event.start_time + shift, event.end_time + shift
                event.save()
            elif change == "shorten":
                UsageEvent.objects.filter(pk=event.pk).update(
                    end_time=event.start_time + (event.end_time - event.start_time) // 2
                )
            elif change == "zero":
                UsageEvent.objects.filter(pk=event.pk).update(end_time=event.start_time)
            elif change == "device" and mine:
                UsageEvent.objects.filter(pk=event.pk).update(device=rng.choice(devices[:3]))
            elif change == "user" and mine:
                UsageEvent.objects.filter(pk=event.pk).update(user=rng.choice([None, *users]))
            elif change == "team" and mine:
                UsageEvent.objects.filter(pk=event.pk).update(team=rng.choice([None, *teams]))
            elif change == "delete":
                event.delete()
        if rng.random() < 0.3:
            users[0].delete()  # its sessions keep their time, without a user (SET_NULL)
        if rng.random() < 0.2:
            devices[2].delete()  # its sessions go with it

        for bin_size in BIN_SIZES:
            # In UTC, as the routes pass them: adding fixed seconds to a local time would add wall time.
            bins = make_bins(
                start=start.astimezone(UTC),
                end=(start + timedelta(days=days)).astimezone(UTC),
                tz=zone,
                bin_size=bin_size,
            )
            spec = ReportSpec(organization_id=org.id, bins=bins, metrics=EVERY)
            assert report(spec, slots=True) == report(spec, slots=False), bin_size
        transaction.set_rollback(True)


def test_microseconds_are_summed_exactly(people):
    """Session times off the second: the slots add whole microseconds, the sessions' path floats."""
    d0, d1 = people["devices"][:2]
    org = d0.organization
    for device, start, end in (
        (d0, "2024-03-08 10:00:00.000001", "2024-03-08 10:07:30.333333"),
        (d1, "2024-03-08 10:04:59.999999", "2024-03-08 11:00:00.000001"),
    ):
        UsageEvent.objects.create(organization=org, device=device, start_time=utc(start), end_time=utc(end))
    bins = make_bins(start=utc("2024-03-08 10:00"), end=utc("2024-03-08 12:00"), tz=ZoneInfo("UTC"), bin_size="hour")
    spec = ReportSpec(organization_id=org.id, bins=bins, metrics=("total_time", "device_count", "avg_session_length"))
    # 450.333332 + 3300.000001 s in the first hour, 0.000001 s in the second; the sessions last
    # 450.333332 and 3300.000002 s, both starting in the first hour.
    assert report(spec, slots=True) == [(1, 3750.333333, 2, 1875.166667), (2, 1e-06, 1, None)]
    sessions = report(spec, slots=False)
    assert [row[2:3] for row in sessions] == [(2,), (1,)]
    assert [row[1] for row in sessions] == pytest.approx([3750.333333, 1e-06], rel=1e-12)


@pytest.mark.parametrize(
    "change",
    [
        {"dimensions": ("device",)},
        {"filters": Filters(hostnames=["h0.p"])},
        {"filters": Filters(automated=False)},
        {"bin_size": 420},  # seven minutes: edges off the slots
        {"start": "2024-03-08 10:02"},  # a range starting off a slot edge
    ],
)
def test_reports_the_slots_cannot_hold_read_the_sessions(people, change):
    start = utc(change.get("start", "2024-03-08 10:00"))
    bins = make_bins(start=start, end=utc("2024-03-08 12:00"), tz=ZoneInfo("UTC"), bin_size=change.get("bin_size", 600))
    spec = ReportSpec(
        organization_id=people["devices"][0].organization_id,
        bins=bins,
        dimensions=change.get("dimensions", ()),
        filters=change.get("filters", Filters()),
    )
    sql, _ = build_report_sql(spec)
    assert "usage_org_slots" not in sql and "usage_usageevent" in sql


def test_emptying_the_sessions_table_empties_the_slots(people):
    d0 = people["devices"][0]
    UsageEvent.objects.create(
        organization=d0.organization, device=d0, start_time=utc("2024-03-08 10:00"), end_time=utc("2024-03-08 10:30")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_org_slots")
        assert cursor.fetchone() == (6,)
        cursor.execute("TRUNCATE usage_usageevent")
        cursor.execute("SELECT (SELECT count(*) FROM usage_org_slots), (SELECT count(*) FROM usage_rollup_bits)")
        assert cursor.fetchone() == (0, 0)


def test_an_organization_with_more_users_than_a_bitmap_holds_counts_them_off_the_sessions(people):
    d0, d1 = people["devices"][:2]
    org = d0.organization
    u0, u1 = people["users"][:2]
    with connection.cursor() as cursor:
        # As if SLOT_BITS_MAX users of the organization had had sessions before.
        cursor.execute(
            "INSERT INTO usage_rollup_bits SELECT %s, 'u', 'gone-' || i, i FROM generate_series(0, %s - 1) i",
            [org.id, SLOT_BITS_MAX],
        )
    for device, user, start, end in (
        (d0, u0, "2024-03-08 10:10", "2024-03-08 10:20"),
        (d1, u1, "2024-03-08 10:30", "2024-03-08 11:10"),
        (d1, u0, "2024-03-08 11:30", "2024-03-08 11:40"),
    ):
        UsageEvent.objects.create(organization=org, device=device, user=user, start_time=utc(start), end_time=utc(end))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(users), count(devices) FROM usage_org_slots WHERE users IS NULL")
        assert cursor.fetchone() == (12, 0, 12)  # every slot with time keeps its devices, none its users
    bins = make_bins(start=utc("2024-03-08 10:00"), end=utc("2024-03-08 12:00"), tz=ZoneInfo("UTC"), bin_size="hour")
    spec = ReportSpec(organization_id=org.id, bins=bins, metrics=("user_count", "device_count", "total_time"))
    assert report(spec, slots=True) == report(spec, slots=False) == [(1, 2, 2, 2400.0), (2, 2, 1, 1200.0)]


def test_an_organization_with_a_session_over_a_month_keeps_no_slots(people):
    d0, d1 = people["devices"][:2]
    org = d0.organization
    UsageEvent.objects.create(
        organization=org, device=d0, start_time=utc("2024-03-08 10:10"), end_time=utc("2024-03-08 10:20")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_org_slots WHERE organization_id = %s", [org.id])
        assert cursor.fetchone() == (2,)
    # A year long (it starts before the range): one piece per slot would be 105,000.
    UsageEvent.objects.create(
        organization=org, device=d1, start_time=utc("2023-03-08 11:00"), end_time=utc("2024-03-08 11:30")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_org_slots WHERE organization_id = %s", [org.id])
        assert cursor.fetchone() == (0,)
    bins = make_bins(start=utc("2024-03-08 10:00"), end=utc("2024-03-08 12:00"), tz=ZoneInfo("UTC"), bin_size="hour")
    spec = ReportSpec(organization_id=org.id, bins=bins, metrics=("total_time", "device_count", "peak_concurrency"))
    assert report(spec, slots=True) == report(spec, slots=False) == [(1, 4200.0, 2, 2), (2, 1800.0, 1, 1)]
