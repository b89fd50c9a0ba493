"""Properties of SPEC §11's metrics on generated sessions, against a brute force done here in Python.

For random sessions on four devices of three hosts (often overlapping on one device, often
starting or ending exactly where another does or on a bin edge), a random range, zone and bin size:
- ``peak_concurrency`` of the org and of each device equals a sweep over every instant that matters
  (the bin start and every session start in the bin);
- a device's ``utilization`` equals 100 x its merged busy time in the bin ÷ the bin's length, a
  host's and the org's 100 x their devices' merged busy time ÷ (devices x the bin's length);
- ``avg_concurrency`` times the bin's length equals ``total_time``;
- every ``utilization`` (org, device, host) lies in [0, 100];
- the org's ``peak_concurrency`` is at least each device's in the same bin.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import get, make_device
from usage.binning import make_bins
from usage.models import Device, UsageEvent

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"]
BIN_SIZES = ["hour", "day", "week", "month", "3600", "5400", "21600"]
FIRST_DAY = date(2024, 3, 7)  # three days before Los Angeles springs forward
METRICS = "peak_concurrency,utilization,avg_concurrency,total_time"
QUARTER = 900

Span = tuple[datetime, datetime]

session_strategy = st.tuples(
    st.integers(0, 3),  # device
    st.sampled_from(["range start", "range end"]),
    # Whole quarter hours often, so that sessions touch each other and the bin edges.
    st.integers(-2 * 96, 2 * 96).map(lambda q: q * QUARTER) | st.integers(-2 * 86400, 2 * 86400),
    st.integers(0, 4 * 12).map(lambda q: q * QUARTER) | st.integers(0, 4 * 3600) | st.integers(0, 3 * 86400),
)


@pytest.fixture
def devices(org) -> list[Device]:
    return [make_device(org, address) for address in ("d0@h0.p", "d1@h0.p", "d2@h1.p", "d3@h2.p")]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def in_progress(spans: list[Span], instant: datetime) -> int:
    return sum(1 for s, e in spans if s <= instant < e)


def brute_peak(spans: list[Span], a: datetime, c: datetime) -> int:
    """The most sessions in progress at one instant of [a, c): the count only rises at a start."""
    instants = [a, *(s for s, _ in spans if a <= s < c)]
    return max(in_progress(spans, x) for x in instants)


def merged_busy(spans: list[Span], a: datetime, c: datetime) -> float:
    """Seconds of [a, c) with at least one of ``spans`` in progress (their union)."""
    busy, reach = 0.0, a
    for s, e in sorted((max(s, a), min(e, c)) for s, e in spans):
        if e > max(s, reach):
            busy += (e - max(s, reach)).total_seconds()
            reach = e
    return busy


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=st.lists(session_strategy, max_size=14),
    first=st.integers(0, 6),
    length=st.integers(0, 4),
    zone_name=st.sampled_from(ZONES),
    bin_size=st.sampled_from(BIN_SIZES),
)
def test_the_new_metrics_agree_with_a_brute_force(api, devices, sessions, first, length, zone_name, bin_size):
    zone = ZoneInfo(zone_name)
    start_day = FIRST_DAY + timedelta(days=first)
    end_day = start_day + timedelta(days=length)
    range_start, range_end = local_midnight(start_day, zone), local_midnight(end_day + timedelta(days=1), zone)
    anchors = {"range start": range_start, "range end": range_end}
    spans = [
        (device, anchors[anchor] + timedelta(seconds=offset), anchors[anchor] + timedelta(seconds=offset + duration))
        for device, anchor, offset, duration in sessions
    ]
    edges = make_bins(
        start=range_start, end=range_end, tz=zone, bin_size=int(bin_size) if bin_size.isdigit() else bin_size
    ).edges
    bins = list(itertools.pairwise(edges))

    params = {
        "start_date": start_day.isoformat(),
        "end_date": end_day.isoformat(),
        "timezone": zone_name,
        "bin_size": bin_size,
        "metrics": METRICS,
    }
    with transaction.atomic():
        UsageEvent.objects.bulk_create(
            UsageEvent(organization=devices[0].organization, device=devices[d], start_time=s, end_time=e)
            for d, s, e in spans
        )
        reports = {}
        for grouping in ("org", "device", "host"):
            status, data = get(api, f"/v2/usage/{grouping}", {**params, "display_all": "true"})
            assert status == 200, data
            reports[grouping] = data["report"]
        transaction.set_rollback(True)

    every = [(s, e) for _, s, e in spans]
    per_device = [[(s, e) for d, s, e in spans if d == n] for n in range(4)]
    org_rows, device_rows = reports["org"], reports["device"]
    assert (len(org_rows), len(device_rows), len(reports["host"])) == (
        len(bins),
        4 * len(bins),
        3 * len(bins),
    )  # display_all: every device, every bin
    for index, (a, c) in enumerate(bins):
        seconds = (c - a).total_seconds()
        org = org_rows[index]
        assert org["peak_concurrency"] == brute_peak(every, a, c)
        assert org["avg_concurrency"] * seconds == pytest.approx(org["total_time"], abs=1e-6)
        busy = [merged_busy(per_device[n], a, c) for n in range(4)]
        assert org["utilization"] == pytest.approx(100 * sum(busy) / (4 * seconds), abs=1e-9)
        # Hosts h0 (d0, d1), h1 (d2), h2 (d3), in hostname order.
        hosts = reports["host"][3 * index : 3 * index + 3]
        assert [r["utilization"] for r in hosts] == pytest.approx(
            [100 * (busy[0] + busy[1]) / (2 * seconds), 100 * busy[2] / seconds, 100 * busy[3] / seconds], abs=1e-9
        )
        for n in range(4):
            row = device_rows[4 * index + n]
            assert row["device_address"] == devices[n].device_id + "@" + devices[n].host.hostname
            assert row["peak_concurrency"] == brute_peak(per_device[n], a, c)
            assert row["utilization"] == pytest.approx(100 * merged_busy(per_device[n], a, c) / seconds, abs=1e-9)
            assert row["avg_concurrency"] * seconds == pytest.approx(row["total_time"], abs=1e-6)
            assert org["peak_concurrency"] >= row["peak_concurrency"]
    for rows in reports.values():
        assert all(0 <= r["utilization"] <= 100 for r in rows)
