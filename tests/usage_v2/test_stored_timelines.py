"""The sessions' stored timeline columns (usage.timeline), kept by PostgreSQL through every write.

For random sessions of two organizations written in several statements, then moved, shortened,
moved to another device and deleted (each its own statement, as the ORM, admin and imports do):
- each session's ``running_in_org``, ``running_on_device`` and ``busy_from`` equal a brute force
  over the sessions as they are now;
- every report that reads them (org, device and host groupings, with and without a device filter)
  equals the same report computed by sorting the sessions (``stored_timelines=False``).
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
from usage import timeline
from usage.binning import make_bins
from usage.models import Device, Organization, UsageEvent
from usage.reporting import Filters, ReportSpec, build_report_sql

pytestmark = pytest.mark.django_db

DAY = datetime(2024, 3, 9, tzinfo=UTC)  # sessions from 06:00 UTC over four days; LA springs forward on the 10th
QUARTER = 900


@pytest.fixture
def fleet(org) -> list[Device]:
    other = Organization.objects.create(name="Other")
    return [make_device(org, a) for a in ("d0@h0.p", "d1@h0.p", "d2@h1.p")] + [make_device(other, "x0@h9.p")]


def stored(event: UsageEvent) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT running_in_org, running_on_device, busy_from FROM usage_usageevent WHERE id = %s", [event.pk]
        )
        return cursor.fetchone()


def expected(event: UsageEvent, everyone: list[UsageEvent]) -> tuple:
    """The three columns by definition, over the sessions stored now."""
    if event.end_time == event.start_time:
        return (None, None, None)
    t = event.start_time
    org = [x for x in everyone if x.organization_id == event.organization_id and x.end_time > x.start_time]
    device = [x for x in org if x.device_id == event.device_id]
    earlier = [x.end_time for x in device if (x.start_time, str(x.pk)) < (t, str(event.pk))]
    return (
        sum(1 for x in org if x.start_time <= t < x.end_time),
        sum(1 for x in device if x.start_time <= t < x.end_time),
        max([t, *earlier]),
    )


def report(spec: ReportSpec, *, stored_timelines: bool) -> list[tuple]:
    sql, params = build_report_sql(spec, stored_timelines=stored_timelines)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in cursor.fetchall()]


spans = st.lists(
    st.tuples(
        st.integers(0, 3),  # device (3: the other organization's)
        st.integers(24, 4 * 96).map(lambda q: q * QUARTER) | st.integers(0, 4 * 86400),
        st.integers(0, 12).map(lambda q: q * QUARTER) | st.integers(0, 6 * 3600) | st.integers(0, 2 * 86400),
    ),
    max_size=16,
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=spans, chunks=st.integers(1, 4), seed=st.integers(0, 2**16), bin_size=st.sampled_from(["hour", "day"]))
# A session ending on a bin edge is not in progress in the next bin; one wholly inside another.
@example(sessions=[(0, 36000, 3600), (1, 39600, 7200), (1, 39660, 60)], chunks=2, seed=0, bin_size="hour")
# Before the range (08:00 UTC) two at once, one of them over before it starts: the first bin's peak is 1.
@example(sessions=[(0, 23400, 3600), (1, 25200, 7200)], chunks=1, seed=0, bin_size="hour")
def test_the_stored_timelines_follow_every_write(fleet, sessions, chunks, seed, bin_size):
    rng = random.Random(seed)
    org = fleet[0].organization
    made = [
        UsageEvent(
            organization=fleet[d].organization,
            device=fleet[d],
            start_time=DAY + timedelta(seconds=offset),
            end_time=DAY + timedelta(seconds=offset + length),
        )
        for d, offset, length in sessions
    ]
    with transaction.atomic():
        for i in range(chunks):
            UsageEvent.objects.bulk_create(made[i::chunks])
        for event in rng.sample(made, len(made) // 3):
            change = rng.choice(["move", "shorten", "device", "delete", "zero"])
            if change == "move":
                shift = timedelta(seconds=rng.choice([-QUARTER, QUARTER, 3 * 3600, -86400]))
                event.start_time, event.end_time = event.start_time + shift, event.end_time + shift
                event.save()
            elif change == "shorten":
                event.end_time = event.start_time + (event.end_time - event.start_time) / 2
                UsageEvent.objects.filter(pk=event.pk).update(end_time=event.end_time)
            elif change == "device" and event.organization_id == org.id:
                event.device = rng.choice(fleet[:3])
                event.save()
            elif change == "zero":
                event.end_time = event.start_time
                event.save()
            elif change == "delete":
                event.delete()
        now = list(UsageEvent.objects.all())
        assert {e.pk: stored(e) for e in now} == {e.pk: expected(e, now) for e in now}

        zone = ZoneInfo("America/Los_Angeles")
        bins = make_bins(
            start=datetime(2024, 3, 9, tzinfo=zone), end=datetime(2024, 3, 12, tzinfo=zone), tz=zone, bin_size=bin_size
        )
        metrics = ("total_time", "peak_concurrency", "utilization", "device_count")
        for dimensions, filters in [
            ((), Filters()),
            (("device",), Filters()),
            (("device",), Filters(hostnames=["h0.p"])),
            (("host",), Filters()),
            ((), Filters(hostnames=["h0.p"])),
        ]:
            spec = ReportSpec(
                organization_id=org.id, bins=bins, dimensions=dimensions, metrics=metrics, filters=filters
            )
            assert report(spec, stored_timelines=True) == report(spec, stored_timelines=False), (dimensions, filters)
        transaction.set_rollback(True)


def test_a_bulk_writer_recomputes_once_when_its_block_ends(fleet):
    device = fleet[0]
    first = UsageEvent(
        organization=device.organization,
        device=device,
        start_time=utc("2024-03-09 10:00"),
        end_time=utc("2024-03-09 12:00"),
    )
    second = UsageEvent(
        organization=device.organization,
        device=device,
        start_time=utc("2024-03-09 11:00"),
        end_time=utc("2024-03-09 11:30"),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(timeline.DEFER)  # as an import's first statement
        UsageEvent.objects.bulk_create([first])
        UsageEvent.objects.bulk_create([second])
        assert (stored(first), stored(second)) == ((None, None, None), (None, None, None))
        cursor.execute(timeline.RESUME)  # as an import's last
        assert (stored(first), stored(second)) == (
            (1, 1, utc("2024-03-09 10:00")),
            (2, 2, utc("2024-03-09 12:00")),  # wholly inside the first: no busy time of its own
        )
        transaction.set_rollback(True)


def test_running_the_install_again_locks_no_table_against_readers_or_writers(db):
    from core import versions
    from usage import timeline

    with transaction.atomic():
        timeline.install()
        versions.track(table="usage_usageevent", tenant="organization", column="organization_id", area="usage")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'usage_usageevent%%'"
                " AND l.mode NOT IN ('AccessShareLock', 'RowExclusiveLock')"
            )
            assert cursor.fetchall() == []  # only reads (the check for missing values)


@pytest.mark.django_db(transaction=True)
def test_two_imports_writing_two_organizations_in_opposite_orders_both_commit():
    """Each import's statements take no lock another writer waits for: the longest sessions are
    kept at the refresh, under the organizations' locks taken in one order."""
    import psycopg

    devices = [make_device(Organization.objects.create(name=name), f"d0@{name}.p") for name in ("a", "b")]
    settings_dict = connection.settings_dict

    def connect() -> psycopg.Connection:
        writer = psycopg.connect(
            dbname=settings_dict["NAME"],
            user=settings_dict["USER"],
            host=settings_dict["HOST"] or None,
            port=settings_dict["PORT"] or None,
        )
        writer.execute("SET lock_timeout = '3s'")
        writer.execute(timeline.DEFER)  # as an import's first statement
        return writer

    def write(writer: psycopg.Connection, device: Device, hours: int) -> None:
        writer.execute(
            "INSERT INTO usage_usageevent (id, organization_id, device_id, start_time, end_time, automated)"
            " VALUES (gen_random_uuid(), %s, %s, %s, %s, false)",
            [
                device.organization_id,
                device.pk,
                utc("2024-03-09 10:00"),
                utc("2024-03-09 10:00") + timedelta(hours=hours),
            ],
        )

    first, second = connect(), connect()
    with first, second:
        write(first, devices[0], 1)
        write(second, devices[1], 2)
        write(first, devices[1], 3)  # longer than the second's, which has not committed
        write(second, devices[0], 4)
        first.commit()
        second.commit()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.name, r.longest FROM usage_timeline_reach r JOIN usage_organization o ON o.id = r.organization_id"
            " ORDER BY o.name"
        )
        assert cursor.fetchall() == [("a", 4 * 3600), ("b", 3 * 3600)]
    # Both sessions of each organization start at 10:00: each counts the other (peers at an instant).
    assert sorted(stored(e)[0] for e in UsageEvent.objects.all()) == [2, 2, 2, 2]
