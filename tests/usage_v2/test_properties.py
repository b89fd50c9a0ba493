"""Properties on generated sessions: totals add up whatever the zone, bins, range and grouping.

For random sessions (some spanning days), a random range, a zone with DST (or a half/quarter-hour
offset) and a random bin size, checked against a computation done here in plain Python:
- the org rows' total_time sums to the session time inside the range, and so does every grouping;
- session_count sums to the number of sessions starting inside the range, in every grouping;
- the org bins tile the range: the first starts at the range start, each ends where the next
  starts, the last ends at the range end;
- time is split between bins by overlap: each device's total_time in each bin equals the sum of
  its sessions' overlaps with that bin (the bins' instants read back from the org rows' wall times).

Failing examples are kept in Hypothesis's example database (.hypothesis/, ignored by git) and
replayed first on the next run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import get, make_device
from usage.models import Device, Team, UsageEvent, User

pytestmark = pytest.mark.django_db

ZONES = [
    "UTC",
    "America/Los_Angeles",  # 2024-03-10 spring forward
    "Europe/London",  # 2024-03-31 spring forward
    "Australia/Lord_Howe",  # 2024-04-07 falls back half an hour
    "America/Santiago",  # 2024-04-07 falls back at midnight
    "Asia/Kathmandu",  # +05:45
]
BIN_SIZES = ["hour", "day", "week", "month", "3600", "5400", "21600", "259217"]
GROUPINGS = ["org", "device", "team", "user", "host", "device_team", "device_user"]
FIRST_DAY = date(2024, 2, 27)
ADDRESSES = ("d0@h0.p", "d1@h0.p", "d2@h1.p", "d3@h2.p")

QUARTER = 900
session_strategy = st.tuples(
    st.integers(0, 3),  # device
    st.none() | st.integers(0, 2),  # team
    st.none() | st.integers(0, 2),  # user
    st.sampled_from(["range start", "range end"]),  # what the start is an offset from
    # Start offset in seconds: often whole quarter hours (0 included), so that sessions start and
    # end exactly on range and bin edges; every zone here has its hours on a quarter hour of UTC.
    st.integers(-3 * 96, 3 * 96).map(lambda q: q * QUARTER) | st.integers(-3 * 86400, 3 * 86400),
    # Duration: zero, short, or up to six days; on quarter hours or not.
    st.integers(0, 6 * 96).map(lambda q: q * QUARTER) | st.integers(0, 3 * 3600) | st.integers(0, 6 * 86400),
)


@dataclass
class Entities:
    devices: list[Device]
    teams: list[Team]
    users: list[User]


@pytest.fixture
def entities(org) -> Entities:
    return Entities(
        devices=[make_device(org, address) for address in ADDRESSES],
        teams=[Team.objects.create(organization=org, name=f"team {i}") for i in range(3)],
        users=[User.objects.create(organization=org, email=f"user{i}@p.test") for i in range(3)],
    )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (a midnight in a DST gap reads as the gap's end)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def wall(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def utc_edges(org_rows: list[dict], zone: ZoneInfo, range_start: datetime, range_end: datetime) -> list[datetime]:
    """The bins' edges as instants: each row's start wall time, read with the offset that keeps them
    increasing (a wall time repeated when clocks fall back is the later instant the second time)."""
    edges = [range_start]
    for r in org_rows[1:]:
        naive = datetime.fromisoformat(r["start_time"])
        candidates = sorted({naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
        edges.append(next(c for c in candidates if c > edges[-1]))
    return [*edges, range_end]


def device_time_per_bin(device_rows: list[dict], org_rows: list[dict]) -> dict[tuple[int, str], float]:
    """{(bin index, device address): total_time} of the device rows (in bin order) with time."""
    found: dict[tuple[int, str], float] = {}
    k = 0
    for r in device_rows:
        while org_rows[k]["start_time"] != r["start_time"] or (k, r["device_address"]) in found:
            k += 1
        found[(k, r["device_address"])] = r["total_time"]
    return {key: value for key, value in found.items() if value}


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=st.lists(session_strategy, max_size=12),
    first=st.integers(0, 40),
    length=st.integers(0, 12),
    zone_name=st.sampled_from(ZONES),
    bin_size=st.sampled_from(BIN_SIZES),
    display_all=st.booleans(),
)
def test_every_grouping_adds_up_to_the_time_inside_the_range(
    api, entities, sessions, first, length, zone_name, bin_size, display_all
):
    zone = ZoneInfo(zone_name)
    start_day = FIRST_DAY + timedelta(days=first)
    end_day = start_day + timedelta(days=length)
    range_start, range_end = local_midnight(start_day, zone), local_midnight(end_day + timedelta(days=1), zone)

    anchors = {"range start": range_start, "range end": range_end}
    spans = [
        (anchors[anchor] + timedelta(seconds=offset), anchors[anchor] + timedelta(seconds=offset + duration))
        for *_, anchor, offset, duration in sessions
    ]
    expected_time = sum(max(0.0, (min(e, range_end) - max(s, range_start)).total_seconds()) for s, e in spans)
    expected_count = sum(1 for s, _ in spans if range_start <= s < range_end)

    params = {
        "start_date": start_day.isoformat(),
        "end_date": end_day.isoformat(),
        "timezone": zone_name,
        "bin_size": bin_size,
        "display_all": str(display_all).lower(),
    }
    with transaction.atomic():
        UsageEvent.objects.bulk_create(
            UsageEvent(
                organization=entities.devices[0].organization,
                device=entities.devices[device],
                team=entities.teams[team] if team is not None else None,
                user=entities.users[user] if user is not None else None,
                start_time=s,
                end_time=e,
            )
            for (device, team, user, *_), (s, e) in zip(sessions, spans, strict=True)
        )
        reports = {}
        for grouping in GROUPINGS:
            status, data = get(api, f"/v2/usage/{grouping}", params)
            assert status == 200, data
            reports[grouping] = data["report"]
        transaction.set_rollback(True)

    for grouping, rows in reports.items():
        assert sum(r["total_time"] for r in rows) == pytest.approx(expected_time, abs=1e-6), grouping
        assert sum(r["session_count"] for r in rows) == expected_count, grouping
        assert all(r["total_time"] >= 0 and r["device_count"] <= 4 for r in rows), grouping

    org_rows = reports["org"]
    assert org_rows[0]["start_time"] == wall(range_start, zone)
    assert org_rows[-1]["end_time"] == wall(range_end, zone)
    assert all(a["end_time"] == b["start_time"] for a, b in itertools.pairwise(org_rows))
    # A bin with time has at least one device in it, and one without has none.
    assert all((r["total_time"] > 0) == (r["device_count"] > 0) for r in org_rows)

    # Each session's time is split between bins by overlap.
    edges = utc_edges(org_rows, zone, range_start, range_end)
    expected_split: dict[tuple[int, str], float] = {}
    for (device, *_), (s, e) in zip(sessions, spans, strict=True):
        address = ADDRESSES[device]
        for i in range(len(edges) - 1):
            overlap = (min(e, edges[i + 1]) - max(s, edges[i])).total_seconds()
            if overlap > 0:
                expected_split[(i, address)] = expected_split.get((i, address), 0.0) + overlap
    actual_split = device_time_per_bin(reports["device"], org_rows)
    assert actual_split.keys() == expected_split.keys()
    assert all(actual_split[key] == pytest.approx(expected_split[key], abs=1e-6) for key in expected_split)
