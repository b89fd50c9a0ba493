"""App utilization reports (SPEC §9, seed 001): the SQL behind the app analytics endpoints.

Everything is aggregated in PostgreSQL, one query per report, always parameterized. The period
metrics (detail and list) share one query builder, so the app detail cards and the App
Utilization list use the same formulas. That query reads the reports' per-day sums of each app
once (``apps_analytics.rollup``, kept by triggers; the report rows themselves for a department
scope): active time, sessions and the per-bucket daily means all follow from those sums. The
distinct users come from the per-user summaries of the same module, one row per (app, user) and
year holding the user's active days as bits.

Dates are local dates of the client (``activity_date`` is stored that way), so no time zone
arithmetic happens here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any
from uuid import UUID

from apps_analytics import rollup
from apps_analytics.models import Application, AppUsageReport, ClientUser
from core.routers import report_connection

REPORTS = AppUsageReport._meta.db_table
APPLICATIONS = Application._meta.db_table
CLIENT_USERS = ClientUser._meta.db_table
MEMBERSHIPS = ClientUser.departments.through._meta.db_table

# granularity -> PostgreSQL date_trunc unit: calendar day, ISO week (Monday), month, quarter (Jan/Apr/Jul/Oct).
GRANULARITY_UNITS: dict[str, str] = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}
# Buckets made of whole calendar months: a department scope reads its members' months for these.
MONTH_UNITS = ("month", "quarter")


@dataclass(frozen=True)
class PeriodMetric:
    """A period metric: the SQL aggregate that computes it, per period and app, from one source.

    ``per_bucket`` rows: (period, app, calendar bucket) with ``active_ms`` and ``sessions`` summed
    over the bucket and ``ms_per_day``, the bucket's active time divided by its number of active days.
    ``app_users`` rows: the users with at least one row of the app in the period (in the scope's
    departments), one row each.
    """

    source: str
    aggregate: str


# The seed's metrics, in the seed's response order.
PERIOD_METRICS: dict[str, PeriodMetric] = {
    "unique_users": PeriodMetric("app_users", "COUNT(*)"),
    "active_time_ms": PeriodMetric("per_bucket", "SUM(active_ms)"),
    # Mean over buckets with activity of SUM(total_active_ms) / COUNT(DISTINCT activity_date); half up.
    "avg_time_ms_per_day": PeriodMetric("per_bucket", "ROUND(AVG(ms_per_day))"),
    "session_count": PeriodMetric("per_bucket", "SUM(sessions)"),
}

# App Activity metric -> SQL aggregate over one day's report rows of one app.
DAILY_METRICS: dict[str, str] = {
    "user-count": "COUNT(DISTINCT r.user_id)",
    "active-time": "SUM(r.total_active_ms)",
    "session-count": "SUM(r.total_session_count)",
}

# App Utilization ordering name -> SQL expression over the list's rows (primary period values).
APP_ORDERINGS: dict[str, str] = {"name": "name", **{metric: metric for metric in PERIOD_METRICS}}

# App Utilization Users ordering name -> SQL expression over the per-user rows.
USER_ORDERINGS: dict[str, str] = {
    name: name
    for name in ("email", "active_time_ms", "session_count", "active_days", "first_active_date", "last_active_date")
}


@dataclass(frozen=True)
class Period:
    """An inclusive range of the client's local dates."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def whole_months(self) -> tuple[date, date] | None:
        """[first day, day after) of the calendar months entirely inside the period; None if none is
        (also in December 9999, whose next month Python cannot write: its days are read one by one)."""
        if self.end >= date(9999, 12, 1):
            return None
        first = self.start if self.start.day == 1 else _next_month(self.start)
        after = _next_month(self.end) if (self.end + timedelta(days=1)).day == 1 else self.end.replace(day=1)
        return (first, after) if first < after else None

    def outside(self, months: tuple[date, date] | None) -> list[tuple[date, date]]:
        """The inclusive date ranges of the period outside ``months`` (its whole months)."""
        if months is None:
            return [(self.start, self.end)]
        first, after = months
        edges = [(self.start, first - timedelta(days=1)), (after, self.end)]
        return [(start, end) for start, end in edges if start <= end]


def _next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Scope:
    """Which report rows a report reads: one client, one period, optionally some departments' members."""

    client_id: UUID
    period: Period
    # Empty: every user of the client. Otherwise users in any of these departments (each counted once).
    department_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class Ordering:
    """An ordering name of a registry (APP_ORDERINGS, USER_ORDERINGS) and its direction."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int = 0


@dataclass(frozen=True)
class PageResult:
    count: int
    rows: list[dict[str, Any]]


# --- formatting -------------------------------------------------------------------------------


def change_pct(value: int, compare_value: int | None) -> float | None:
    """(value - compare_value) / compare_value * 100, one decimal, half away from zero; None without a base."""
    if not compare_value:
        return None
    tenths = Fraction(value - compare_value, compare_value) * 1000  # percent, in tenths
    rounded = math.floor(abs(tenths) + Fraction(1, 2))
    return math.copysign(rounded, tenths) / 10 if rounded else 0.0


def metric_with_delta(value: int, compare_value: int | None) -> dict[str, Any]:
    """The seed's MetricWithDeltaDto."""
    return {"value": value, "change_pct": change_pct(value, compare_value), "compare_value": compare_value}


def period_dict(period: Period, compare: Period | None) -> dict[str, str | None]:
    """The seed's Period object."""
    return {
        "start_date": period.start.isoformat(),
        "end_date": period.end.isoformat(),
        "compare_start_date": compare.start.isoformat() if compare else None,
        "compare_end_date": compare.end.isoformat() if compare else None,
    }


# --- SQL building blocks ----------------------------------------------------------------------


def _members_sql(scope: Scope, params: dict[str, Any]) -> str | None:
    """The ids of the users in any of the scope's departments (None: every user of the client)."""
    if not scope.department_ids:
        return None
    params["department_ids"] = list(scope.department_ids)
    return f"SELECT m.clientuser_id FROM {MEMBERSHIPS} m WHERE m.department_id = ANY(%(department_ids)s)"


def _scope_filter(scope: Scope, params: dict[str, Any], *, app_id: UUID | None) -> str:
    """WHERE conditions on report rows ``r`` for a scope (the period itself is joined by the caller)."""
    params["client_id"] = scope.client_id
    conditions = ["r.client_id = %(client_id)s"]
    if app_id is not None:
        params["app_id"] = app_id
        conditions.append("r.application_id = %(app_id)s")
    members = _members_sql(scope, params)
    if members is not None:
        # A semi-join: a user in two of the departments must not double their rows (no join through the M2M).
        conditions.append(f"r.user_id IN ({members})")
    return " AND ".join(conditions)


def _order_by(ordering: Ordering, registry: dict[str, str], tie_breakers: str) -> str:
    direction = "DESC" if ordering.descending else "ASC"
    return f"{registry[ordering.name]} {direction}, {tie_breakers}"


def _paginated(rows_sql: str, *, order_by: str, page: Page, params: dict[str, Any]) -> str:
    """Wrap a query so that one result row set carries the total row count and one ordered page.

    The LEFT JOIN LATERAL keeps one row (with NULL columns) when the page is past the end, so the
    total is still known without a second query.
    """
    params["limit"] = page.limit
    params["offset"] = page.offset
    return f"""
        WITH result AS ({rows_sql})
        SELECT total.n AS total_count, page.*
        FROM (SELECT COUNT(*) AS n FROM result) AS total
        LEFT JOIN LATERAL (
            SELECT * FROM result ORDER BY {order_by} LIMIT %(limit)s OFFSET %(offset)s
        ) AS page ON TRUE
    """


def _fetch_dicts(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with report_connection().cursor() as cursor:  # the replica inside core.routers.report_reads()
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _page_result(rows: list[dict[str, Any]], key: str) -> PageResult:
    count = rows[0]["total_count"] if rows else 0
    return PageResult(count=count, rows=[row for row in rows if row[key] is not None])


# --- period metrics (detail and list) ---------------------------------------------------------


def _utilization_sql(
    *, scope: Scope, compare: Period | None, granularity: str, app_id: UUID | None, params: dict[str, Any]
) -> str:
    """Per app of the client: every period metric for the primary period and, if asked, the comparison.

    The per-day sums of each app (``_per_day_sql``; with a department scope and buckets of months,
    ``_per_month_sql`` for the periods' whole months) are read once, and each period takes the days
    it contains, so the periods may overlap; the distinct users come from the per-user summaries
    (``_app_users_sql``). Columns: app_id, name, then each metric, then ``compare_<metric>`` (NULL
    without comparison).
    """
    periods = [scope.period] if compare is None else [scope.period, compare]
    for idx, period in enumerate(periods):
        params.update({f"start_{idx}": period.start, f"end_{idx}": period.end})
    params["bucket"] = GRANULARITY_UNITS[granularity]
    params["first_year"] = min(period.start.year for period in periods)
    params["last_year"] = max(period.end.year for period in periods)
    where = _scope_filter(scope, params, app_id=app_id)
    members = _members_sql(scope, params)
    months = [period.whole_months() for period in periods]
    if members is None or params["bucket"] not in MONTH_UNITS or not any(months):
        in_any_period = " OR ".join(
            f"r.activity_date BETWEEN %(start_{idx})s AND %(end_{idx})s" for idx in range(len(periods))
        )
        period_rows = ", ".join(f"({idx}, %(start_{idx})s::date, %(end_{idx})s::date)" for idx in range(len(periods)))
        periods_cte = f"periods (idx, start_date, end_date) AS (VALUES {period_rows})"
        parts = _per_day_sql(scope, where=where, in_any_period=in_any_period)
        takes_part = ""
    else:
        # A period takes a month row of its whole months, and a day row of its other days.
        for idx, whole in enumerate(months):
            first, after = whole or (periods[idx].start, periods[idx].start)  # none: an empty range
            params.update({f"month_from_{idx}": first, f"month_to_{idx}": after})
        period_rows = ", ".join(
            f"({idx}, %(start_{idx})s::date, %(end_{idx})s::date, %(month_from_{idx})s::date, %(month_to_{idx})s::date)"
            for idx in range(len(periods))
        )
        periods_cte = f"periods (idx, start_date, end_date, month_from, month_to) AS (VALUES {period_rows})"
        parts = _per_month_sql(months, app_id=app_id, members=members)
        edges = [edge for period, whole in zip(periods, months, strict=True) for edge in period.outside(whole)]
        if edges:
            for n, (start, end) in enumerate(edges):
                params.update({f"edge_start_{n}": start, f"edge_end_{n}": end})
            in_any_edge = " OR ".join(
                f"r.activity_date BETWEEN %(edge_start_{n})s AND %(edge_end_{n})s" for n in range(len(edges))
            )
            parts += f" UNION ALL {_per_day_sql(scope, where=where, in_any_period=in_any_edge)}"
        takes_part = "AND (d.activity_date >= p.month_from AND d.activity_date < p.month_to) = d.whole_month"
    aggregates = {
        source: ", ".join(
            f"{metric.aggregate} AS {name}" for name, metric in PERIOD_METRICS.items() if metric.source == source
        )
        for source in ("per_bucket", "app_users")
    }
    joins, columns = [], []
    for idx, prefix in enumerate(("", "compare_")):
        if idx < len(periods):
            joins.append(f"LEFT JOIN per_bucket_totals t{idx} ON t{idx}.application_id = a.id AND t{idx}.idx = {idx}")
            joins.append(f"LEFT JOIN app_user_totals u{idx} ON u{idx}.application_id = a.id AND u{idx}.idx = {idx}")
        for name, metric in PERIOD_METRICS.items():
            if idx >= len(periods):
                value = "NULL::bigint"
            else:
                totals = "t" if metric.source == "per_bucket" else "u"
                value = f"COALESCE({totals}{idx}.{name}, 0)::bigint"
            columns.append(f"{value} AS {prefix}{name}")
    app_filter = "AND a.id = %(app_id)s" if app_id is not None else ""
    return f"""
        WITH {periods_cte},
        per_day AS (
            SELECT p.idx, d.application_id, d.activity_date, d.active_ms, d.sessions, d.days
            FROM ({parts}) AS d
            JOIN periods p ON d.activity_date BETWEEN p.start_date AND p.end_date {takes_part}
        ),
        per_bucket AS (
            -- The mean of per-day sums in a bucket is SUM(total_active_ms) / COUNT(DISTINCT activity_date)
            -- (the same numeric division as AVG of the per-day sums, whose rows count one day each).
            SELECT idx, application_id, SUM(active_ms) AS active_ms, SUM(sessions) AS sessions,
                   SUM(active_ms)::numeric / SUM(days) AS ms_per_day
            FROM per_day GROUP BY idx, application_id, date_trunc(%(bucket)s, activity_date::timestamp)
        ),
        -- Computed once each, whatever the row estimates (summaries not analyzed yet after a bulk
        -- load): inlined, a nested loop over the apps could compute them once per app.
        per_bucket_totals AS MATERIALIZED (
            SELECT idx, application_id, {aggregates["per_bucket"]} FROM per_bucket GROUP BY idx, application_id
        ),
        {_app_users_sql(app_id=app_id, members=members)},
        app_user_totals AS MATERIALIZED (
            SELECT idx, application_id, {aggregates["app_users"]} FROM app_users GROUP BY idx, application_id
        )
        SELECT a.id AS app_id, a.name, {", ".join(columns)}
        FROM {APPLICATIONS} a
        {" ".join(joins)}
        WHERE a.client_id = %(client_id)s {app_filter}
    """


def _per_day_sql(scope: Scope, *, where: str, in_any_period: str) -> str:
    """Per (app, day) with report rows in the scope: ``active_ms`` and ``sessions`` summed, ``days``
    1 and ``whole_month`` false (the columns of ``_per_month_sql``).

    From the per-day summaries (``apps_analytics.rollup``: one row per app and day instead of one
    per user) unless the scope has departments: the sums of some users' rows are not kept.
    """
    if scope.department_ids:
        return f"""
            SELECT r.application_id, r.activity_date,
                   SUM(r.total_active_ms) AS active_ms, SUM(r.total_session_count) AS sessions,
                   1 AS days, FALSE AS whole_month
            FROM {REPORTS} r
            WHERE {where} AND ({in_any_period})
            GROUP BY r.application_id, r.activity_date
        """
    return f"""
        SELECT r.application_id, r.activity_date, SUM(r.active_ms) AS active_ms, SUM(r.sessions) AS sessions,
               1 AS days, FALSE AS whole_month
        FROM {rollup.DAYS} r
        WHERE {where} AND ({in_any_period})
        GROUP BY r.application_id, r.activity_date
        HAVING SUM(r.reports) > 0
    """


def _per_month_sql(months: list[tuple[date, date] | None], *, app_id: UUID | None, members: str) -> str:
    """Per (app, month) of the periods' whole months with report rows of the scope's members:
    ``active_ms`` and ``sessions`` summed, ``days`` the days with a row of any of them,
    ``activity_date`` the month's first day and ``whole_month`` true.

    From the per-user months (``apps_analytics.rollup``): a member's rows of a month of an app add
    up to their sums and bits (bit k: day k + 1), read with an index range per member (the user
    leads that index), so the report rows of a department (1.3M of 10M) are never read.
    """
    in_any_month = " OR ".join(
        f"(u.month >= %(month_from_{idx})s AND u.month < %(month_to_{idx})s)"
        for idx, whole in enumerate(months)
        if whole is not None
    )
    app_filter = "AND u.application_id = %(app_id)s" if app_id is not None else ""
    return f"""
        SELECT m.application_id, m.month AS activity_date, SUM(m.active_ms) AS active_ms,
               SUM(m.sessions) AS sessions, bit_count(bit_or(m.days)::bit(32)) AS days, TRUE AS whole_month
        FROM (SELECT DISTINCT members.clientuser_id FROM ({members}) AS members) AS member  -- once each
        CROSS JOIN LATERAL (
            SELECT u.application_id, u.month, SUM(u.active_ms) AS active_ms, SUM(u.sessions) AS sessions,
                   SUM(u.days)::bigint AS days
            FROM {rollup.USER_MONTHS} u
            WHERE u.client_id = %(client_id)s AND u.user_id = member.clientuser_id {app_filter} AND ({in_any_month})
            GROUP BY u.application_id, u.month
            HAVING SUM(u.days) <> 0
        ) AS m
        GROUP BY m.application_id, m.month
    """


def _app_users_sql(*, app_id: UUID | None, members: str | None) -> str:
    """CTEs ending in ``app_users (idx, application_id, user_id)``: the users of each app (in the
    scope's departments) with a report row in period ``idx``, one row each.

    Read from the per-user summaries (``apps_analytics.rollup``): a user's days of an app in a
    year are the bits of ``days`` (bit k: day k + 1); the period's days of that year are days
    ``lo`` to ``hi``, so the user was active in the period when ``days`` modulo ``2^hi`` (its bits
    up to day ``hi``; all of them when ``hi`` ends the year: no division) is at least
    ``2^(lo-1)``. One row per (app, user) and year, where the report rows are one per day.
    """
    conditions = ["u.client_id = %(client_id)s", "u.year BETWEEN %(first_year)s AND %(last_year)s"]
    if app_id is not None:
        conditions.append("u.application_id = %(app_id)s")
    if members is not None:
        conditions.append(f"u.user_id IN ({members})")
    return f"""
        user_days AS (
            SELECT u.application_id, u.user_id, u.year, SUM(u.days) AS days
            FROM {rollup.USER_YEARS} u
            WHERE {" AND ".join(conditions)}
            GROUP BY u.application_id, u.user_id, u.year
        ),
        period_years AS MATERIALIZED (  -- the powers once per period and year, not once per user
            SELECT p.idx, y.year, trunc(power(2::numeric, y.lo - 1)) AS first_bit,
                   trunc(power(2::numeric, y.hi)) AS past_last_bit,
                   y.hi = extract(doy FROM make_date(y.year, 12, 31))::int AS to_year_end
            FROM periods p CROSS JOIN LATERAL (
                SELECT year, extract(doy FROM greatest(p.start_date, make_date(year, 1, 1)))::int AS lo,
                       extract(doy FROM least(p.end_date, make_date(year, 12, 31)))::int AS hi
                FROM generate_series(extract(year FROM p.start_date)::int, extract(year FROM p.end_date)::int) AS year
            ) AS y
        ),
        app_users AS (
            SELECT DISTINCT py.idx, d.application_id, d.user_id
            FROM user_days d JOIN period_years py ON py.year = d.year
            WHERE CASE WHEN py.to_year_end THEN d.days ELSE mod(d.days, py.past_last_bit) END >= py.first_bit
        )"""


def _with_deltas(row: dict[str, Any]) -> dict[str, Any]:
    return {name: metric_with_delta(row[name], row[f"compare_{name}"]) for name in PERIOD_METRICS}


def app_utilization(*, scope: Scope, app_id: UUID, granularity: str, compare: Period | None) -> dict[str, Any]:
    """The seed's AppUtilizationDetail for one app of the scope's client (the caller checked the app)."""
    params: dict[str, Any] = {}
    sql = _utilization_sql(scope=scope, compare=compare, granularity=granularity, app_id=app_id, params=params)
    (row,) = _fetch_dicts(sql, params)
    return {"period": period_dict(scope.period, compare), **_with_deltas(row)}


def apps_utilization(
    *, scope: Scope, granularity: str, compare: Period | None, ordering: Ordering, page: Page
) -> PageResult:
    """Every app of the client with the period metrics (zeros for unused apps), ordered and paginated."""
    params: dict[str, Any] = {}
    sql = _utilization_sql(scope=scope, compare=compare, granularity=granularity, app_id=None, params=params)
    order_by = _order_by(ordering, APP_ORDERINGS, "name ASC, app_id ASC")
    result = _page_result(_fetch_dicts(_paginated(sql, order_by=order_by, page=page, params=params), params), "app_id")
    rows = [{"app_id": str(row["app_id"]), "name": row["name"], **_with_deltas(row)} for row in result.rows]
    return PageResult(count=result.count, rows=rows)


# --- App Activity -----------------------------------------------------------------------------


def app_activity(*, scope: Scope, app_id: UUID, metric: str) -> list[dict[str, Any]]:
    """One point per day of the period (zeros included): the metric over that day's rows of the app."""
    params: dict[str, Any] = {"start": scope.period.start, "end": scope.period.end}
    where = _scope_filter(scope, params, app_id=app_id)
    sql = f"""
        SELECT day::date AS date, COALESCE(daily.value, 0)::bigint AS value
        FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS day
        LEFT JOIN (
            SELECT r.activity_date, {DAILY_METRICS[metric]} AS value
            FROM {REPORTS} r
            WHERE {where} AND r.activity_date BETWEEN %(start)s AND %(end)s
            GROUP BY r.activity_date
        ) AS daily ON daily.activity_date = day::date
        ORDER BY day
    """
    return [{"date": row["date"].isoformat(), "value": row["value"]} for row in _fetch_dicts(sql, params)]


# --- App Utilization Users for One App --------------------------------------------------------


def app_users(*, scope: Scope, app_id: UUID, ordering: Ordering, page: Page) -> PageResult:
    """Per user with activity on the app in the period: totals, active days, first and last active dates."""
    params: dict[str, Any] = {"start": scope.period.start, "end": scope.period.end}
    where = _scope_filter(scope, params, app_id=app_id)
    # One row per (app, user, day) is enforced by the database, so COUNT(*) counts active days.
    rows_sql = f"""
        SELECT u.id AS user_id, u.email, totals.active_time_ms, totals.session_count, totals.active_days,
               totals.first_active_date, totals.last_active_date
        FROM (
            SELECT r.user_id,
                   SUM(r.total_active_ms)::bigint AS active_time_ms,
                   SUM(r.total_session_count)::bigint AS session_count,
                   COUNT(*) AS active_days,
                   MIN(r.activity_date) AS first_active_date,
                   MAX(r.activity_date) AS last_active_date
            FROM {REPORTS} r
            WHERE {where} AND r.activity_date BETWEEN %(start)s AND %(end)s
            GROUP BY r.user_id
        ) AS totals
        JOIN {CLIENT_USERS} u ON u.id = totals.user_id AND u.client_id = %(client_id)s
    """
    order_by = _order_by(ordering, USER_ORDERINGS, "email ASC, user_id ASC")
    result = _page_result(
        _fetch_dicts(_paginated(rows_sql, order_by=order_by, page=page, params=params), params), "user_id"
    )
    rows = [
        {
            "user_id": str(row["user_id"]),
            "email": row["email"],
            "active_time_ms": row["active_time_ms"],
            "session_count": row["session_count"],
            "active_days": row["active_days"],
            "first_active_date": row["first_active_date"].isoformat(),
            "last_active_date": row["last_active_date"].isoformat(),
        }
        for row in result.rows
    ]
    return PageResult(count=result.count, rows=rows)
