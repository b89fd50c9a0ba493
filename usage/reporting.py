"""Device usage reports: the one query builder shared by the v0, v1 and v2 routes.

A report is the sessions of one organization, narrowed by filters, split across time bins by
overlap, grouped by zero or more dimensions, and aggregated with a set of metrics, in a single
SQL statement. Versions differ only in how they parse parameters and shape the rows.

How a session's time is attributed: its part inside the report range is cut at the bin edges
(``width_bucket`` against the precomputed edge array finds its first and last bin, or arithmetic
where the bins are evenly spaced; only sessions that cross an edge produce more than one piece).
``session_count`` and ``avg_session_length`` count a session once, in the bin where it starts, and
only if it starts inside the range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, make_dataclass, replace
from itertools import pairwise
from typing import Any
from uuid import UUID

from core.db import time_limit
from core.routers import report_connection
from usage.binning import Bins
from usage.rollup import SLOT_BITS_MAX, SLOT_LONGEST_SECONDS, SLOT_SECONDS

# --------------------------------------------------------------------------------------------
# Dimensions: what a report can be grouped by.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A grouping key of sessions, with how to label it and how to list all its values.

    ``key`` is an expression over the session ``e``, its device ``d`` and host ``h``. Labels come
    from ``label_source``, a query of the organization's ``id`` and label columns that the report
    joins as a small subquery (hash-joined: looking labels up row by row was measured slower), or
    from the key itself (``{k}``). ``{a}`` is the subquery's alias; ``{extras}`` in the source receives the
    optional label columns asked for.
    """

    key: str
    labels: tuple[tuple[str, str], ...]  # (column name, SQL expression)
    order: str
    universe: str  # SELECT of every key value of the organization (for display_all)
    label_source: str = ""
    extras: dict[str, str] = field(default_factory=dict)  # optional label columns, on request
    # The key as an expression over the device ``d`` and host ``h`` when the group is a set of the
    # organization's devices (device, host, ...): only then has a group a utilization.
    device_key: str | None = None


_PHONE_MODEL = (
    "CASE WHEN lower(d.device_type) = 'phone' AND lower(d.os) = 'android' THEN 'AndroidPhone' "
    "WHEN lower(d.device_type) = 'phone' AND lower(d.os) = 'ios' THEN 'iPhone' "
    "ELSE NULLIF(d.model, '') END"
)
_DEVICES_OF_ORG = "FROM usage_device d JOIN usage_host h ON h.id = d.host_id WHERE d.organization_id = %(org)s"


def _device_attribute(name: str, expression: str) -> Dimension:
    """A dimension keyed and labelled by an attribute of the device or its host."""
    return Dimension(
        key=expression,
        labels=((name, "{k}"),),
        order="{k}",
        universe=f"SELECT DISTINCT {expression} {_DEVICES_OF_ORG} {{device_filters}}",
        device_key=expression,
    )


DIMENSIONS: dict[str, Dimension] = {
    "device": Dimension(
        key="e.device_id",
        label_source="SELECT d.id, d.device_id || '@' || h.hostname AS device_address " + _DEVICES_OF_ORG,
        labels=(("device_address", "{a}.device_address"),),
        order="{a}.device_address",
        universe="SELECT d.id " + _DEVICES_OF_ORG + " {device_filters}",
        device_key="d.id",
    ),
    # Legacy ``group_by_device_id``: one group per device id, merging the hosts it appears on.
    "device_id": _device_attribute("device_id", "d.device_id"),
    "team": Dimension(
        key="e.team_id",
        label_source="SELECT t.id, t.id::text AS team_id, t.name AS team_name FROM usage_team t "
        "WHERE t.organization_id = %(org)s",
        labels=(("team_id", "{a}.team_id"), ("team_name", "{a}.team_name")),
        order="{a}.team_name",
        universe="SELECT t.id FROM usage_team t WHERE t.organization_id = %(org)s {team_filters}",
    ),
    "user": Dimension(
        key="e.user_id",
        label_source="SELECT u.id, u.id::text AS user_id, u.email AS user_email{extras} FROM usage_user u "
        "WHERE u.organization_id = %(org)s",
        labels=(("user_id", "{a}.user_id"), ("user_email", "{a}.user_email")),
        order="{a}.user_email",
        universe="SELECT u.id FROM usage_user u WHERE u.organization_id = %(org)s {user_filters}",
        extras={
            "user_notes": "u.notes",
            "user_teams": "ARRAY(SELECT t.name FROM usage_user_teams ut JOIN usage_team t ON t.id = ut.team_id "
            "WHERE ut.user_id = u.id ORDER BY t.name)",
        },
    ),
    "host": Dimension(
        key="d.host_id",
        label_source="SELECT DISTINCT h.id, h.hostname " + _DEVICES_OF_ORG,
        labels=(("hostname", "{a}.hostname"),),
        order="{a}.hostname",
        universe="SELECT DISTINCT d.host_id " + _DEVICES_OF_ORG + " {device_filters}",
        device_key="d.host_id",
    ),
    "country": _device_attribute("country", "NULLIF(h.country, '')"),
    "device_model": _device_attribute("device_model", "NULLIF(d.model, '')"),
    # Legacy ``combine_phone_os``: phones become AndroidPhone / iPhone by their OS.
    "device_model_combined": _device_attribute("device_model", _PHONE_MODEL),
}

# --------------------------------------------------------------------------------------------
# Metrics. Aggregation runs in two levels so that PostgreSQL can hash-aggregate (a DISTINCT
# aggregate forces a sort): first per (bin, group[, counted entity]) into ``secs`` (time),
# ``starts`` (sessions starting there) and ``started_secs`` (their full durations); then per
# (bin, group), where a distinct count is a count of first-level rows with time. When the
# counted entity is itself a group key (devices per device), the first level already has one row
# per (bin, group) and the metric is read off that row, skipping the second level. By default the
# counted entities are not carried but OR'ed together as bitmaps (``build_report_sql``), and every
# metric is read off the one level.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """``value`` is written over the first-level rows ``i`` with ``{sum}`` where it sums them: the
    second level fills in ``sum``; with one first-level row per (bin, group) it stays empty and the
    value is read off that row.

    A ``timeline`` metric is read off one of the side queries of ``TIMELINES`` instead: its
    ``value`` aggregates their columns over the rows ``u`` of a (bin, group), and may read the
    window ``earlier`` (the group's earlier bins). ``final``, when set, writes the output over the
    aggregated ``{m}``, the row's interval length in seconds ``{seconds}`` and the number of the
    group's devices ``{devices}`` (only where ``device_set``).
    """

    value: str
    empty: str  # SQL value of a (bin, group) with no sessions
    per: str | None = None  # the entity a distinct count counts: the first level groups by it too
    needs_started_secs: bool = False
    duration: bool = False  # seconds: shown in the report's unit where a route has one
    timeline: str | None = None  # a key of TIMELINES
    per_device: tuple[str, str] | None = None  # (timeline, value) where each group is one device
    final: str = ""
    device_set: bool = False  # needs the group's devices: only for groupings that are sets of devices
    stored: str = ""  # what it reads of the sessions' stored timeline columns, if anything: see STORED

    def aggregate(self) -> str:
        return self.value.format(sum="sum", max="max")

    def row(self) -> str:
        return self.value.format(sum="", max="")

    def distinct(self) -> str:
        """A distinct count when the first level holds several counted entities (or none) per row."""
        return f"count(DISTINCT i.{self.per}) FILTER (WHERE i.secs > 0)"


METRICS: dict[str, Metric] = {
    "total_time": Metric("{sum}(i.secs)", "0.0", duration=True),
    "session_count": Metric("{sum}(i.starts)::bigint", "0"),
    "avg_session_length": Metric(
        "{sum}(i.started_secs) / NULLIF({sum}(i.starts), 0)::float8", "NULL", needs_started_secs=True, duration=True
    ),
    # A distinct count: the first-level rows (one per counted entity) with time.
    "device_count": Metric("{sum}((i.secs > 0)::int)::bigint", "0", per="device_id"),
    "user_count": Metric("{sum}((i.secs > 0 AND i.user_id IS NOT NULL)::int)::bigint", "0", per="user_id"),
    "team_count": Metric("{sum}((i.secs > 0 AND i.team_id IS NOT NULL)::int)::bigint", "0", per="team_id"),
    # SPEC §11. Session time in the row's interval over its length (a short first or last bin: its own).
    "avg_concurrency": Metric("{sum}(i.secs)", "0.0", final="COALESCE({m}, 0.0) / {seconds}"),
    # Per bin: the most in progress after a start inside it, or at its start (sessions carried in).
    "peak_concurrency": Metric(
        "greatest(max(u.peak), coalesce(sum(sum(u.net)) OVER earlier, 0))::bigint",
        "0",
        timeline="concurrency",
    ),
    # Per device the time with a session in progress (its sessions' union), summed over the devices,
    # over the device time available; null when the group has no device.
    "utilization": Metric(
        "sum(u.busy)",
        "NULL",
        timeline="busy",
        final="100 * COALESCE({m}, 0.0) / NULLIF({devices} * {seconds}, 0)",
        device_set=True,
        # A group of one device is busy where its running count is above zero: read off the
        # concurrency timeline (one sort for both metrics) as in ``_concurrency``.
        per_device=(
            "concurrency",
            "coalesce(sum(u.ups), 0) - coalesce(sum(u.downs), 0) + CASE WHEN coalesce(sum(sum(u.net)) OVER earlier, 0)"
            " > 0 THEN date_part('epoch', {edge}[u.b + 1] - {edge}[u.b]) ELSE 0 END",
        ),
    ),
}


def unsupported_metrics(metrics: Sequence[str], dimensions: Sequence[str]) -> list[str]:
    """The metrics among ``metrics`` that a report grouped by ``dimensions`` cannot compute."""
    device_groups = all(DIMENSIONS[name].device_key for name in dimensions)
    return [name for name in metrics if METRICS[name].device_set and not device_groups]


# The timeline metrics read off the sessions' stored places on their timelines (``usage.timeline``)
# where those hold for the sessions asked: then no side query sorts the sessions. ``run`` is the
# most sessions in progress after a start in the bin (of the starts inside the range: a count
# before it may include sessions that ended before it) and ``carried`` those in progress at the
# bin's start; ``shadow`` the session time in the bin that is not its own part of its device's
# busy time (another session of the device was already in progress).
STORED: dict[str, Metric] = {
    "peak_concurrency": Metric(
        "greatest(coalesce({max}(i.start_peak), 0), coalesce({sum}(i.carried), 0))::bigint", "0", stored="run"
    ),
    "utilization": Metric(
        "{sum}(i.secs) - coalesce({sum}(i.shadow), 0.0)",
        "NULL",
        final="100 * greatest(COALESCE({m}, 0.0), 0.0) / NULLIF({devices} * {seconds}, 0)",
        device_set=True,
        stored="shadow",
    ),
}


def _stored_metrics(
    metrics: list[Metric], names: Sequence[str], dims: list[Dimension], filters: Filters
) -> list[Metric]:
    """``metrics`` with the timeline ones replaced by their ``STORED`` forms where those are exact.

    A session's running counts are among all of its organization's (or its device's) sessions, and
    its busy part among all of its device's: they hold when the report keeps all of those, that is
    without filters (org grouping), or with filters that keep or drop whole devices only.
    """
    device_filters_only = filters.automated is None and all(
        f.universe == "device" or not getattr(filters, f.field) for f in FILTERS
    )
    unfiltered = device_filters_only and not any(getattr(filters, f.field) for f in FILTERS)
    keys = [d.key for d in dims]
    usable = {
        "peak_concurrency": (not keys and unfiltered) or (keys == ["e.device_id"] and device_filters_only),
        "utilization": device_filters_only,
    }
    return [STORED[n] if m.timeline and usable.get(n) else m for n, m in zip(names, metrics, strict=True)]


# The metrics of a report of the whole organization read off its five-minute slots (``usage.rollup``)
# where every bin edge lies on a slot boundary: aggregates over the slot rows ``o`` of a bin (its
# bin ``o.b``), giving what the sessions' path gives there (the timeline metrics: its ``STORED``
# forms). Microseconds are summed as integers, then made seconds once. ``{devices}`` and the like
# are the slot's bitmaps padded to the organization's length.
SLOT_METRICS: dict[str, str] = {
    "total_time": "(sum(o.secs)::numeric * 0.000001)::float8",
    "session_count": "sum(o.starts)::bigint",
    "avg_session_length": "(sum(o.started)::numeric * 0.000001)::float8 / NULLIF(sum(o.starts), 0)::float8",
    "device_count": "bit_count(bit_or({devices}))",
    "user_count": "bit_count(bit_or({users}))",
    "team_count": "bit_count(bit_or({teams}))",
    "avg_concurrency": "(sum(o.secs)::numeric * 0.000001)::float8",
    # The bin's first slot's ``carried`` is the sessions' path's; a later slot's is never higher
    # than that or a ``run`` before it (the running count rises only at starts).
    "peak_concurrency": "greatest(coalesce(max(o.run), 0), coalesce(max(o.carried), 0))::bigint",
    "utilization": "((sum(o.secs) - sum(o.shadow))::numeric * 0.000001)::float8",
}
_SLOT_BITS = {"devices": "d", "users": "u", "teams": "t"}


def _slot_bitmaps(metrics: Sequence[str]) -> dict[str, str]:
    """The slot bitmap columns ``metrics`` read, and the kind of bits of each."""
    return {
        column: kind for column, kind in _SLOT_BITS.items() if any(f"{{{column}}}" in SLOT_METRICS[n] for n in metrics)
    }


def _reads_slots(spec: ReportSpec) -> bool:
    """Whether the organization's slots hold the report: no grouping, all its sessions (no
    filter), metrics they have, and every bin edge on a slot boundary."""
    return (
        not spec.dimensions
        and spec.filters.automated is None
        and not any(getattr(spec.filters, f.field) for f in FILTERS)
        and all(name in SLOT_METRICS for name in spec.metrics)
        and all(edge.microsecond == 0 and int(edge.timestamp()) % SLOT_SECONDS == 0 for edge in spec.bins.edges)
    )


# --------------------------------------------------------------------------------------------
# Filters: narrow the sessions (and the display_all universe) before anything is computed.
# Different kinds are AND'ed, the values of one kind OR'ed.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """One filter, declared once: its field of ``Filters``, the SQL that applies it, and the names
    the API routes give it. The routes' parameter fields, v2's ``filters_from`` and v1's
    ``filter_on.*`` are generated from these records (``usage.api.params.filter_fields``)."""

    field: str  # field of Filters, and the SQL parameter's name
    universe: str  # the display_all universe it narrows: team, user or device
    sql: str  # condition over {col}, the tested column of a session ``e`` or a universe row
    column: str  # the session column tested
    value: str  # how a value is read: "uuid" or "text"
    description: str
    v2: str | None = None  # parameter of /v2/usage routes
    v1: str | None = None  # parameter of /v1/usage routes
    casefold: bool = False  # values compared lower-cased (the SQL lower-cases its side)


_TEAM_IN = "SELECT t.id FROM usage_team t WHERE t.organization_id = %(org)s AND "
_USER_IN = "SELECT u.id FROM usage_user u WHERE u.organization_id = %(org)s AND "
_DEVICE_IN = "SELECT d.id " + _DEVICES_OF_ORG + " AND "
FILTERS: tuple[Filter, ...] = (
    Filter(
        "team_ids",
        "team",
        "{col} = ANY(%(team_ids)s::uuid[])",
        "team_id",
        "uuid",
        "Only sessions charged to this team (its id).",
        v2="filter_team_id",
    ),
    Filter(
        "team_names",
        "team",
        "{col} IN (" + _TEAM_IN + "t.name = ANY(%(team_names)s))",
        "team_id",
        "text",
        "Only sessions charged to the team of this name (exact).",
        v2="filter_team_name",
        v1="filter_on.team_name",
    ),
    Filter(
        "user_ids",
        "user",
        "{col} = ANY(%(user_ids)s::uuid[])",
        "user_id",
        "uuid",
        "Only sessions of this user (their id).",
        v2="filter_user_id",
    ),
    Filter(
        "user_emails",
        "user",
        "{col} IN (" + _USER_IN + "lower(u.email) = ANY(%(user_emails)s))",
        "user_id",
        "text",
        "Only sessions of the user with this email (case-insensitive).",
        v2="filter_user_email",
        v1="filter_on.user_email",
        casefold=True,
    ),
    Filter(
        "device_addresses",
        "device",
        "{col} IN (" + _DEVICE_IN + "d.device_id || '@' || h.hostname = ANY(%(device_addresses)s))",
        "device_id",
        "text",
        "Only sessions on the device of this address (device_id@hostname).",
        v2="filter_device_address",
        v1="filter_on.device_address",
    ),
    Filter(
        "hostnames",
        "device",
        "{col} IN (" + _DEVICE_IN + "h.hostname = ANY(%(hostnames)s))",
        "device_id",
        "text",
        "Only sessions on devices of this host (hostname).",
        v2="filter_hostname",
        v1="filter_on.hostname",
    ),
    Filter(
        "device_ids",
        "device",
        "{col} IN (" + _DEVICE_IN + "d.device_id = ANY(%(device_ids)s))",
        "device_id",
        "text",
        "Only sessions on devices of this device id, on any host.",
    ),
)

# The filters' values by field (each a sequence, empty: no filter), and automated (None: any).
Filters = make_dataclass(
    "Filters",
    [(f.field, Sequence[UUID] if f.value == "uuid" else Sequence[str], field(default=())) for f in FILTERS]
    + [("automated", bool | None, field(default=None))],
    frozen=True,
)
Filters.__module__ = __name__
# How each universe names the column a filter tests.
_UNIVERSE_COLUMNS = {"team": {"team_id": "t.id"}, "user": {"user_id": "u.id"}, "device": {"device_id": "d.id"}}


def filter_conditions(filters: Filters) -> tuple[list[str], dict[str, list[str]], dict[str, Any]]:
    """SQL conditions on sessions, conditions per universe, and their parameters."""
    on_sessions: list[str] = []
    on_universe: dict[str, list[str]] = {"team": [], "user": [], "device": []}
    params: dict[str, Any] = {}
    for declared in FILTERS:
        values = list(getattr(filters, declared.field))
        if not values:
            continue
        params[declared.field] = [v.lower() for v in values] if declared.casefold else values
        on_sessions.append(declared.sql.format(col=f"e.{declared.column}"))
        on_universe[declared.universe].append(
            declared.sql.format(col=_UNIVERSE_COLUMNS[declared.universe][declared.column])
        )
    if filters.automated is not None:
        on_sessions.append("e.automated = %(automated)s")
        params["automated"] = filters.automated
    return on_sessions, on_universe, params


# --------------------------------------------------------------------------------------------
# The report query.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSpec:
    organization_id: UUID
    bins: Bins
    dimensions: Sequence[str] = ()
    metrics: Sequence[str] = ("total_time",)
    filters: Filters = field(default_factory=Filters)
    display_all: bool = False
    drop_null_groups: bool = False  # legacy routes leave out sessions without a value for the key
    extras: Sequence[str] = ()  # optional label columns of the dimensions (e.g. user_notes)


@dataclass(frozen=True)
class Report:
    """The columns of the rows and the rows themselves: ``(bin index, *labels, *metrics)``."""

    label_columns: list[str]
    metric_columns: list[str]
    rows: Iterator[tuple]
    bins: Bins


# Reports of at most this many bins aggregate their grouped sessions per start bin (see ``spans``).
PER_START_BIN_MAX_BINS = 1000


# The tables whose rows a distinct count counts, by the session column naming them: each of the
# organization's rows gets a bit of its own in a bitmap as long as the table (see ``bitmaps``).
_COUNTED = {"device_id": "usage_device", "user_id": "usage_user", "team_id": "usage_team"}
# The most rows of a counted kind an organization may have for its counts to be taken by bitmaps,
# as for its slots' bitmaps. A bitmap is as long as the table, one per row and per span: with 5,000
# devices (10M sessions) team/week took 26% less PostgreSQL CPU than carrying the devices, with
# 50,000 users a month of user counts 32 times as much.
BITMAP_BITS_MAX = SLOT_BITS_MAX


def _bitmaps_fit(organization_id: UUID, columns: Sequence[str]) -> bool:
    """Whether the organization has at most ``BITMAP_BITS_MAX`` rows of each counted kind: one
    query, which stops counting past the limit."""
    fits = " AND ".join(
        f"(SELECT count(*) FROM (SELECT FROM {_COUNTED[c]} x WHERE x.organization_id = %(org)s"
        f" LIMIT {BITMAP_BITS_MAX + 1}) y) <= {BITMAP_BITS_MAX}"
        for c in columns
    )
    with report_connection().cursor() as cursor:
        cursor.execute(f"SELECT {fits}", {"org": organization_id})
        return cursor.fetchone()[0]


def build_report_sql(
    spec: ReportSpec,
    *,
    stored_timelines: bool = True,
    shortcuts: bool = True,
    bitmaps: bool | None = None,
    slots: bool = True,
    labels_as: Callable[[str], str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The single SQL statement of a report, and its parameters.

    ``labels_as``, when given, rewrites the SQL of each label column (its JSON text, say): where the
    labels come from a label CTE it is computed there, once per group rather than once per row.

    ``stored_timelines=False`` computes every timeline metric by sorting the sessions, as where
    the stored columns do not hold: the property tests compare the two.

    ``shortcuts=False`` finds every bin by ``width_bucket`` (see ``_bucket``), aggregates the
    sessions of all start bins at once (see ``spans``), and counts distinct devices, users or teams
    of groups that do not have them as a key (devices per host, say) by carrying them as a group key
    of their own through a first aggregation level, and counting that level's rows with time: ~1M
    groups of a year of hour bins, which spilled to disk. With ``shortcuts`` and ``bitmaps`` each
    counted row of the organization has a bit of its own (its rank), the spans OR together the bits
    of their sessions, and a (bin, group) counts the bits set among the spans that cover it with
    time: one level, whose groups follow the answer. The property tests compare the two ways.
    Each session carries a bitmap as long as the organization's table: with 50,000 users a month of
    user counts took 32 times as long (7.96 s against 0.25 s), with 500 devices, 200 users and 20
    teams a year of team/day display_all a third of the time (1M sessions). ``bitmaps=None``, the
    default, counts by bitmaps where the organization has at most ``BITMAP_BITS_MAX`` rows of each
    kind counted, which one small query finds out first (``_bitmaps_fit``).

    ``slots=False`` reads the sessions even where the organization's slots hold the report
    (``_reads_slots``): the property tests compare the two.
    """
    dims = [DIMENSIONS[name] for name in spec.dimensions]
    metrics = [METRICS[name] for name in spec.metrics]
    if stored_timelines:
        metrics = _stored_metrics(metrics, spec.metrics, dims, spec.filters)
    session_filters, universe_filters, params = filter_conditions(spec.filters)
    n_bins = len(spec.bins)
    params.update(
        org=spec.organization_id,
        # One array literal, built once: the query names the edges five times, and psycopg dumped
        # the list of datetimes for each (7.8 s of a 100,000-bin report; 0.7 s as text).
        edges="{" + ",".join(edge.isoformat() for edge in spec.bins.edges) + "}",
        rs=spec.bins.edges[0],
        re=spec.bins.edges[-1],
        n_bins=n_bins,
    )
    edge = "(%(edges)s::timestamptz[])"
    if slots and stored_timelines and _reads_slots(spec):
        sql = _slots_sql(spec, edge=edge, params=params)
        # An organization that has had a session longer than SLOT_LONGEST_SECONDS keeps no slots,
        # nor bitmaps of a kind with more than SLOT_BITS_MAX bits: its report reads the sessions.
        # Only the branch the condition picks runs.
        fits = " AND ".join(
            [
                "coalesce((SELECT r.longest FROM usage_timeline_reach r WHERE r.organization_id = %(org)s), 0)"
                f" <= {SLOT_LONGEST_SECONDS}",
                *(
                    "(SELECT count(*) FROM usage_rollup_bits x WHERE x.organization_id = %(org)s"
                    f" AND x.kind = '{kind}') <= {SLOT_BITS_MAX}"
                    for kind in _slot_bitmaps(spec.metrics).values()
                ),
            ]
        )
        # (The sessions' branch seldom runs: it does not ask for the table sizes bitmaps would need.)
        sessions, more = build_report_sql(
            spec, shortcuts=shortcuts, bitmaps=bool(bitmaps), slots=False, labels_as=labels_as
        )
        params.update(more)
        either = f"SELECT * FROM ({sql}) s WHERE {fits} UNION ALL SELECT * FROM ({sessions}) t WHERE NOT ({fits})"
        return f"{either} ORDER BY 1", params

    keys = [f"k{i}" for i in range(len(dims))]
    key_select = "".join(f", {d.key} AS {k}" for d, k in zip(dims, keys, strict=True))
    where = ["e.organization_id = %(org)s", "e.start_time < %(re)s", "e.end_time >= %(rs)s", *session_filters]
    if spec.drop_null_groups:
        where += [f"{d.key} IS NOT NULL" for d in dims]
    group_keys = "".join(f", {k}" for k in keys)
    # Only keys read from the device or host need those joins; filters test ids by subquery.
    needs_device = any("d." in d.key or "h." in d.key for d in dims)
    device_join = (
        " JOIN usage_device d ON d.id = e.device_id JOIN usage_host h ON h.id = d.host_id" if needs_device else ""
    )

    # The counted entities' columns: carried through the first level as group keys of their own,
    # or, when one is a group key already, named after that key. One level is enough when nothing
    # is carried; one carried entity is counted as first-level rows; several (rare) by distinct
    # counts, which sort.
    per = list(dict.fromkeys(m.per for m in metrics if m.per))
    key_of = {d.key: k for d, k in zip(dims, keys, strict=True)}
    carried = [c for c in per if f"e.{c}" not in key_of]
    # Counted by bitmaps instead: a session with time covers bins b0 (or 1) to b1 - 1, and b1 too
    # when it ends after b1's start edge (one ending on the edge has no time there; one in a single
    # bin, b0 = b1, covers it), exactly where the first level would find time for its entity.
    if bitmaps is None:
        bitmaps = bool(carried) and shortcuts and _bitmaps_fit(spec.organization_id, carried)
    counted = carried if shortcuts and bitmaps else []
    carried = [c for c in carried if c not in counted]
    per_cols = "".join(f", {c}" for c in carried)
    per_names = per_cols + "".join(f", p.{key_of[f'e.{c}']} AS {c}" for c in per if c not in carried + counted)
    single_level = not carried
    if counted:
        metrics = [replace(m, value=f"coalesce(i.n_{m.per}, 0)::bigint") if m.per in counted else m for m in metrics]
    bit_ctes = "".join(
        f"bits_{c} AS MATERIALIZED (SELECT x.id, set_bit(repeat('0', count(*) OVER ()::int)::varbit,"
        f" (row_number() OVER (ORDER BY x.id) - 1)::int, 1) AS bits FROM {_COUNTED[c]} x"
        " WHERE x.organization_id = %(org)s),"
        for c in counted
    )
    bit_select = "".join(f", bits_{c}.bits AS bits_{c}" for c in counted)
    # Left joins: a session keeps its time even if its row were missing (then it counts nowhere).
    bit_join = "".join(f" LEFT JOIN bits_{c} ON bits_{c}.id = e.{c}" for c in counted)
    bit_spans = "".join(
        f", bit_or(s.bits_{c}) FILTER (WHERE s.end_time > s.start_time) AS any_{c}"
        f", bit_or(s.bits_{c}) FILTER (WHERE s.b1 > s.b0 AND s.end_time > {{edge}}[s.b1]) AS last_{c}"
        for c in counted
    )
    bit_first = "".join(
        f", bit_count(bit_or(CASE WHEN p.b < p.b1 OR p.b = p.b0 THEN p.any_{c} ELSE p.last_{c} END)) AS n_{c}"
        for c in counted
    )
    started_secs = any(m.needs_started_secs for m in metrics)
    stored = {m.stored for m in metrics}
    bit_spans = bit_spans.format(edge=edge)
    bucket = _bucket(spec.bins, edge=edge, params=params) if shortcuts else lambda t: f"width_bucket({t}, {edge})"
    # Stored timeline columns (STORED): the running count of the grouping (the organization's
    # without groups), and where a session's shadow (its time before its busy part) ends: a
    # session with one ends in bin sb1, and the shadows are spread over bins as the sessions are.
    shadow_end = "least(greatest(coalesce(e.busy_from, e.start_time), e.start_time), e.end_time)"
    running = "e.running_on_device" if dims else "e.running_in_org"
    stored_select = f", {running} AS run" if "run" in stored else ""
    stored_spans, stored_first, shadow_key = "", "", ""
    if "run" in stored:
        stored_spans += (
            ", max(s.run) FILTER (WHERE s.b0 >= 1 AND s.end_time > s.start_time) AS run"
            f", count(*) FILTER (WHERE s.end_time = {edge}[s.b1]) AS n_edge"
        )
        stored_first += (
            ", max(p.run) FILTER (WHERE p.b = p.b0) AS start_peak"
            ", sum(p.n) FILTER (WHERE p.b > p.b0) - coalesce(sum(p.n_edge) FILTER (WHERE p.b > p.b0 AND p.b = p.b1), 0)"
            " AS carried"
        )
    if "shadow" in stored:
        shadow_key = ", s.sb1"
        stored_select += (
            f", {shadow_end} AS shadow_end, CASE WHEN {shadow_end} > e.start_time THEN {bucket(shadow_end)} END AS sb1"
        )
        stored_spans += (
            ", sum(date_part('epoch', s.shadow_end - s.start_time)) FILTER (WHERE s.sb1 IS NOT NULL) AS sh"
            f", sum(date_part('epoch', s.shadow_end - {edge}[s.sb1])) FILTER (WHERE s.sb1 > s.b0) AS sh_tail"
        )
        stored_first += f"""
               , sum(CASE WHEN p.sb1 IS NULL OR p.b > p.sb1 THEN 0.0
                          WHEN p.sb1 = p.b0 THEN p.sh
                          WHEN p.b = p.b0
                               THEN p.sh - p.sh_tail - p.n * date_part('epoch', {edge}[p.sb1] - {edge}[p.b0 + 1])
                          WHEN p.b = p.sb1 THEN p.sh_tail
                          ELSE p.n * date_part('epoch', {edge}[p.b + 1] - {edge}[p.b]) END) AS shadow"""

    # Sessions are aggregated before they are cut at bin edges, per (first bin b0, last bin b1,
    # group): ``durations`` sums what they last, ``tail`` their parts after the last edge they
    # cross; their parts before the first edge and the whole bins between follow from those. Only
    # these spans, not the sessions, are then spread over their bins, which keeps set-returning
    # functions and edge lookups out of the per-session work. Nothing is clipped per session:
    # ``width_bucket`` puts what lies before the range in bin 0 and after it in bin n + 1, which
    # are not spread over; b0 >= 1 means the session starts inside the range (it counts in
    # session_count). A session ending exactly on an edge gets b1 one bin further, with a
    # zero-time tail that counts nowhere. The group keys are the very expressions the aggregates
    # test, so PostgreSQL computes each edge lookup once per session.
    # With many groups (devices, say), the sessions are aggregated per start bin: a lateral query
    # per bin reads that bin's sessions through usage_event_org_start, in time order as they are
    # stored, and its hash table holds one bin's groups, not the whole range's (1.9M at device/day
    # over a year of 10M sessions, which spilled to disk: ~25% of the report's PostgreSQL CPU).
    # The bin of a session's start is then the bin whose edges enclose it, as width_bucket finds it.
    per_start_bin = shortcuts and bool(dims) and n_bins <= PER_START_BIN_MAX_BINS
    start_bin, start_range = bucket("e.start_time"), []
    if per_start_bin:
        start_bin = "g.b0"
        start_range = [
            f"e.start_time >= CASE WHEN g.b0 = 0 THEN '-infinity' ELSE {edge}[g.b0] END",
            f"e.start_time < {edge}[g.b0 + 1]",
        ]
    spans = f"""
        SELECT s.b0, s.b1{shadow_key}{group_keys}{per_cols},
               sum(date_part('epoch', s.end_time - s.start_time)) AS durations,
               sum(date_part('epoch', s.end_time - {edge}[s.b1])) FILTER (WHERE s.b1 > s.b0) AS tail,
               count(*)::int AS n{stored_spans}{bit_spans}
        FROM (
            SELECT e.device_id, e.user_id, e.team_id{key_select}, e.start_time, e.end_time,
                   {start_bin} AS b0, {bucket("e.end_time")} AS b1{stored_select}{bit_select}
            FROM usage_usageevent e{device_join}{bit_join}
            WHERE {" AND ".join(where + start_range)}
        ) s
        GROUP BY 1, 2{shadow_key}{group_keys}{per_cols}"""
    if per_start_bin:
        spans = f"SELECT z.* FROM generate_series(0, %(n_bins)s) AS g(b0) CROSS JOIN LATERAL ({spans}) z"
    # A span's head is what its sessions last, less their tails and the whole bins between.
    first_level = f"""
        SELECT p.b{group_keys}{per_names},
               sum(CASE WHEN p.b1 = p.b0 THEN p.durations
                        WHEN p.b = p.b0 THEN p.durations - p.tail
                             - p.n * date_part('epoch', {edge}[p.b1] - {edge}[p.b0 + 1])
                        WHEN p.b = p.b1 THEN p.tail
                        ELSE p.n * date_part('epoch', {edge}[p.b + 1] - {edge}[p.b]) END) AS secs,
               sum(p.n) FILTER (WHERE p.b = p.b0) AS starts
               {", sum(p.durations) FILTER (WHERE p.b = p.b0) AS started_secs" if started_secs else ""}
               {stored_first}{bit_first}
        FROM (SELECT sp.*, generate_series(greatest(sp.b0, 1), least(sp.b1, %(n_bins)s)) AS b FROM spans sp) p
        GROUP BY p.b{group_keys}{per_cols}"""
    # ``active`` decides which (bin, group) rows exist: those with time in them or a session
    # starting there (a zero-length session still counts in session_count).
    first_metrics = [(i, m) for i, m in enumerate(metrics) if not m.timeline]
    if single_level:
        rows = "".join(f", {m.row()} AS m{i}" for i, m in first_metrics)
        agg = f"SELECT i.b{group_keys}{rows}, i.secs > 0 OR i.starts > 0 AS active FROM first_level i"
    else:
        aggregates = "".join(
            f", {m.aggregate() if not m.per or carried == [m.per] else m.distinct()} AS m{i}" for i, m in first_metrics
        )
        agg = (
            f"SELECT i.b{group_keys}{aggregates}, sum(i.secs) > 0 OR sum(i.starts) > 0 AS active "
            f"FROM first_level i GROUP BY i.b{group_keys}"
        )
    timeline_ctes = ""
    if len(first_metrics) < len(metrics):
        timeline_ctes, agg = _with_timelines(
            metrics, dims=dims, keys=keys, where=where, device_join=device_join, edge=edge, agg=agg
        )
    if any(m.device_set for m in metrics):
        timeline_ctes += _device_counts(dims, keys, universe_filters["device"])

    metric_out = _metric_outputs(metrics, edge=edge)
    metric_cols = "".join(f", a.m{i}" for i in range(len(metrics)))

    if not dims:
        # The org grouping: every bin, zeros included.
        body = f"SELECT g.b AS rb{metric_cols} FROM generate_series(1, %(n_bins)s) AS g(b) LEFT JOIN agg a ON a.b = g.b"
    elif spec.display_all:
        narrowing = {f"{name}_filters": "".join(f" AND {c}" for c in conds) for name, conds in universe_filters.items()}
        universes = [f"({d.universe.format(**narrowing)}) AS u{i}(k)" for i, d in enumerate(dims)]
        cross = " CROSS JOIN ".join(["generate_series(1, %(n_bins)s) AS g(b)", *universes])
        on = " AND ".join(["a.b = g.b", *(f"a.{k} = u{i}.k" for i, k in enumerate(keys))])
        not_null = " AND ".join(f"u{i}.k IS NOT NULL" for i in range(len(dims)))
        body = (
            f"SELECT g.b AS rb{''.join(f', u{i}.k AS {k}' for i, k in enumerate(keys))}{metric_cols} "
            f"FROM {cross} LEFT JOIN agg a ON {on} WHERE {not_null} "
            # Groups outside the universe (sessions without a team or user) still count.
            f"UNION ALL SELECT a.b{group_keys}{metric_cols} FROM agg a "
            f"WHERE a.active AND ({' OR '.join(f'a.{k} IS NULL' for k in keys)})"
        )
    else:
        body = f"SELECT a.b AS rb{group_keys}{metric_cols} FROM agg a WHERE a.active"

    joins, label_cols, order, tie_breaks = [], [], ["r.rb::int8"], []
    folding = True  # while the dimensions have ranks: at most (100,000 bins + 1) x 1M x 1M, an int8
    for i, (dim, k) in enumerate(zip(dims, keys, strict=True)):
        fmt = {"a": f"lab{i}", "k": f"r.{k}"}
        extras = [name for name in spec.extras if name in dim.extras]
        if dim.label_source:
            source = dim.label_source.format(extras="".join(f", {dim.extras[n]} AS {n}" for n in extras))
            # Rows are sorted by the label's rank, an integer, rather than by the text itself.
            ranked = f'row_number() OVER (ORDER BY {dim.order.format(a="x")} COLLATE "C", x.id) AS rank'
            rewritten = "".join(
                f", {labels_as(expr.format(a='x'))} AS {name}__as" for name, expr in dim.labels if labels_as
            )
            # A subquery, not a CTE: the planner sees through it to the label table's statistics (ids
            # unique) and hash-joins it; over a CTE it guessed 200 distinct ids, costed the hash join's
            # buckets 25 rows deep, and merge-joined instead, sorting every row of the report (1.8M rows
            # of device/day at 10M sessions) by id first.
            joins.append(f"LEFT JOIN (SELECT x.*, {ranked}{rewritten} FROM ({source}) x) lab{i} ON lab{i}.id = r.{k}")
            if folding:
                # The bin and the ranks of the leading labelled dimensions as one number, the rank
                # scaled by its label count (a null rank last): hundreds of rows share a bin, and
                # breaking those ties on further sort keys cost more than the rest of the sort.
                count = f"(SELECT count(*) FROM ({source}) x)"
                order[0] = f"({order[0]}) * ({count} + 1) + coalesce(lab{i}.rank - 1, {count})"
            else:
                order.append(f"lab{i}.rank NULLS LAST")
        else:
            folding = False
            # Byte order ("C"): the same on every server whatever its locale, and faster to sort.
            order.append(f'{dim.order.format(**fmt)} COLLATE "C" NULLS LAST')
        # A key without a label (none has: keys are the labels' ids) sorts after the labelled ones.
        (tie_breaks if folding else order).append(f"r.{k} NULLS LAST")
        for name, expr in dim.labels:
            if labels_as is None:
                label_cols.append(f"{expr.format(**fmt)} AS {name}")
            else:
                label_cols.append(
                    f"lab{i}.{name}__as AS {name}" if dim.label_source else f"{labels_as(expr.format(**fmt))} AS {name}"
                )
        label_cols += [f"lab{i}.{name}" for name in extras]

    if any(m.device_set for m in metrics):
        on = " AND ".join(f"dv.{k} = r.{k}" for k in keys)
        joins.append(f"LEFT JOIN devices dv ON {on}" if keys else "CROSS JOIN devices dv")
    # Named after their metrics: a caller may select them from this query as a subquery.
    select = ", ".join(
        ["r.rb", *label_cols, *(f"{m} AS {name}" for m, name in zip(metric_out, spec.metrics, strict=True))]
    )
    sql = f"""
        WITH {bit_ctes}
        spans AS ({spans}),
        first_level AS ({first_level}),
        {timeline_ctes}
        agg AS ({agg}),
        -- Materialized so that labels are hash-joined: row estimates of the levels above are far
        -- off, and the planner otherwise rescans a label subquery once per row to keep the bin order.
        result AS MATERIALIZED ({body})
        SELECT {select}
        FROM result r {" ".join(joins)}
        ORDER BY {", ".join([order[0], *tie_breaks, *order[1:]])}"""
    return sql, params


def _metric_outputs(metrics: list[Metric], *, edge: str) -> list[str]:
    """The output column of each metric over the (bin, group) rows ``r`` (``m0``, ``m1``...)."""
    seconds = f"date_part('epoch', {edge}[r.rb + 1] - {edge}[r.rb])"
    return [
        m.final.format(m=f"r.m{i}", seconds=seconds, devices="dv.n")
        if m.final
        else f"COALESCE(r.m{i}, {m.empty})"
        if m.empty != "NULL"
        else f"r.m{i}"
        for i, m in enumerate(metrics)
    ]


def _slots_sql(spec: ReportSpec, *, edge: str, params: dict[str, Any]) -> str:
    """The report of the whole organization read off its slots (``usage.rollup``): each slot in
    the range is put in its bin, and the bins aggregate their slots."""
    metrics = [STORED.get(name, METRICS[name]) for name in spec.metrics]  # their empty and final forms
    bucket = _bucket(spec.bins, edge=edge, params=params)
    padded = {
        # A bitmap written when the organization had fewer bits is padded with zeros.
        column: f"CASE WHEN length(o.{column}) = {column}_len.n THEN o.{column}"
        f" ELSE o.{column} || repeat('0', {column}_len.n - length(o.{column}))::varbit END"
        for column in _SLOT_BITS
    }
    values = "".join(f", {SLOT_METRICS[name].format(**padded)} AS m{i}" for i, name in enumerate(spec.metrics))
    lengths = "".join(
        f" CROSS JOIN (SELECT coalesce(max(x.bit) + 1, 0) AS n FROM usage_rollup_bits x"
        f" WHERE x.organization_id = %(org)s AND x.kind = '{kind}') {column}_len"
        for column, kind in _slot_bitmaps(spec.metrics).items()
    )
    device_set = any(m.device_set for m in metrics)
    # Named after their metrics, as build_report_sql's.
    outputs = zip(_metric_outputs(metrics, edge=edge), spec.metrics, strict=True)
    named = ", ".join(f"{value} AS {name}" for value, name in outputs)
    return f"""
        WITH {_device_counts([], [], []) if device_set else ""}
        agg AS (
            SELECT o.b{values}
            FROM (
                SELECT {bucket("s.slot")} AS b, s.* FROM usage_org_slots s
                WHERE s.organization_id = %(org)s AND s.slot >= %(rs)s AND s.slot < %(re)s
            ) o{lengths}
            GROUP BY o.b
        ),
        result AS (
            SELECT g.b AS rb{"".join(f", a.m{i}" for i in range(len(metrics)))}
            FROM generate_series(1, %(n_bins)s) AS g(b) LEFT JOIN agg a ON a.b = g.b
        )
        SELECT r.rb, {named}
        FROM result r{" CROSS JOIN devices dv" if device_set else ""}
        ORDER BY r.rb"""


def _bucket(bins: Bins, *, edge: str, params: dict[str, Any]) -> Callable[[str], str]:
    """SQL of the bin of an instant: 0 before the range, 1 to n inside, n + 1 from its end on.

    That is ``width_bucket`` against the edges, a binary search; where the bins between the first
    and the last are all of one length (fixed sizes, hours, days of a zone without DST) it is
    arithmetic instead: the bin counted from a virtual start one length before the second edge (the
    first and last bins, clipped to the range, are at most that long). Instants have whole
    microseconds, so one on an edge divides exactly and one off it is far from the next integer.
    """
    edges = bins.edges
    inner = {b - a for a, b in pairwise(edges[1:-1])}  # lengths of bins 2 to n - 1
    first, last = edges[1] - edges[0], edges[-1] - edges[-2]
    step = inner.pop() if len(inner) == 1 else max(first, last)
    if inner or first > step or last > step or not step:
        return lambda t: f"width_bucket({t}, {edge})"
    params.update(bucket_base=edges[1] - step, bucket_step=step.total_seconds())
    return lambda t: (
        f"CASE WHEN {t} < %(rs)s THEN 0 WHEN {t} >= %(re)s THEN %(n_bins)s + 1"
        f" ELSE floor(date_part('epoch', {t} - %(bucket_base)s) / %(bucket_step)s::float8)::int + 1 END"
    )


def _concurrency(*, cols: list[str], sessions: str, edge: str) -> str:
    """Per (bin, group) of a running count of +1 at each start and -1 at each end: ``peak``, the most
    in progress after a start in the bin; ``net``, starts less ends in it; ``ups`` and ``downs``,
    the seconds to the bin's end from each instant the count leaves and returns to zero.

    At one instant ends come before starts, so a session ending at t and one starting at t never
    overlap, and the count after a start is at most the count at its instant (the last start of the
    instant reaches it). An end belongs to the bin of its session's last instant (an end on an edge
    to the bin before), so the count at a bin's start less the starts there is the ``net`` of the
    group's earlier bins (summed over the bins later): a bin's peak is the larger of that and the
    counts after its starts. Events keep their stored times; starts before the range count in bin 1
    (their sessions are all still running at its start, so no count before it is higher).
    """
    over = f"PARTITION BY {', '.join(cols)} " if cols else ""
    names = "".join(f"{c}, " for c in cols)
    starts = sessions.format(times=f"e.start_time AS t, 1 AS d, greatest(width_bucket(e.start_time, {edge}), 1) AS b")
    ends = sessions.format(times=f"e.end_time, -1, width_bucket(e.end_time - interval '1 microsecond', {edge})")
    return f"""
        SELECT v.b, {names}max(v.running) FILTER (WHERE v.d = 1) AS peak, sum(v.d) AS net,
               sum(date_part('epoch', {edge}[v.b + 1] - greatest(v.t, {edge}[v.b])))
                   FILTER (WHERE v.d = 1 AND v.running = 1) AS ups,
               sum(date_part('epoch', {edge}[v.b + 1] - v.t)) FILTER (WHERE v.d = -1 AND v.running = 0) AS downs
        FROM (
            SELECT {names}x.t, x.d, x.b, sum(x.d) OVER ({over}ORDER BY x.t, x.d ROWS UNBOUNDED PRECEDING) AS running
            FROM ({starts} UNION ALL {ends}) x
        ) v
        WHERE v.b <= %(n_bins)s
        GROUP BY v.b{"".join(f", {c}" for c in cols)}"""


def _busy(*, cols: list[str], sessions: str, edge: str) -> str:
    """Per (bin, group): ``busy``, the seconds in which each device of the group had a session in
    progress, summed over the devices.

    A device's sessions in start order, each cut to what lies after the latest end before it: the
    pieces are disjoint and cover their union (gaps and islands without numbering the islands).
    The pieces are then spread over the bins as the report spreads sessions (see ``spans``).
    """
    names = "".join(f"{c}, " for c in cols)
    group = "".join(f", {c}" for c in cols)
    return f"""
        SELECT p.b, {names}sum(CASE WHEN p.b1 = p.b0 THEN p.durations
                    WHEN p.b = p.b0 THEN p.durations - p.tail
                         - p.n * date_part('epoch', {edge}[p.b1] - {edge}[p.b0 + 1])
                    WHEN p.b = p.b1 THEN p.tail
                    ELSE p.n * date_part('epoch', {edge}[p.b + 1] - {edge}[p.b]) END) AS busy
        FROM (
            SELECT y.*, generate_series(y.b0, least(y.b1, %(n_bins)s)) AS b
            FROM (
                SELECT z.b0, z.b1{group}, sum(date_part('epoch', z.pe - z.ps)) AS durations,
                       sum(date_part('epoch', z.pe - {edge}[z.b1])) FILTER (WHERE z.b1 > z.b0) AS tail, count(*) AS n
                FROM (
                    SELECT {names}z.ps, z.pe, width_bucket(z.ps, {edge}) AS b0, width_bucket(z.pe, {edge}) AS b1
                    FROM (
                        SELECT {names}greatest(greatest(c.start_time, %(rs)s), max(least(c.end_time, %(re)s)) OVER (
                                   PARTITION BY c.dev ORDER BY c.start_time
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS ps,
                               least(c.end_time, %(re)s) AS pe
                        FROM ({sessions.format(times="e.device_id AS dev, e.start_time, e.end_time")}) c
                    ) z
                    WHERE z.pe > z.ps
                ) z
                GROUP BY z.b0, z.b1{group}
            ) y
        ) p
        GROUP BY p.b{group}"""


# Side queries of timeline metrics: SQL of (b, group keys, columns), and the columns' types.
TIMELINES: dict[str, tuple[Callable[..., str], dict[str, str]]] = {
    "concurrency": (
        _concurrency,
        {"peak": "int8", "net": "int8", "ups": "float8", "downs": "float8"},
    ),
    "busy": (_busy, {"busy": "float8"}),
}


def _with_timelines(
    metrics: list[Metric],
    *,
    dims: list[Dimension],
    keys: list[str],
    where: list[str],
    device_join: str,
    edge: str,
    agg: str,
) -> tuple[str, str]:
    """The CTEs of the timeline metrics, and ``agg`` with their values joined in.

    Their rows are appended to the first level's and grouped again by (bin, group): a join would
    need ``IS NOT DISTINCT FROM`` on null groups (sessions without a team), which cannot hash.
    """
    key_select = "".join(f", {d.key} AS {k}" for d, k in zip(dims, keys, strict=True))
    # The sessions with time inside the range (zero-length ones are never in progress), as one
    # time column ``t`` (or several) and a constant ``d``.
    sessions = (
        f"SELECT {key_select[2:]}{', ' if key_select else ''}{{times}} FROM usage_usageevent e{device_join} "
        f"WHERE {' AND '.join(where)} AND e.end_time > e.start_time AND e.end_time > %(rs)s"
    )
    if [d.key for d in dims] == ["e.device_id"]:
        metrics = [replace(m, timeline=m.per_device[0], value=m.per_device[1]) if m.per_device else m for m in metrics]
    used = list(dict.fromkeys(m.timeline for m in metrics if m.timeline))
    columns = {name: sql_type for t in used for name, sql_type in TIMELINES[t][1].items()}
    first = [f"m{i}" for i, m in enumerate(metrics) if not m.timeline]
    group_keys = "".join(f", {k}" for k in keys)
    ctes = [f"agg0 AS ({agg}),"]
    union = [
        f"SELECT b{group_keys}{''.join(f', {m}' for m in first)}"
        + "".join(f", NULL::{sql_type} AS {name}" for name, sql_type in columns.items())
        + ", active FROM agg0"
    ]
    for name in used:
        build, own = TIMELINES[name]
        ctes.append(f"tl_{name} AS ({build(cols=keys, sessions=sessions, edge=edge)}),")
        union.append(
            f"SELECT b{group_keys}{''.join(', NULL' for _ in first)}"
            + "".join(f", {c}" if c in own else f", NULL::{sql_type}" for c, sql_type in columns.items())
            + f", false FROM tl_{name}"
        )
    values = "".join(
        f", max(u.m{i}) AS m{i}" if not m.timeline else f", {m.value.format(edge=edge)} AS m{i}"
        for i, m in enumerate(metrics)
    )
    over = f"PARTITION BY {', '.join(f'u.{k}' for k in keys)} " if keys else ""
    combined = (
        f"SELECT u.b{''.join(f', u.{k}' for k in keys)}{values}, bool_or(u.active) AS active "
        # Grouped by the keys first: the sort that groups also orders the window over the bins.
        f"FROM ({' UNION ALL '.join(union)}) u GROUP BY {''.join(f'u.{k}, ' for k in keys)}u.b "
        f"WINDOW earlier AS ({over}ORDER BY u.b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    return "\n".join(ctes), combined


def _device_counts(dims: list[Dimension], keys: list[str], device_filters: list[str]) -> str:
    """How many of the organization's devices each group holds (device filters narrow them)."""
    cols = ", ".join(f"{d.device_key} AS {k}" for d, k in zip(dims, keys, strict=True))
    narrowing = "".join(f" AND {c}" for c in device_filters)
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    return f"devices AS (SELECT {cols}{', ' if cols else ''}count(*) AS n {_DEVICES_OF_ORG}{narrowing}{group}),"


def run_report(spec: ReportSpec, *, chunk_size: int = 5000) -> Report:
    """Execute the report query and return its rows as a lazy iterator.

    The query runs (and fails, if it does) before this returns; rows are then fetched in chunks
    from a server-side cursor, so a streamed response never holds the whole report in memory.
    """
    from usage.limits import check_report_size

    check_report_size(spec)  # bins x groups known too large: a 400 before the query runs
    sql, params = build_report_sql(spec)
    cursor = report_connection().chunked_cursor()  # the replica inside core.routers.report_reads()
    with time_limit(cursor.db.alias):  # a WITH HOLD cursor's query escapes statement_timeout: see core.db
        cursor.execute(sql, params)
        first = cursor.fetchmany(chunk_size)

    def rows() -> Iterator[tuple]:
        try:
            chunk = first
            while chunk:
                yield from chunk
                if len(chunk) < chunk_size:
                    break
                chunk = cursor.fetchmany(chunk_size)
        finally:
            cursor.close()

    return Report(label_columns=report_labels(spec), metric_columns=list(spec.metrics), rows=rows(), bins=spec.bins)


def report_labels(spec: ReportSpec) -> list[str]:
    """The label columns a report's rows carry, in order."""
    names: list[str] = []
    for name in spec.dimensions:
        dim = DIMENSIONS[name]
        names += [label for label, _ in dim.labels] + [extra for extra in spec.extras if extra in dim.extras]
    return names
