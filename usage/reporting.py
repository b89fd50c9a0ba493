"""Device usage reports: the one query builder shared by the v0, v1 and v2 routes.

A report is the sessions of one organization, narrowed by filters, split across time bins by
overlap, grouped by zero or more dimensions, and aggregated with a set of metrics, in a single
SQL statement. Versions differ only in how they parse parameters and shape the rows.

How a session's time is attributed: its part inside the report range is cut at the bin edges
(``width_bucket`` against the precomputed edge array finds its first and last bin; only sessions
that cross an edge produce more than one piece). ``session_count`` and ``avg_session_length``
count a session once, in the bin where it starts, and only if it starts inside the range.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import connection

from core.db import time_limit
from usage.binning import Bins

# --------------------------------------------------------------------------------------------
# Dimensions: what a report can be grouped by.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A grouping key of sessions, with how to label it and how to list all its values.

    ``key`` is an expression over the session ``e``, its device ``d`` and host ``h``. Labels come
    from ``label_source``, a query of the organization's ``id`` and label columns that the report
    reads as a small CTE (hash-joined: looking labels up row by row was measured slower), or from
    the key itself (``{k}``). ``{a}`` is the CTE's alias; ``{extras}`` in the source receives the
    optional label columns asked for.
    """

    key: str
    labels: tuple[tuple[str, str], ...]  # (column name, SQL expression)
    order: str
    universe: str  # SELECT of every key value of the organization (for display_all)
    label_source: str = ""
    extras: dict[str, str] = field(default_factory=dict)  # optional label columns, on request


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
    )


DIMENSIONS: dict[str, Dimension] = {
    "device": Dimension(
        key="e.device_id",
        label_source="SELECT d.id, d.device_id || '@' || h.hostname AS device_address " + _DEVICES_OF_ORG,
        labels=(("device_address", "{a}.device_address"),),
        order="{a}.device_address",
        universe="SELECT d.id " + _DEVICES_OF_ORG + " {device_filters}",
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
# per (bin, group) and the metric is read off that row, skipping the second level.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """``value`` is written over the first-level rows ``i`` with ``{sum}`` where it sums them: the
    second level fills in ``sum``; with one first-level row per (bin, group) it stays empty and the
    value is read off that row."""

    value: str
    empty: str  # SQL value of a (bin, group) with no sessions
    per: str | None = None  # the entity a distinct count counts: the first level groups by it too
    needs_started_secs: bool = False

    def aggregate(self) -> str:
        return self.value.format(sum="sum")

    def row(self) -> str:
        return self.value.format(sum="")


METRICS: dict[str, Metric] = {
    "total_time": Metric("{sum}(i.secs)", "0.0"),
    "session_count": Metric("{sum}(i.starts)::bigint", "0"),
    "avg_session_length": Metric(
        "{sum}(i.started_secs) / NULLIF({sum}(i.starts), 0)::float8", "NULL", needs_started_secs=True
    ),
    # A distinct count: the first-level rows (one per counted entity) with time.
    "device_count": Metric("{sum}((i.secs > 0)::int)::bigint", "0", per="device_id"),
    "user_count": Metric("{sum}((i.secs > 0 AND i.user_id IS NOT NULL)::int)::bigint", "0", per="user_id"),
    "team_count": Metric("{sum}((i.secs > 0 AND i.team_id IS NOT NULL)::int)::bigint", "0", per="team_id"),
}

# --------------------------------------------------------------------------------------------
# Filters: narrow the sessions (and the display_all universe) before anything is computed.
# Different kinds are AND'ed, the values of one kind OR'ed.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    team_ids: Sequence[UUID] = ()
    team_names: Sequence[str] = ()
    user_ids: Sequence[UUID] = ()
    user_emails: Sequence[str] = ()
    device_addresses: Sequence[str] = ()
    hostnames: Sequence[str] = ()
    device_ids: Sequence[str] = ()
    automated: bool | None = None


# (field, universe it narrows, SQL over the session ``e`` / a universe row ``x``, SQL parameter)
_TEAM_IN = "SELECT t.id FROM usage_team t WHERE t.organization_id = %(org)s AND "
_USER_IN = "SELECT u.id FROM usage_user u WHERE u.organization_id = %(org)s AND "
_DEVICE_IN = "SELECT d.id " + _DEVICES_OF_ORG + " AND "
FILTERS: tuple[tuple[str, str, str, str], ...] = (
    ("team_ids", "team", "{col} = ANY(%(team_ids)s::uuid[])", "team_id"),
    ("team_names", "team", "{col} IN (" + _TEAM_IN + "t.name = ANY(%(team_names)s))", "team_id"),
    ("user_ids", "user", "{col} = ANY(%(user_ids)s::uuid[])", "user_id"),
    ("user_emails", "user", "{col} IN (" + _USER_IN + "lower(u.email) = ANY(%(user_emails)s))", "user_id"),
    (
        "device_addresses",
        "device",
        "{col} IN (" + _DEVICE_IN + "d.device_id || '@' || h.hostname = ANY(%(device_addresses)s))",
        "device_id",
    ),
    ("hostnames", "device", "{col} IN (" + _DEVICE_IN + "h.hostname = ANY(%(hostnames)s))", "device_id"),
    ("device_ids", "device", "{col} IN (" + _DEVICE_IN + "d.device_id = ANY(%(device_ids)s))", "device_id"),
)
# How each universe names the column a filter tests.
_UNIVERSE_COLUMNS = {"team": {"team_id": "t.id"}, "user": {"user_id": "u.id"}, "device": {"device_id": "d.id"}}


def filter_conditions(filters: Filters) -> tuple[list[str], dict[str, list[str]], dict[str, Any]]:
    """SQL conditions on sessions, conditions per universe, and their parameters."""
    on_sessions: list[str] = []
    on_universe: dict[str, list[str]] = {"team": [], "user": [], "device": []}
    params: dict[str, Any] = {}
    for name, universe, template, column in FILTERS:
        values = list(getattr(filters, name))
        if not values:
            continue
        params[name] = [v.lower() for v in values] if name == "user_emails" else values
        on_sessions.append(template.format(col=f"e.{column}"))
        on_universe[universe].append(template.format(col=_UNIVERSE_COLUMNS[universe][column]))
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


_RANK_SPAN = 2**31  # more than the labels of any dimension: ranks of a bin sort before the next bin's


def build_report_sql(spec: ReportSpec) -> tuple[str, dict[str, Any]]:
    """The single SQL statement of a report, and its parameters."""
    dims = [DIMENSIONS[name] for name in spec.dimensions]
    metrics = [METRICS[name] for name in spec.metrics]
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

    per = {m.per for m in metrics if m.per}
    if len(per) > 1:
        raise ValueError("A report can count distinct devices, users or teams, not several at once.")
    # The counted entity's column: carried through the first level as a group key of its own,
    # or, when it is a group key already, named after that key (and one level is enough).
    per_key = next((k for d, k in zip(dims, keys, strict=True) for c in per if d.key == f"e.{c}"), None)
    per_cols = "" if per_key else "".join(f", {c}" for c in per)
    per_names = "".join(f", p.{per_key} AS {c}" for c in per) if per_key else per_cols
    single_level = not per or per_key is not None
    started_secs = any(m.needs_started_secs for m in metrics)

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
    edge = "(%(edges)s::timestamptz[])"
    spans = f"""
        SELECT s.b0, s.b1{group_keys}{per_cols},
               sum(date_part('epoch', s.end_time - s.start_time)) AS durations,
               sum(date_part('epoch', s.end_time - {edge}[s.b1])) FILTER (WHERE s.b1 > s.b0) AS tail,
               count(*)::int AS n
        FROM (
            SELECT e.device_id, e.user_id, e.team_id{key_select}, e.start_time, e.end_time,
                   width_bucket(e.start_time, {edge}) AS b0, width_bucket(e.end_time, {edge}) AS b1
            FROM usage_usageevent e{device_join}
            WHERE {" AND ".join(where)}
        ) s
        GROUP BY 1, 2{group_keys}{per_cols}"""
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
        FROM (SELECT sp.*, generate_series(greatest(sp.b0, 1), least(sp.b1, %(n_bins)s)) AS b FROM spans sp) p
        GROUP BY p.b{group_keys}{per_cols}"""
    # ``active`` decides which (bin, group) rows exist: those with time in them or a session
    # starting there (a zero-length session still counts in session_count).
    if single_level:
        rows = "".join(f", {m.row()} AS m{i}" for i, m in enumerate(metrics))
        agg = f"SELECT i.b{group_keys}{rows}, i.secs > 0 OR i.starts > 0 AS active FROM first_level i"
    else:
        aggregates = "".join(f", {m.aggregate()} AS m{i}" for i, m in enumerate(metrics))
        agg = (
            f"SELECT i.b{group_keys}{aggregates}, sum(i.secs) > 0 OR sum(i.starts) > 0 AS active "
            f"FROM first_level i GROUP BY i.b{group_keys}"
        )

    metric_out = [f"COALESCE(r.m{i}, {m.empty})" if m.empty != "NULL" else f"r.m{i}" for i, m in enumerate(metrics)]
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

    label_ctes, joins, label_cols, order = [], [], [], ["r.rb"]
    for i, (dim, k) in enumerate(zip(dims, keys, strict=True)):
        fmt = {"a": f"lab{i}", "k": f"r.{k}"}
        extras = [name for name in spec.extras if name in dim.extras]
        if dim.label_source:
            source = dim.label_source.format(extras="".join(f", {dim.extras[n]} AS {n}" for n in extras))
            # Rows are sorted by the label's rank, an integer, rather than by the text itself.
            ranked = f'row_number() OVER (ORDER BY {dim.order.format(a="x")} COLLATE "C", x.id) AS rank'
            label_ctes.append(f"lab{i} AS MATERIALIZED (SELECT x.*, {ranked} FROM ({source}) x),")
            joins.append(f"LEFT JOIN lab{i} ON lab{i}.id = r.{k}")
            if i == 0:
                # Bin and first rank as one number: hundreds of rows share a bin, and breaking
                # those ties on a second sort key cost more than the rest of the sort.
                order[0] = f"r.rb::int8 * {_RANK_SPAN} + coalesce(lab0.rank, {_RANK_SPAN - 1})"
            else:
                order.append(f"lab{i}.rank NULLS LAST")
        else:
            # Byte order ("C"): the same on every server whatever its locale, and faster to sort.
            order.append(f'{dim.order.format(**fmt)} COLLATE "C" NULLS LAST')
        order.append(f"r.{k} NULLS LAST")
        for name, expr in dim.labels:
            label_cols.append(f"{expr.format(**fmt)} AS {name}")
        label_cols += [f"lab{i}.{name}" for name in extras]

    select = ", ".join(["r.rb", *label_cols, *metric_out])
    sql = f"""
        WITH {" ".join(label_ctes)}
        spans AS ({spans}),
        first_level AS ({first_level}),
        agg AS ({agg}),
        -- Materialized so that labels are hash-joined: row estimates of the levels above are far
        -- off, and the planner otherwise rescans a label CTE once per row to keep the bin order.
        result AS MATERIALIZED ({body})
        SELECT {select}
        FROM result r {" ".join(joins)}
        ORDER BY {", ".join(order)}"""
    return sql, params


def run_report(spec: ReportSpec, *, chunk_size: int = 5000) -> Report:
    """Execute the report query and return its rows as a lazy iterator.

    The query runs (and fails, if it does) before this returns; rows are then fetched in chunks
    from a server-side cursor, so a streamed response never holds the whole report in memory.
    """
    from usage.limits import check_report_size

    check_report_size(spec)  # bins x groups known too large: a 400 before the query runs
    sql, params = build_report_sql(spec)
    cursor = connection.chunked_cursor()
    with time_limit():  # a WITH HOLD cursor's query escapes statement_timeout: see core.db
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
