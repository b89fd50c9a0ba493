"""Per-day and per-user summaries of the app usage reports, kept by PostgreSQL.

The App Utilization list reads every report row of a client's period (10M rows: 3.7 s), though
all its figures follow from much less:

- ``apps_analytics_appday``: per (client, application, day) the number of report rows, their
  active milliseconds and their sessions. Active time, sessions and the per-bucket daily means
  of every app follow from these (a year of 200 apps: 73,000 rows instead of 10M).
- ``apps_analytics_appuseryear``: per (client, application, user, year) the user's days with a
  report of the application, as the number ``days`` = the sum of 2^(day of the year - 1) over
  them (one bit a day). A user is among an app's users in a period when a bit of the period is
  set, so the distinct users come from one row per (app, user) and year instead of an index
  probe each.
- ``apps_analytics_appusermonth``: per (client, application, user, month) the user's active
  milliseconds and sessions, and the days with a report as ``days`` = the sum of 2^(day of the
  month - 1). A department scope cannot use the per-day sums (they mix every user's rows); it
  joins its members to these instead: a month of an app in the scope has the sums of its
  members' rows and as many active days as the bits set in any of them (10M report rows: 600k
  rows, 80k for a department of 133 users of 1,000, where the report rows are 1.3M).

They are derived data, never written by the application: statement triggers on the reports
table add what each statement changed (inserted rows count +1, deleted rows -1, an update both),
so every write path (ORM, admin, ingestion, imports through COPY, cascades, raw SQL) keeps them
right. All are sums, and a key's value is the sum of its rows: a statement's change of a key is
added as a new row, merged with the key's rows that no other transaction holds (``FOR UPDATE SKIP
LOCKED``, as ``core.versions`` prunes), so that writers never wait for each other (an upsert of
one row per key would lock a day of an app until the writer's commit, and an import holds every
day it touches until its own) and a key has about one row. A key whose rows sum to zero has no
report rows and is dropped when merged. TRUNCATE of the reports empties them.

The reports read them where they hold: the utilization list and detail without a department scope
from the per-day sums; with one, the whole months of its periods from the per-month sums of its
members when the buckets are months or quarters (a week or a day is not a sum of months: those
read the report rows, as do the days of a period's partial months); the distinct users from
``apps_analytics_appuseryear`` in every case.
"""

from __future__ import annotations

from core.db import install_once

DAYS = "apps_analytics_appday"
USER_YEARS = "apps_analytics_appuseryear"
USER_MONTHS = "apps_analytics_appusermonth"
REPORTS = "apps_analytics_appusagereport"

# The reports' writers first (as the triggers' creation would), so that none of them holds the
# reports while waiting for a summary table that this transaction holds.
TABLES = f"""
LOCK TABLE {REPORTS} IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE IF NOT EXISTS {DAYS} (
    client_id uuid NOT NULL,
    application_id uuid NOT NULL,
    activity_date date NOT NULL,
    reports bigint NOT NULL,
    active_ms numeric NOT NULL,
    sessions bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS {DAYS}_key ON {DAYS} (client_id, application_id, activity_date);
CREATE TABLE IF NOT EXISTS {USER_YEARS} (
    client_id uuid NOT NULL,
    application_id uuid NOT NULL,
    user_id uuid NOT NULL,
    year integer NOT NULL,
    days numeric NOT NULL
);
CREATE INDEX IF NOT EXISTS {USER_YEARS}_key ON {USER_YEARS} (client_id, application_id, user_id, year);
CREATE TABLE IF NOT EXISTS {USER_MONTHS} (
    client_id uuid NOT NULL,
    application_id uuid NOT NULL,
    user_id uuid NOT NULL,
    month date NOT NULL,
    active_ms numeric NOT NULL,
    sessions bigint NOT NULL,
    -- bigint, though a key's rows add up to at most 2^31 - 1: a writer merges the rows that no other
    -- transaction holds, and their sum alone may not be a month's bits.
    days bigint NOT NULL
);
-- The user before the app: a department scope reads its members' rows, one index range each, from
-- the index alone where the pages are all-visible (heap fetches in the order the rows were written
-- took twice as long: the 80k rows of a department of the bench, 0.4 s against 0.2 s).
CREATE INDEX IF NOT EXISTS {USER_MONTHS}_key ON {USER_MONTHS} (client_id, user_id, application_id, month)
    INCLUDE (active_ms, sessions, days);
"""

# What a statement changed: its report rows with ``sign`` +1 (new) or -1 (old), per trigger event.
CHANGES = {
    "insert": "SELECT n.*, 1 AS sign FROM new_rows n",
    "delete": "SELECT o.*, -1 AS sign FROM old_rows o",
    "update": "SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 AS sign FROM old_rows o",
}
TRANSITION_TABLES = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _merge_into(table: str, *, keys: dict[str, str], sums: dict[str, str], changes: str) -> str:
    """One statement of a trigger function: the statement's changes summed per key of ``table``
    (``keys`` and ``sums``: column names and their expressions over the changed report rows, with
    ``sign``), and the key's rows that no other transaction holds, deleted, become one row; a row
    that sums to nothing is not kept."""
    names = ", ".join(keys)
    return f"""
    WITH delta AS (
        SELECT {", ".join(expr if expr == name else f"{expr} AS {name}" for name, expr in {**keys, **sums}.items())}
        FROM ({changes}) c
        GROUP BY {names}
    ), merged AS (
        DELETE FROM {table} t WHERE t.ctid = ANY(ARRAY(
            SELECT x.ctid FROM {table} x JOIN delta USING ({names})
            FOR UPDATE OF x SKIP LOCKED
        ))
        RETURNING t.*
    )
    INSERT INTO {table}
    SELECT {names}, {", ".join(f"sum({name})" for name in sums)}
    FROM (SELECT * FROM delta UNION ALL SELECT * FROM merged) AS r
    GROUP BY {names}
    HAVING {" OR ".join(f"sum({name}) <> 0" for name in sums)};
"""


_KEYS = {"client_id": "client_id", "application_id": "application_id"}
_TIME = {"active_ms": "sum(sign * total_active_ms::numeric)", "sessions": "sum(sign * total_session_count::bigint)"}


def _note_function(event: str) -> str:
    """The trigger function of one event: per key touched, the statement's sums and the key's rows
    that no other transaction holds become one row. Static SQL (one function per event, as the
    transition tables differ), so that its plans are kept: a single-row write costs ~0.5 ms more,
    where the same statements through EXECUTE cost ~1.7 ms."""
    changes = CHANGES[event]
    days = _merge_into(
        DAYS, keys={**_KEYS, "activity_date": "activity_date"}, sums={"reports": "sum(sign)", **_TIME}, changes=changes
    )
    user_years = _merge_into(
        USER_YEARS,
        keys={**_KEYS, "user_id": "user_id", "year": "extract(year FROM activity_date)::int"},
        sums={"days": "sum(sign * trunc(power(2::numeric, extract(doy FROM activity_date)::int - 1)))"},
        changes=changes,
    )
    user_months = _merge_into(
        USER_MONTHS,
        keys={**_KEYS, "user_id": "user_id", "month": "date_trunc('month', activity_date)::date"},
        sums={**_TIME, "days": "sum(sign * (1::bigint << (extract(day FROM activity_date)::int - 1)))"},
        changes=changes,
    )
    return f"""
CREATE OR REPLACE FUNCTION apps_analytics_rollup_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{days}{user_years}{user_months}    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER apps_analytics_rollup_{event} AFTER {event.upper()} ON {REPORTS}
    REFERENCING {TRANSITION_TABLES[event]} FOR EACH STATEMENT EXECUTE FUNCTION apps_analytics_rollup_{event}();
"""


INSTALL = (
    TABLES
    + "".join(_note_function(event) for event in CHANGES)
    + f"""
CREATE OR REPLACE FUNCTION apps_analytics_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {DAYS}, {USER_YEARS}, {USER_MONTHS};
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER apps_analytics_rollup_truncate AFTER TRUNCATE ON {REPORTS}
    FOR EACH STATEMENT EXECUTE FUNCTION apps_analytics_rollup_truncate();
"""
)

# Made again from the reports, in the transaction that (re)installs the triggers: their lock on the
# reports table keeps writers out until both are done, so no write is missed or counted twice.
REBUILD = f"""
TRUNCATE {DAYS}, {USER_YEARS}, {USER_MONTHS};
INSERT INTO {DAYS}
SELECT client_id, application_id, activity_date, count(*), sum(total_active_ms), sum(total_session_count)
FROM {REPORTS} GROUP BY client_id, application_id, activity_date;
INSERT INTO {USER_YEARS}
SELECT client_id, application_id, user_id, extract(year FROM activity_date)::int,
       sum(trunc(power(2::numeric, extract(doy FROM activity_date)::int - 1)))
FROM {REPORTS} GROUP BY 1, 2, 3, 4;
INSERT INTO {USER_MONTHS}
SELECT client_id, application_id, user_id, date_trunc('month', activity_date)::date,
       sum(total_active_ms), sum(total_session_count), sum(1::bigint << (extract(day FROM activity_date)::int - 1))
FROM {REPORTS} GROUP BY 1, 2, 3, 4;
ANALYZE {DAYS}, {USER_YEARS}, {USER_MONTHS};
"""


def install(*, using: str = "default") -> None:
    """Create the tables and (re)install the triggers where they changed, rebuilding the tables
    from the reports then (a new definition, or a reports table made again).

    Run after every ``migrate`` (``post_migrate``), so that it also holds for test databases made
    without migrations. Nothing when the reports table is gone (``migrate apps_analytics zero``).
    """
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [REPORTS])
        if cursor.fetchone()[0] is None:
            return
    install_once(name="apps_analytics.rollup", ddl=INSTALL + REBUILD, using=using, relation=REPORTS)
