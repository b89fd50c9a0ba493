"""Each organization's sessions summed per five-minute slot, kept by PostgreSQL beside the sessions.

A report of the whole organization (no grouping, no filter) over a year of days reads ~105,000
slot rows instead of every session of the year: its cost follows the answer, not the table
(issue 11: org/day over a year at 10M sessions). Every zone's offset is a multiple of 15 minutes,
so hour, day, week and month bins of any zone, and fixed bins of a multiple of five minutes, are
unions of whole slots; ``usage.reporting`` reads the slots where every edge of the report lies
on a slot boundary and the sessions asked are all the organization's, and the sessions otherwise.

A row of ``usage_org_slots`` holds what the report would find in that slot, exactly:

- ``secs``: microseconds of session time inside the slot (whole microseconds: sums are exact,
  where the sessions' path adds floats);
- ``starts``: sessions starting in it (zero-length ones too), ``started`` their whole durations;
- ``run``: the highest ``running_in_org`` (``usage.timeline``) of the sessions with time starting
  in it, and ``carried``: the sessions in progress at its start (started before, ending after).
  A bin's peak is the largest of its slots' ``run`` and ``carried``: the running count rises only
  at starts, so it is never higher at a slot's start than after the last start before it;
- ``shadow``: microseconds of session time before each session's busy part (``busy_from``);
- ``devices``, ``users``, ``teams``: who had time in the slot, one bit each. A bin's distinct count
  is the number of bits set in its slots' union. Bits are given in ``usage_rollup_bits`` per
  organization as entities first appear, and never move; a bitmap is as long as the organization's
  bits were when it was written, and shorter ones are padded with zeros when read.

The slots are derived from the sessions and their timeline columns, never written by the
application: ``usage.timeline``'s refresh, which every write of sessions triggers (and imports
defer to their end), recomputes the slots its span touches after the timeline columns, under the
same lock per organization; a change of a session's user or team notes its span for the slots
alone. A TRUNCATE of the sessions empties them. An organization past ``SLOT_BITS_MAX`` devices,
users or teams keeps no bitmaps of that kind, and one that has had a session longer than
``SLOT_LONGEST_SECONDS`` keeps no slots: their reports read the sessions, in the same statement.
"""

from __future__ import annotations

SLOT_SECONDS = 300
# The most bits a slot's bitmap of one kind may have: an organization with more devices, users or
# teams keeps none of that kind, and its distinct counts of them are read off the sessions. A bitmap
# that long is copied at each slot and wherever an entity's time starts or stops (its sessions
# merged): 50,000 users would copy six times as much as 8,192 at each. (Copied into each slot's
# piece of each session, as the refresh once did, 5,000 devices took 4 minutes for a year of 10M.)
SLOT_BITS_MAX = 8192
# An organization that has ever had a session longer than this keeps no slots (its reports read
# the sessions): each slot a session covers is a row, and one from 1900 to 2999, which imports
# accept, would cover 115 million.
SLOT_LONGEST_SECONDS = 31 * 86400

# Recompute org's slots from the slot of ``lo`` to the one of the last instant of the sessions
# starting in [lo, hi] (their timeline values may just have changed) or of ``hi`` (the end of a
# session deleted or moved away), whichever is later.
INSTALL = """
CREATE TABLE IF NOT EXISTS usage_org_slots (
    organization_id uuid NOT NULL,
    slot timestamptz NOT NULL,
    secs bigint NOT NULL,
    starts integer NOT NULL,
    started bigint NOT NULL,
    run integer,
    carried integer NOT NULL,
    shadow bigint NOT NULL,
    devices varbit,
    users varbit,
    teams varbit,
    PRIMARY KEY (organization_id, slot)
);

CREATE TABLE IF NOT EXISTS usage_rollup_bits (
    organization_id uuid NOT NULL,
    kind "char" NOT NULL,
    entity text NOT NULL,
    bit integer NOT NULL,
    PRIMARY KEY (organization_id, kind, entity)
);

-- Without nested loops: planned on an import's fresh rows (no statistics yet), each session's
-- bits were looked up by a nested loop over all the organization's bits (a million sessions times
-- 500 devices of comparisons); hash joins cost the same at any estimate. Nor merge joins: one
-- sorted 100,000 sessions by their entities as text (seconds) to find 760 bits.
CREATE OR REPLACE FUNCTION usage_rollup_refresh_span(p_org uuid, p_lo timestamptz, p_hi timestamptz)
RETURNS void LANGUAGE plpgsql SET jit = off SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
    step constant interval := interval '300 seconds';
    origin constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
    reach timestamptz;
    since timestamptz;
    a timestamptz;
    b timestamptz;
    nd integer;
    nu integer;
    nt integer;
    zd varbit;
    zu varbit;
    zt varbit;
BEGIN
    IF (SELECT r.longest FROM usage_timeline_reach r WHERE r.organization_id = p_org) > SLOT_LONGEST_SECONDS THEN
        DELETE FROM usage_org_slots WHERE organization_id = p_org;
        RETURN;
    END IF;
    SELECT max(e.end_time) INTO reach FROM usage_usageevent e
    WHERE e.organization_id = p_org AND e.start_time >= p_lo AND e.start_time <= p_hi;
    a := date_bin(step, p_lo, origin);
    b := date_bin(step, greatest(p_hi, reach), origin) + step;
    since := usage_timeline_since(p_org, a);  -- the sessions with time in [a, b) start after it
    DELETE FROM usage_org_slots WHERE organization_id = p_org AND slot >= a AND slot < b;

    -- Entities seen for the first time get the organization's next bits.
    INSERT INTO usage_rollup_bits (organization_id, kind, entity, bit)
    SELECT p_org, n.kind, n.entity,
           coalesce((SELECT max(x.bit) FROM usage_rollup_bits x
                     WHERE x.organization_id = p_org AND x.kind = n.kind), -1)
           + row_number() OVER (PARTITION BY n.kind ORDER BY n.entity)
    FROM (
        -- Each kind's entities told apart as they are stored: comparing them as text cost seconds.
        WITH e AS MATERIALIZED (
            SELECT s.device_id, s.user_id, s.team_id FROM usage_usageevent s
            WHERE s.organization_id = p_org AND s.start_time < b AND s.end_time >= a AND s.start_time >= since
        )
        SELECT 'd'::"char" AS kind, d.device_id::text AS entity FROM (SELECT DISTINCT e.device_id FROM e) d
        UNION ALL
        SELECT 'u', u.user_id::text FROM (SELECT DISTINCT e.user_id FROM e WHERE e.user_id IS NOT NULL) u
        UNION ALL
        SELECT 't', t.team_id::text FROM (SELECT DISTINCT e.team_id FROM e WHERE e.team_id IS NOT NULL) t
    ) n
    WHERE NOT EXISTS (
        SELECT FROM usage_rollup_bits x WHERE x.organization_id = p_org AND x.kind = n.kind AND x.entity = n.entity
    );
    SELECT coalesce(max(bit) FILTER (WHERE kind = 'd') + 1, 0), coalesce(max(bit) FILTER (WHERE kind = 'u') + 1, 0),
           coalesce(max(bit) FILTER (WHERE kind = 't') + 1, 0)
    INTO nd, nu, nt
    FROM usage_rollup_bits WHERE organization_id = p_org;
    -- No bitmaps of a kind with more bits than SLOT_BITS_MAX (null: set_bit and bit_or give null).
    zd := CASE WHEN nd <= SLOT_BITS_MAX THEN repeat('0', nd)::varbit END;
    zu := CASE WHEN nu <= SLOT_BITS_MAX THEN repeat('0', nu)::varbit END;
    zt := CASE WHEN nt <= SLOT_BITS_MAX THEN repeat('0', nt)::varbit END;

    -- A session's piece of a slot is what the slot sums, but most pieces are whole slots (a
    -- two-hour session is 25 of them) and copying a bitmap into each cost more than the import
    -- itself. So the sessions are summed where they change what the slots hold: at their first
    -- and last slots (their part-slot times), and where each running count starts and stops.
    -- Between two such slots every slot holds the same counts: whole slots of time (300 s each),
    -- sessions carried in, and who had time in it. A bitmap is kept the same way: each entity's
    -- bit flips where its time (its sessions merged) starts and stops, and a slot's bitmap is the
    -- exclusive or of all the flips up to it.
    INSERT INTO usage_org_slots
    WITH s AS MATERIALIZED (
        -- The sessions with time or a start in [a, b): their first and last slots there (f, l),
        -- and m, the last slot of their time before the busy part (up to c), at most l.
        SELECT x.*,
               CASE WHEN x.c > x.start_time
                    THEN least(date_bin(step, x.c - interval '1 microsecond', origin), x.l) END AS m
        FROM (
            SELECT s.start_time, s.end_time, s.running_in_org, s.device_id, s.user_id, s.team_id,
                   greatest(date_bin(step, s.start_time, origin), a) AS f,
                   CASE WHEN s.end_time > s.start_time
                        THEN least(date_bin(step, s.end_time - interval '1 microsecond', origin), b - step)
                        ELSE date_bin(step, s.start_time, origin) END AS l,
                   least(greatest(coalesce(s.busy_from, s.start_time), s.start_time), s.end_time) AS c
            FROM usage_usageevent s
            WHERE s.organization_id = p_org AND s.start_time < b AND s.end_time >= a AND s.start_time >= since
        ) x
        WHERE x.l >= x.f
    ), at_first AS (
        -- A session's piece of f, and from f + step on: whole slots (while l > f) and carried (not
        -- yet if it started before f: then it is carried at f already).
        SELECT s.f AS slot, count(*)::int AS n, count(*) FILTER (WHERE s.start_time < s.f)::int AS carried_in,
               count(*) FILTER (WHERE s.l > s.f)::int AS longer, count(*) FILTER (WHERE s.m > s.f)::int AS shadowed,
               count(*) FILTER (WHERE s.start_time >= s.f AND s.l > s.f)::int AS carried_on,
               sum(CASE WHEN s.end_time > s.start_time THEN (extract(epoch FROM
                   least(s.end_time, s.f + step) - greatest(s.start_time, s.f)) * 1000000)::bigint END) AS secs,
               sum((extract(epoch FROM greatest(least(s.c, s.f + step) - greatest(s.start_time, s.f), interval '0'))
                    * 1000000)::bigint) AS shadow,
               count(*) FILTER (WHERE s.start_time >= s.f)::int AS starts,
               sum((extract(epoch FROM s.end_time - s.start_time) * 1000000)::bigint)
                   FILTER (WHERE s.start_time >= s.f) AS started,
               max(s.running_in_org) FILTER (WHERE s.start_time >= s.f AND s.end_time > s.start_time) AS run
        FROM s GROUP BY s.f
    ), at_last AS (
        -- Its piece of l (if not f), where its whole slots stop; from l + step on it is not carried.
        SELECT s.l AS slot, count(*)::int AS n, count(*) FILTER (WHERE s.l > s.f)::int AS longer,
               count(*) FILTER (WHERE s.start_time < s.f OR s.l > s.f)::int AS carried_out,
               sum((extract(epoch FROM least(s.end_time, s.l + step) - greatest(s.start_time, s.l)) * 1000000)::bigint)
                   FILTER (WHERE s.l > s.f) AS secs,
               sum((extract(epoch FROM greatest(least(s.c, s.l + step) - greatest(s.start_time, s.l), interval '0'))
                    * 1000000)::bigint) FILTER (WHERE s.l > s.f) AS shadow
        FROM s GROUP BY s.l
    ), at_busy AS (
        -- Where its whole slots of shadow stop, and its piece of shadow there if not at l.
        SELECT s.m AS slot, count(*)::int AS n,
               sum((extract(epoch FROM least(s.c, s.m + step) - greatest(s.start_time, s.m)) * 1000000)::bigint)
                   FILTER (WHERE s.m < s.l) AS shadow
        FROM s WHERE s.m > s.f GROUP BY s.m
    ), ev AS (
        -- Per slot: the changes of the counts of sessions with a piece (cov), of whole slots of time
        -- and of shadow, and of sessions carried, and the part-slot pieces in it.
        SELECT e.slot, sum(e.cov)::int AS cov, sum(e.whole)::int AS whole, sum(e.wshadow)::int AS wshadow,
               sum(e.carried)::int AS carried, sum(e.secs) AS secs, sum(e.shadow) AS shadow,
               sum(e.starts) AS starts, sum(e.started) AS started, max(e.run) AS run
        FROM (
            SELECT slot, n AS cov, 0 AS whole, 0 AS wshadow, carried_in AS carried, secs, shadow, starts, started, run
            FROM at_first
            UNION ALL SELECT slot + step, 0, longer, shadowed, carried_on, NULL, NULL, NULL, NULL, NULL FROM at_first
            UNION ALL SELECT slot, 0, -longer, 0, 0, secs, shadow, NULL, NULL, NULL FROM at_last
            UNION ALL SELECT slot + step, -n, 0, 0, -carried_out, NULL, NULL, NULL, NULL, NULL FROM at_last
            UNION ALL SELECT slot, 0, 0, -n, 0, NULL, shadow, NULL, NULL, NULL FROM at_busy
        ) e
        GROUP BY e.slot
    ), own AS (
        -- The sessions with time, under their bit of each kind kept.
        SELECT 'd'::"char" AS kind, x.bit, s.f, s.l
        FROM s JOIN usage_rollup_bits x ON x.organization_id = p_org AND x.kind = 'd' AND x.entity = s.device_id::text
        WHERE s.end_time > s.start_time AND zd IS NOT NULL
        UNION ALL
        SELECT 'u', x.bit, s.f, s.l
        FROM s JOIN usage_rollup_bits x ON x.organization_id = p_org AND x.kind = 'u' AND x.entity = s.user_id::text
        WHERE s.end_time > s.start_time AND zu IS NOT NULL
        UNION ALL
        SELECT 't', x.bit, s.f, s.l
        FROM s JOIN usage_rollup_bits x ON x.organization_id = p_org AND x.kind = 't' AND x.entity = s.team_id::text
        WHERE s.end_time > s.start_time AND zt IS NOT NULL
        UNION ALL
        -- One more for each bit, after all: where its last merged run ends.
        SELECT x.kind, x.bit, 'infinity', NULL FROM usage_rollup_bits x
        WHERE x.organization_id = p_org AND CASE x.kind WHEN 'd' THEN zd WHEN 'u' THEN zu ELSE zt END IS NOT NULL
    ), merged AS MATERIALIZED (
        -- An entity's sessions merged where they share or touch slots: a merged run starts at a
        -- session that starts past the reach of the ones before it, and that reach ends the run before.
        SELECT own.kind, own.bit, own.f,
               max(own.l) OVER (PARTITION BY own.kind, own.bit ORDER BY own.f
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
        FROM own
    ), flips AS (
        -- Each entity's bit flips where its merged runs start, and at the slot after each ends.
        SELECT m.f AS slot, m.kind, m.bit FROM merged m
        WHERE (m.reach IS NULL OR m.f > m.reach + step) AND m.f < 'infinity'
        UNION ALL
        SELECT m.reach + step, m.kind, m.bit FROM merged m WHERE m.f > m.reach + step
    ), maps AS (
        SELECT f.slot, bit_xor(set_bit(zd, f.bit, 1)) FILTER (WHERE f.kind = 'd') AS d,
               bit_xor(set_bit(zu, f.bit, 1)) FILTER (WHERE f.kind = 'u') AS u,
               bit_xor(set_bit(zt, f.bit, 1)) FILTER (WHERE f.kind = 't') AS t
        FROM flips f GROUP BY f.slot
    ), acc AS (
        SELECT ev.slot, lead(ev.slot) OVER w AS next, ev.secs, ev.shadow, ev.starts, ev.started, ev.run,
               sum(ev.cov) OVER w AS cov, sum(ev.whole) OVER w AS whole, sum(ev.wshadow) OVER w AS wshadow,
               sum(ev.carried) OVER w AS carried,
               bit_xor(maps.d) OVER w AS d, bit_xor(maps.u) OVER w AS u, bit_xor(maps.t) OVER w AS t
        FROM ev LEFT JOIN maps ON maps.slot = ev.slot
        WINDOW w AS (ORDER BY ev.slot ROWS UNBOUNDED PRECEDING)
    )
    -- Each slot where something changes, and the slots up to the next one, which hold the same.
    SELECT p_org, g.slot,
           CASE WHEN g.slot = r.slot THEN coalesce(r.secs, 0) ELSE 0 END + 300000000 * r.whole,
           CASE WHEN g.slot = r.slot THEN coalesce(r.starts, 0) ELSE 0 END,
           CASE WHEN g.slot = r.slot THEN coalesce(r.started, 0) ELSE 0 END,
           CASE WHEN g.slot = r.slot THEN r.run END,
           r.carried,
           CASE WHEN g.slot = r.slot THEN coalesce(r.shadow, 0) ELSE 0 END + 300000000 * r.wshadow,
           nullif(r.d, zd), nullif(r.u, zu), nullif(r.t, zt)
    FROM acc r CROSS JOIN LATERAL generate_series(r.slot, r.next - step, step) g(slot)
    WHERE r.cov > 0;

    -- An organization without sessions keeps no bits.
    IF NOT EXISTS (SELECT FROM usage_usageevent e WHERE e.organization_id = p_org) THEN
        DELETE FROM usage_rollup_bits WHERE organization_id = p_org;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION usage_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE usage_org_slots, usage_rollup_bits;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER usage_rollup_truncate AFTER TRUNCATE ON usage_usageevent
    FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_truncate();

-- Made again from the sessions whenever this text changes: slots of an older definition are not kept.
TRUNCATE usage_org_slots, usage_rollup_bits;
SELECT pg_advisory_xact_lock(hashtextextended('usage_timeline ' || x.organization_id::text, 0)),
       usage_rollup_refresh_span(x.organization_id, x.lo, x.hi)
FROM (
    SELECT organization_id, min(start_time) AS lo, max(start_time) AS hi FROM usage_usageevent
    GROUP BY organization_id ORDER BY organization_id
) x;
-- Statistics now: a year of day bins was sorted (0.3 s at 10M sessions) on an estimate of 12 slots.
ANALYZE usage_org_slots, usage_rollup_bits;
"""


def install(*, using: str = "default") -> None:
    """Create the slot tables and their refresh where this text changed, then build every
    organization's slots from its sessions. Run after ``usage.timeline.install`` (the slots read
    the timeline columns), after every ``migrate``."""
    from django.db import connections

    from core.db import install_once

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass('usage_usageevent')")
        if cursor.fetchone()[0] is None:
            return
    ddl = INSTALL.replace("SLOT_BITS_MAX", str(SLOT_BITS_MAX)).replace(
        "SLOT_LONGEST_SECONDS", str(SLOT_LONGEST_SECONDS)
    )
    install_once(name="usage.rollup", ddl=ddl, using=using, relation="usage_usageevent")
