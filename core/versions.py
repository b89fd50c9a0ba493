"""Data versions: a number per tenant that every write to the data its reports read replaces.

A report's answer depends only on its parameters and on the stored data of one tenant (an
organization's sessions, devices, teams and users; a client's app reports, applications, users
and departments) plus a few shared tables (hosts, many-to-many links). Statement triggers on each
of those tables give the tenants a statement touched (before and after an update) a new version,
drawn from a sequence, and a write to a shared table or a TRUNCATE a new version of the whole
area. So every write path (ORM, admin, imports through COPY, cascades, raw SQL) changes the version,
and a version never comes back: not after a rollback (sequences are not transactional), nor in a
test database rebuilt from scratch. ``core.report_cache`` keys cached answers by them.

The apps declare their tables with ``track`` from their ``post_migrate`` hooks; ``core`` knows
none of them (it imports no app).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections

from core.db import install_once

INSTALL = """
CREATE SEQUENCE IF NOT EXISTS core_data_version_seq;
-- Insert-only: a new version is a new row (the newest wins), so that writers of one tenant never
-- wait for each other's commit on a shared row; older rows are pruned where nobody holds them.
CREATE TABLE IF NOT EXISTS core_data_versions (key text NOT NULL, version bigint NOT NULL);
CREATE INDEX IF NOT EXISTS core_data_versions_key ON core_data_versions (key, version);

CREATE OR REPLACE FUNCTION core_data_versions_raise(keys text[]) RETURNS void LANGUAGE sql AS $$
INSERT INTO core_data_versions SELECT k, nextval('core_data_version_seq') FROM unnest(keys) AS k;
DELETE FROM core_data_versions WHERE ctid IN (
    SELECT o.ctid FROM core_data_versions o
    WHERE o.key = ANY(keys)
      AND o.version < (SELECT max(n.version) FROM core_data_versions n WHERE n.key = o.key)
    FOR UPDATE SKIP LOCKED
);
$$;

-- TG_ARGV: the tenant kind ("organization", "client"), the tenant column, the area. Without a
-- tenant column (a shared table) or for a TRUNCATE: the area's version.
CREATE OR REPLACE FUNCTION core_data_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
    keys text[];
BEGIN
    IF TG_OP = 'TRUNCATE' OR TG_ARGV[1] = '' THEN
        PERFORM core_data_versions_raise(ARRAY[TG_ARGV[2]]);
        RETURN NULL;
    END IF;
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %I FROM new_rows', TG_ARGV[1])
        WHEN 'DELETE' THEN format('SELECT %I FROM old_rows', TG_ARGV[1])
        ELSE format('SELECT %1$I FROM old_rows UNION SELECT %1$I FROM new_rows', TG_ARGV[1])
    END;
    EXECUTE format(
        'SELECT array_agg(DISTINCT %L || k::text) FROM (%s) c(k) WHERE k IS NOT NULL', TG_ARGV[0] || ':', changed
    ) INTO keys;
    IF keys IS NOT NULL THEN
        PERFORM core_data_versions_raise(keys);
    END IF;
    RETURN NULL;
END;
$$;
"""


RELEASE = "release"  # raised by every migrate: cached answers of an older release are not served


def install(*, using: str = "default") -> None:
    """The version table, its sequence and the trigger function (once per definition)."""
    install_once(name="core.versions", ddl=INSTALL, using=using, relation="core_data_versions")


def new_release(*, using: str = "default") -> None:
    """A new ``release`` version (after a migrate: the code that shapes answers may have changed)."""
    install(using=using)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT core_data_versions_raise(%s)", [[RELEASE]])


def track(*, table: str, area: str, tenant: str = "", column: str = "", using: str = "default") -> None:
    """Give ``table``'s writes new versions: of the tenants in ``column`` (``tenant`` names their
    kind), or, without a column, of the whole ``area``. Idempotent; installs the function first.
    Nothing when the table is gone (``migrate app zero``)."""
    install(using=using)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return
    args = f"'{tenant}', '{column}', '{area}'"
    statements = [
        f"CREATE OR REPLACE TRIGGER {table}_version_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION core_data_version_bump({args})"
    ]
    if not column:
        statements.append(
            f"CREATE OR REPLACE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION core_data_version_bump({args})"
        )
    else:
        for event, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ):
            statements.append(
                f"CREATE OR REPLACE TRIGGER {table}_version_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION core_data_version_bump({args})"
            )
    install_once(name=f"core.versions {table}", ddl=";\n".join(statements), using=using, relation=table)


def current(keys: Sequence[str], *, using: str = "default") -> tuple[int, ...]:
    """The versions of ``keys`` (e.g. ``organization:<id>``, ``usage``), 0 for one never written."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT key, max(version) FROM core_data_versions WHERE key = ANY(%s) GROUP BY key", [list(keys)]
        )
        found = dict(cursor.fetchall())
    return tuple(found.get(key, 0) for key in keys)
