"""Each session's place on its organization's and its device's timelines, kept by PostgreSQL.

``peak_concurrency`` and ``utilization`` (SPEC §11) need the sessions in time order: a running count
of the sessions in progress, and each device's sessions merged where they overlap. Sorting a year
of sessions for every report cost four to five times the report itself (``bench_reports
--metrics``), so three columns of ``usage_usageevent`` keep what that sort would find, per session
with time (zero-length sessions are never in progress and keep nulls):

- ``running_in_org``: the organization's sessions in progress just after this one starts (itself,
  every session starting at the same instant, and those started earlier and not yet ended; a
  session ending at that instant is not in progress);
- ``running_on_device``: the same among its device's sessions;
- ``busy_from``: where its part of the device's busy time begins: its start, or the latest end of
  the device's sessions that start before it (in start, then id order) if that is later. The part
  is [busy_from, end_time) when not empty, and the parts of a device's sessions are disjoint and
  cover the union of its sessions.

They are derived data, never written by the application: triggers on the session table note the
time span that a statement's inserted, deleted or moved sessions cover, per organization (a change
of session x only changes the values of sessions starting within [x.start, x.end]), and a
constraint trigger recomputes the values of the sessions starting in those spans. It fires at the
end of each statement, so every write path (ORM, admin, ingestion, imports through COPY, cascades,
raw SQL) leaves them right; a bulk writer defers it to the end of its transaction with
``DEFER`` and ``RESUME`` (as imports do: ``RecordKind.bulk_begin``/``bulk_end``) so that a million
sessions are ordered once, not once per chunk. An advisory
lock per organization orders concurrent writers: the later one recomputes with the earlier one's
sessions committed.

The reports read the columns where they hold for the asked sessions (``usage.reporting``): running
counts for the org grouping without filters and the device grouping with device filters only,
busy parts for groups of devices with device filters only. Elsewhere (a team filter, say, changes
which sessions are counted) the reports sort the sessions themselves, as before.
"""

from __future__ import annotations

from core.db import install_once

REFRESH_TRIGGER = "usage_timeline_refresh"
# Within a transaction: recompute at the end (or at commit), then again after each statement.
DEFER = f"SET CONSTRAINTS {REFRESH_TRIGGER} DEFERRED"
RESUME = f"SET CONSTRAINTS {REFRESH_TRIGGER} IMMEDIATE"

# Recompute the three columns of ``org``'s sessions starting in [lo, hi]. ``ctx``: the sessions in
# progress at ``lo`` (started before it, ending at or after it): the counts carried in and the
# busy reach of each device at ``lo``. Ends are ordered before starts at the same instant, and a
# start's count includes its peers (RANGE frame): every start at that instant.
INSTALL = """
-- The longest session each organization has had (seconds; it never shrinks): the sessions in
-- progress at an instant t started after t less that, so the refreshes find them by the index on
-- start times instead of reading every session before t (a single new session read a year of them).
CREATE TABLE IF NOT EXISTS usage_timeline_reach (organization_id uuid PRIMARY KEY, longest numeric NOT NULL);
INSERT INTO usage_timeline_reach
SELECT organization_id, max(extract(epoch FROM end_time - start_time)) FROM usage_usageevent GROUP BY organization_id
ON CONFLICT (organization_id) DO UPDATE SET longest = greatest(usage_timeline_reach.longest, excluded.longest);

-- The earliest start of org's sessions in progress at t (a second early: make_interval takes a float).
CREATE OR REPLACE FUNCTION usage_timeline_since(p_org uuid, p_t timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    -- Over a thousand years (31,536,000,000 s: rows stored by hand, out of the accepted range) it could leave the
    -- timestamp range: then every earlier session is read.
    SELECT CASE WHEN r.longest < 31536000000 THEN p_t - make_interval(secs => r.longest::float8 + 1)
                ELSE '-infinity' END
    FROM (SELECT (SELECT x.longest FROM usage_timeline_reach x WHERE x.organization_id = p_org) AS longest) r
$$;

CREATE OR REPLACE FUNCTION usage_timeline_refresh_span(p_org uuid, p_lo timestamptz, p_hi timestamptz)
RETURNS void LANGUAGE sql AS $$
WITH ctx AS MATERIALIZED (
    SELECT e.device_id, e.end_time FROM usage_usageevent e
    WHERE e.organization_id = p_org AND e.start_time < p_lo AND e.end_time >= p_lo
      AND e.start_time >= usage_timeline_since(p_org, p_lo)
), tgt AS MATERIALIZED (
    SELECT e.id, e.device_id, e.start_time, e.end_time, e.running_in_org, e.running_on_device, e.busy_from
    FROM usage_usageevent e
    WHERE e.organization_id = p_org AND e.start_time >= p_lo AND e.start_time <= p_hi
      AND e.end_time > e.start_time
), ev AS (
    -- (t, d): +1 at a start (the session's row), -1 at an end; ``reach``: the end of a start's session.
    SELECT id, device_id, start_time AS t, 1 AS d, end_time AS reach,
           running_in_org, running_on_device, busy_from FROM tgt
    UNION ALL SELECT NULL, device_id, end_time, -1, NULL, NULL, NULL, NULL FROM tgt WHERE end_time <= p_hi
    UNION ALL SELECT NULL, device_id, end_time, -1, NULL, NULL, NULL, NULL FROM ctx WHERE end_time <= p_hi
), run AS (
    -- One sort by (device, t, d, id) serves both device windows: the running count (a start with
    -- its peers at the instant) and the latest end of the device's earlier starts.
    SELECT id, running_in_org, running_on_device, busy_from, device_id,
           sum(d) OVER (ORDER BY t, d RANGE UNBOUNDED PRECEDING) AS in_org,
           sum(d) OVER (PARTITION BY device_id ORDER BY t, d RANGE UNBOUNDED PRECEDING) AS on_device,
           greatest(t, max(reach) OVER (PARTITION BY device_id ORDER BY t, d, id
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS reached
    FROM ev
), carried AS (
    SELECT device_id, count(*) AS n, max(end_time) AS reach FROM ctx GROUP BY device_id
), vals AS (
    SELECT r.id, (r.in_org + (SELECT count(*) FROM ctx))::int AS in_org,
           (r.on_device + coalesce(c.n, 0))::int AS on_device, greatest(r.reached, c.reach) AS busy_from,
           r.running_in_org, r.running_on_device, r.busy_from AS stored_from
    FROM run r LEFT JOIN carried c ON c.device_id = r.device_id
    WHERE r.id IS NOT NULL
)
UPDATE usage_usageevent e
SET running_in_org = v.in_org, running_on_device = v.on_device, busy_from = v.busy_from
FROM vals v
WHERE e.id = v.id
  AND (v.running_in_org, v.running_on_device, v.stored_from) IS DISTINCT FROM (v.in_org, v.on_device, v.busy_from);
-- A session shortened to zero length is never in progress any more.
UPDATE usage_usageevent e SET running_in_org = NULL, running_on_device = NULL, busy_from = NULL
WHERE e.organization_id = p_org AND e.start_time >= p_lo AND e.start_time <= p_hi
  AND e.end_time = e.start_time AND e.busy_from IS NOT NULL;
$$;

CREATE TABLE IF NOT EXISTS usage_timeline_pending (
    organization_id uuid NOT NULL, lo timestamptz NOT NULL, hi timestamptz NOT NULL
);
-- false: a span whose sessions changed only their user or team, for the slots (usage.rollup) alone.
ALTER TABLE usage_timeline_pending ADD COLUMN IF NOT EXISTS timeline boolean NOT NULL DEFAULT true;
-- The longest of the written sessions (seconds), for usage_timeline_reach: kept there under the
-- organization's lock, where a writer of the organization already waits (a row upserted by each
-- statement deadlocked two imports writing two organizations in opposite orders).
ALTER TABLE usage_timeline_pending ADD COLUMN IF NOT EXISTS longest numeric;

-- The spans this transaction noted, merged per organization and recomputed under a lock per
-- organization (taken in one order): the timeline columns, then the slots that read them.
-- Fired once per noted row: the first firing does the work.
CREATE OR REPLACE FUNCTION usage_timeline_refresh_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    span record;
    memory text := current_setting('work_mem');
    slots boolean := to_regprocedure('usage_rollup_refresh_span(uuid, timestamptz, timestamptz)') IS NOT NULL;
BEGIN
    FOR span IN
        WITH taken AS (DELETE FROM usage_timeline_pending RETURNING *)
        SELECT organization_id, min(lo) FILTER (WHERE timeline) AS lo, max(hi) FILTER (WHERE timeline) AS hi,
               min(lo) AS slots_lo, max(hi) AS slots_hi, max(longest) AS longest
        FROM taken GROUP BY organization_id ORDER BY organization_id
    LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('usage_timeline ' || span.organization_id::text, 0));
        -- Before the refreshes, which read it: a longer session than any before.
        IF span.longest IS NOT NULL THEN
            INSERT INTO usage_timeline_reach VALUES (span.organization_id, span.longest)
            ON CONFLICT (organization_id) DO UPDATE SET longest = excluded.longest
            WHERE usage_timeline_reach.longest < excluded.longest;
        END IF;
        -- Its own updates are not noted (see usage_timeline_note), and a year of sessions sorts in memory.
        PERFORM set_config('usage.timeline_refreshing', 'on', true), set_config('work_mem', '256MB', true);
        IF span.lo IS NOT NULL THEN
            PERFORM usage_timeline_refresh_span(span.organization_id, span.lo, span.hi);
        END IF;
        -- Installed after this function on a first migrate (usage.rollup).
        IF slots THEN
            PERFORM usage_rollup_refresh_span(span.organization_id, span.slots_lo, span.slots_hi);
        END IF;
        PERFORM set_config('usage.timeline_refreshing', 'off', true), set_config('work_mem', memory, true);
    END LOOP;
    RETURN NULL;
END;
$$;

-- What a statement changed: the spans of inserted and deleted sessions, and of updated ones whose
-- time, device or organization changed (before and after). Updates of other columns (a user set to
-- null) change nothing here; the refresh's own are skipped before comparing a million rows.
CREATE OR REPLACE FUNCTION usage_timeline_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('usage.timeline_refreshing', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_timeline_pending (organization_id, lo, hi, longest)
        SELECT organization_id, min(start_time), max(end_time), max(extract(epoch FROM end_time - start_time))
        FROM new_rows GROUP BY organization_id;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO usage_timeline_pending
        SELECT organization_id, min(start_time), max(end_time) FROM old_rows GROUP BY organization_id;
    ELSE
        INSERT INTO usage_timeline_pending (organization_id, lo, hi, longest)
        SELECT organization_id, min(start_time), max(end_time), max(extract(epoch FROM end_time - start_time))
        FROM (
            (SELECT id, organization_id, device_id, start_time, end_time FROM old_rows
             EXCEPT SELECT id, organization_id, device_id, start_time, end_time FROM new_rows)
            UNION ALL
            (SELECT id, organization_id, device_id, start_time, end_time FROM new_rows
             EXCEPT SELECT id, organization_id, device_id, start_time, end_time FROM old_rows)
        ) moved
        GROUP BY organization_id;
        -- A new user or team of a session: who had time in its slots changed.
        INSERT INTO usage_timeline_pending
        SELECT n.organization_id, min(n.start_time), max(n.end_time), false
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (o.user_id, o.team_id) IS DISTINCT FROM (n.user_id, n.team_id)
        GROUP BY n.organization_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER usage_timeline_note_insert AFTER INSERT ON usage_usageevent
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_timeline_note();
CREATE OR REPLACE TRIGGER usage_timeline_note_delete AFTER DELETE ON usage_usageevent
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_timeline_note();
CREATE OR REPLACE TRIGGER usage_timeline_note_update AFTER UPDATE ON usage_usageevent
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_timeline_note();
DROP TRIGGER IF EXISTS usage_timeline_refresh ON usage_timeline_pending;
CREATE CONSTRAINT TRIGGER usage_timeline_refresh AFTER INSERT ON usage_timeline_pending
    DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION usage_timeline_refresh_pending();
"""

# The columns, added only where missing: ALTER TABLE locks the sessions table even when it adds nothing.
COLUMNS = """
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_attribute
        WHERE attrelid = 'usage_usageevent'::regclass AND attname = 'busy_from' AND NOT attisdropped
    ) THEN
        ALTER TABLE usage_usageevent
            ADD COLUMN IF NOT EXISTS running_in_org integer,
            ADD COLUMN IF NOT EXISTS running_on_device integer,
            ADD COLUMN IF NOT EXISTS busy_from timestamptz;
    END IF;
END;
$$
"""

# Sessions stored before the columns existed (or by a restore without them): their organizations'
# spans are noted, and recomputed when the statement ends.
BACKFILL = """
INSERT INTO usage_timeline_pending
SELECT organization_id, min(start_time), max(start_time) FROM usage_usageevent
WHERE end_time > start_time AND busy_from IS NULL GROUP BY organization_id
"""


def install(*, using: str = "default") -> None:
    """Create the columns where missing, (re)install the functions and triggers where they changed,
    and fill in missing values.

    Run after every ``migrate`` (``post_migrate``), so that it also holds for test databases made
    without migrations; a database already up to date only has its sessions read for gaps.
    """
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass('usage_usageevent')")
        if cursor.fetchone()[0] is None:
            return  # the app's tables are gone (migrate usage zero): nothing to keep
        cursor.execute(COLUMNS)
    install_once(name="usage.timeline", ddl=INSTALL, using=using, relation="usage_usageevent")
    with connections[using].cursor() as cursor:
        cursor.execute(BACKFILL)
