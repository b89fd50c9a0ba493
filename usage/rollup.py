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
# teams keeps none of that kind, and its distinct counts of them are read off the sessions. Each
# slot's piece of a session copies a bitmap that long: at 5,000 devices (625 bytes) a year of 10M
# sessions took 4 minutes to sum up, and 50,000 users would copy ten times as much a piece.
SLOT_BITS_MAX = 8192
# An organization that has ever had a session longer than this keeps no slots (its reports read
# the sessions): a session is one piece per slot it covers, and one from 1900 to 2999, which
# imports accept, would be 115 million.
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
-- 500 devices of comparisons); hash joins cost the same at any estimate.
CREATE OR REPLACE FUNCTION usage_rollup_refresh_span(p_org uuid, p_lo timestamptz, p_hi timestamptz)
RETURNS void LANGUAGE plpgsql SET jit = off SET enable_nestloop = off AS $$
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
        SELECT DISTINCT k.kind, k.entity
        FROM usage_usageevent s
        CROSS JOIN LATERAL (
            VALUES ('d'::"char", s.device_id::text), ('u', s.user_id::text), ('t', s.team_id::text)
        ) k(kind, entity)
        WHERE s.organization_id = p_org AND s.start_time < b AND s.end_time >= a AND s.start_time >= since
          AND k.entity IS NOT NULL
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

    INSERT INTO usage_org_slots
    SELECT p_org, p.slot, coalesce(sum(p.secs), 0), count(*) FILTER (WHERE p.starts_here),
           coalesce(sum(p.duration) FILTER (WHERE p.starts_here), 0),
           max(p.running_in_org) FILTER (WHERE p.starts_here AND p.secs IS NOT NULL),
           count(*) FILTER (WHERE p.start_time < p.slot),
           coalesce(sum(p.shadow), 0),
           bit_or(set_bit(zd, bd.bit, 1)) FILTER (WHERE p.secs > 0),
           bit_or(set_bit(zu, bu.bit, 1)) FILTER (WHERE p.secs > 0),
           bit_or(set_bit(zt, bt.bit, 1)) FILTER (WHERE p.secs > 0)
    FROM (
        SELECT s.device_id, s.user_id, s.team_id, s.start_time, s.running_in_org, g.slot,
               s.start_time >= g.slot AS starts_here,
               (extract(epoch FROM s.end_time - s.start_time) * 1000000)::bigint AS duration,
               CASE WHEN s.end_time > s.start_time THEN (extract(epoch FROM
                   least(s.end_time, g.slot + step) - greatest(s.start_time, g.slot)) * 1000000)::bigint END AS secs,
               (extract(epoch FROM greatest(
                   least(least(greatest(coalesce(s.busy_from, s.start_time), s.start_time), s.end_time), g.slot + step)
                   - greatest(s.start_time, g.slot), interval '0')) * 1000000)::bigint AS shadow
        FROM usage_usageevent s
        CROSS JOIN LATERAL generate_series(
            greatest(date_bin(step, s.start_time, origin), a),
            CASE WHEN s.end_time > s.start_time
                 THEN least(date_bin(step, s.end_time - interval '1 microsecond', origin), b - step)
                 ELSE date_bin(step, s.start_time, origin) END,
            step
        ) g(slot)
        -- The sessions with time or a start in [a, b).
        WHERE s.organization_id = p_org AND s.start_time < b AND s.end_time >= a AND s.start_time >= since
    ) p
    LEFT JOIN usage_rollup_bits bd ON bd.organization_id = p_org AND bd.kind = 'd' AND bd.entity = p.device_id::text
    LEFT JOIN usage_rollup_bits bu ON bu.organization_id = p_org AND bu.kind = 'u' AND bu.entity = p.user_id::text
    LEFT JOIN usage_rollup_bits bt ON bt.organization_id = p_org AND bt.kind = 't' AND bt.entity = p.team_id::text
    WHERE p.slot < b
    GROUP BY p.slot;

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
