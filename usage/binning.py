"""Time bins for device usage reports: DST-correct calendar bins and fixed N-second bins.

Bin edges are computed once here, in Python with ``zoneinfo``, and handed to PostgreSQL as one
``timestamptz[]`` parameter. Converting every session to local time in SQL was measured to be the
dominant cost of a report; comparing absolute instants against precomputed edges is not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import InvalidParameter

MAX_BINS = 100_000
MIN_BIN_SECONDS = 60
CALENDAR_UNITS = ("hour", "day", "week", "month")
LABEL_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Bins:
    """The bins covering a report range, clipped to it.

    ``edges`` has one more element than there are bins: bin ``i`` (0-based) is
    ``[edges[i], edges[i + 1])`` in absolute time, ``edges[0]`` is the range start and
    ``edges[-1]`` the range end. ``labels`` are the bins' local calendar labels (the start of the
    whole calendar bin, even when the range clips it); ``starts``/``ends`` the local wall-clock
    times of the clipped bin.
    """

    edges: list[datetime]
    labels: list[datetime]
    tz: ZoneInfo

    def __len__(self) -> int:
        return len(self.labels)

    def local(self, index: int) -> datetime:
        return self.edges[index].astimezone(self.tz).replace(tzinfo=None)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``.

    Where midnight does not exist (a DST gap at 00:00) the day starts at the first instant that
    does: ``fold=0`` reads a missing wall time with the offset from before the gap, which lands
    on the transition itself.
    """
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _instants(wall: datetime, tz: ZoneInfo, *, both_folds: bool) -> list[datetime]:
    """The absolute instants at which the clock in ``tz`` reads ``wall``.

    A repeated wall time (the hour after a fall-back) has two; hour bins keep both so that the
    repeated hour is two bins. A missing wall time maps to the instant just after the gap.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if not both_folds:
        return [first]
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if second > first and second.astimezone(tz).replace(tzinfo=None) == wall:
        return [first, second]
    return [first]


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _floor_day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _floor_week(t: datetime) -> datetime:
    return _floor_day(t) - timedelta(days=t.weekday())


def _floor_month(t: datetime) -> datetime:
    return _floor_day(t).replace(day=1)


def _next_month(t: datetime) -> datetime:
    return t.replace(year=t.year + 1, month=1) if t.month == 12 else t.replace(month=t.month + 1)


@dataclass(frozen=True)
class CalendarUnit:
    floor: Callable[[datetime], datetime]
    step: Callable[[datetime], datetime]
    approx_seconds: int  # the shortest such bin, to bound the bin count before generating any


CALENDAR: dict[str, CalendarUnit] = {
    "hour": CalendarUnit(_floor_hour, lambda t: t + timedelta(hours=1), 3600),
    "day": CalendarUnit(_floor_day, lambda t: t + timedelta(days=1), 23 * 3600),
    "week": CalendarUnit(_floor_week, lambda t: t + timedelta(days=7), 7 * 86400 - 3600),
    "month": CalendarUnit(_floor_month, _next_month, 28 * 86400 - 3600),
}


def _too_many_bins(count: int, bin_size: str | int) -> InvalidParameter:
    return InvalidParameter(
        f"The report would have {count:,} bins, more than the {MAX_BINS:,} allowed: "
        f"use a larger bin_size or a shorter date range.",
        {"bin_size": str(bin_size)},
    )


def _calendar_edges(start: datetime, end: datetime, tz: ZoneInfo, unit: str) -> Iterator[tuple[datetime, datetime]]:
    """(instant, wall-clock label) of every calendar bin start from the bin holding ``start``."""
    spec = CALENDAR[unit]
    wall = spec.floor(start.astimezone(tz).replace(tzinfo=None))
    while True:
        for instant in _instants(wall, tz, both_folds=unit == "hour"):
            yield instant, wall
            if instant >= end:
                return
        wall = spec.step(wall)


def make_bins(*, start: datetime, end: datetime, tz: ZoneInfo, bin_size: str | int) -> Bins:
    """Bins of ``bin_size`` (a calendar unit or a number of seconds) covering ``[start, end)``."""
    if end <= start:
        return Bins(edges=[start, start], labels=[start.astimezone(tz).replace(tzinfo=None)], tz=tz)
    span = (end - start).total_seconds()
    if isinstance(bin_size, int):
        # A bin longer than the range is one bin; clamping keeps huge sizes within timedelta's range.
        bin_size = min(bin_size, math.ceil(span))
        count = math.ceil(span / bin_size)
        if count > MAX_BINS:
            raise _too_many_bins(count, bin_size)
        step = timedelta(seconds=bin_size)
        edges = [start + i * step for i in range(count)] + [end]
        return Bins(edges=edges, labels=[e.astimezone(tz).replace(tzinfo=None) for e in edges[:-1]], tz=tz)

    estimate = math.ceil(span / CALENDAR[bin_size].approx_seconds) + 1
    if estimate > MAX_BINS:
        raise _too_many_bins(estimate, bin_size)
    edges: list[datetime] = []
    labels: list[datetime] = []
    for instant, wall in _calendar_edges(start, end, tz, bin_size):
        if instant >= end:
            break
        if edges and instant <= edges[-1]:
            # A wall time inside a DST gap lands on the same instant as the next one: keep the
            # later label, the one a clock actually shows.
            labels[-1] = wall
            continue
        if instant <= start or not edges:
            # The bin holding the range start, clipped to it.
            first_label = (
                wall if instant <= start else CALENDAR[bin_size].floor(start.astimezone(tz).replace(tzinfo=None))
            )
            edges, labels = [start], [first_label]
            if instant <= start:
                continue
        edges.append(instant)
        labels.append(wall)
    edges.append(end)
    return Bins(edges=edges, labels=labels, tz=tz)


def format_local(value: datetime) -> str:
    return value.strftime(LABEL_FORMAT)
