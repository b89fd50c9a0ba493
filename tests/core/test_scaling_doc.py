"""docs/scaling.md states rules for a Citus cluster; the schema the migrations make follows them.

The document's two tables are read here: every table of the schema is classified (distributed by
a tenant column, reference, or local), and every break of a rule is listed under "Not yet",
exactly: a new table, primary key, unique constraint or foreign key that breaks a rule fails this
test until the schema or the document changes, and so does an exception that no longer exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
KINDS = {"distributed", "reference", "local"}


def doc_table(heading: str) -> list[list[str]]:
    """The rows of the first markdown table under ``heading`` (header and separator left out)."""
    text = DOC.read_text()
    start = text.index(f"\n{heading}\n")
    rows, started = [], False
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            started = True
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif started:
            break
    return rows[2:]


def classified() -> dict[str, tuple[str, str]]:
    return {table: (kind, column) for table, kind, column in doc_table("### Tables")}


def exceptions() -> set[tuple[str, str, str]]:
    return {(table, rule, columns) for table, rule, columns in doc_table("### Not yet")}


def schema() -> dict[str, dict]:
    """Each table's columns (name: nullable) and constraints, as PostgreSQL reports them."""
    with connection.cursor() as cursor:
        tables = {}
        for info in connection.introspection.get_table_list(cursor):
            if info.type != "t":
                continue
            columns = {c.name: c.null_ok for c in connection.introspection.get_table_description(cursor, info.name)}
            constraints = connection.introspection.get_constraints(cursor, info.name)
            tables[info.name] = {"columns": columns, "constraints": constraints}
        return tables


def broken_rules() -> tuple[set[tuple[str, str, str]], list[str]]:
    """The (table, rule, columns) exceptions the schema has, and the breaks no exception may excuse."""
    kinds = classified()
    tables = schema()
    found: set[tuple[str, str, str]] = set()
    fatal: list[str] = []
    for name, table in tables.items():
        kind, column = kinds[name]
        constraints = table["constraints"].values()
        if kind == "distributed":
            if column not in table["columns"]:
                found.add((name, "column", ""))
            elif table["columns"][column]:
                fatal.append(f"{name}.{column} is nullable")
            for constraint in constraints:
                if (constraint["primary_key"] or constraint["unique"]) and column not in constraint["columns"]:
                    rule = "primary key" if constraint["primary_key"] else "unique"
                    found.add((name, rule, ", ".join(constraint["columns"])))
                target = constraint["foreign_key"]
                if target and kinds[target[0]][0] == "distributed":
                    target_column = kinds[target[0]][1]
                    if column not in constraint["columns"] or target[1] != target_column:
                        found.add((name, "foreign key", ", ".join(constraint["columns"])))
        if kind == "reference":
            for constraint in constraints:
                target = constraint["foreign_key"]
                if target and kinds[target[0]][0] == "distributed":
                    fatal.append(f"reference table {name} references distributed {target[0]}")
    return found, fatal


# Made by ``migrate`` and by the database cache, which the tests' database (no migrations, a
# process-memory cache) does not run.
NOT_IN_TEST_DATABASE = {"django_migrations", "core_report_cache"}


def test_the_document_lists_every_table_of_the_schema_and_no_other():
    kinds = classified()
    assert set(kinds) - NOT_IN_TEST_DATABASE == set(schema())
    assert {kind for kind, _ in kinds.values()} <= KINDS
    for table, (kind, column) in kinds.items():
        assert bool(column) == (kind == "distributed"), table


def test_every_distributed_table_of_a_tenant_is_in_one_colocation_group():
    """Both tenant columns are UUIDs (the tenants' keys): one co-location group is possible."""
    tables = schema()
    with connection.cursor() as cursor:
        for table, (kind, column) in classified().items():
            if kind != "distributed" or column not in tables[table]["columns"]:
                continue
            cursor.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
                [table, column],
            )
            assert cursor.fetchone() == ("uuid",), table


def test_the_rules_hold_but_for_the_listed_exceptions():
    found, fatal = broken_rules()
    assert fatal == []
    assert found - exceptions() == set(), "breaks a rule of docs/scaling.md: fix the schema or list it"
    assert exceptions() - found == set(), "no longer an exception: remove it from docs/scaling.md"


def test_the_exception_list_is_well_formed():
    rules = {"column", "primary key", "unique", "foreign key"}
    kinds = classified()
    for table, rule, columns in exceptions():
        assert rule in rules, rule
        assert kinds[table][0] == "distributed", table
        assert (rule == "column") == (columns == ""), (table, rule)
        assert re.fullmatch(r"|[a-z_]+(, [a-z_]+)*", columns), columns
