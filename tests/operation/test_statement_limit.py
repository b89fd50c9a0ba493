"""Every report and listing query is bounded (SPEC §14): past the limit the client gets 503 and the
query is cancelled in PostgreSQL. v1 reports read through a WITH HOLD cursor, whose query
PostgreSQL's statement_timeout does not cover, v2 reports through a cursor in a transaction of
their own: these tests run outside a test transaction (transaction=True), as requests do, so that
the cursor is the one production declares."""

from __future__ import annotations

import time

import orjson
import pytest
from django.db import connection, connections
from django.test import override_settings

from core.interchange import Importer
from tests.conftest import api_client, make_token
from tests.usage_helpers import make_device, session, utc
from usage import events, reporting
from usage.api import v2

SLOW = "SELECT pg_sleep(20) /* deliberately slow */"
LIMIT_MESSAGE = (
    "The query took longer than the limit of 0.3 s and was cancelled. "
    "Narrow the date range, enlarge the bin size, or filter to fewer groups."
)


@pytest.fixture
def acme(transactional_db, org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"))
    return api_client(make_token("ann", organization=org))


def slow_sql(*args, **kwargs):
    return SLOW, {}


def still_running() -> list[str]:
    """Queries of the deliberately slow kind that PostgreSQL is still running, on any connection."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
            ["%deliberately slow%"],
        )
        return [row[0] for row in cursor.fetchall() if "pg_stat_activity" not in row[0]]


def refused(response, started: float) -> None:
    assert time.monotonic() - started < 5, "the limit did not hold"
    assert response.status_code == 503
    assert "Retry-After" not in response  # retrying the same report would take as long
    assert orjson.loads(response.content) == {
        "error": {"code": "service_unavailable", "message": LIMIT_MESSAGE, "details": {}}
    }
    assert still_running() == []


@override_settings(STATEMENT_TIMEOUT=0.3)
@pytest.mark.parametrize(
    ("route", "fmt"), [("/v2/usage/device", "json"), ("/v2/usage/device", "csv"), ("/v1/usage/device", "json")]
)
def test_a_report_past_the_limit_is_cancelled_with_503(acme, monkeypatch, route, fmt):
    # v1 reads the report query's rows; v2 the rows PostgreSQL writes of it (report_text_sql).
    monkeypatch.setattr(reporting, "build_report_sql", slow_sql)
    monkeypatch.setattr(v2, "report_text_sql", slow_sql)
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "format": fmt}
    started = time.monotonic()
    refused(acme.get(route, params), started)
    # The connection is usable afterwards and the next (normal) report answers.
    monkeypatch.undo()
    assert acme.get(route, params).status_code == 200


@override_settings(STATEMENT_TIMEOUT=0.3)
@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/v2/usage/event", {"start_date": "2024-01-01"}),
        ("/v2/usage/event", {"start_date": "2024-01-01", "format": "csv"}),
        ("/v0/usage/events", {"start_date": "20240101", "end_date": "20240102"}),
    ],
)
def test_a_listing_past_the_limit_is_cancelled_with_503(acme, monkeypatch, route, params):
    monkeypatch.setattr(events, "events_sql", slow_sql)
    started = time.monotonic()
    refused(acme.get(route, params), started)


def test_the_server_side_limit_is_set_on_request_connections(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)


def test_imports_are_not_cut_by_the_limit(transactional_db, org):
    """The import lifts the limit for its own transaction only."""
    seen = []
    original = Importer.run

    def spy(self, records):
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '50ms'")
        try:
            return original(self, records)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SHOW statement_timeout")
                seen.append(cursor.fetchone()[0])
                cursor.execute("RESET statement_timeout")

    records = [(1, {"kind": "organization", "id": "00000000-0000-4000-8000-0000000000aa", "name": "Slowly"})]
    # pg_sleep inside the import's transaction stands for a long upsert.
    from core import interchange

    before = interchange.Writer.process

    def slow_process(self, chunk):
        self.cursor.execute("SELECT pg_sleep(0.3)")
        return before(self, chunk)

    interchange.Writer.process = slow_process
    try:
        assert spy(Importer(), records) == {"organization": 1}
    finally:
        interchange.Writer.process = before
    assert seen == ["50ms"]  # the session's limit is back after the import


@override_settings(MAX_REPORT_ROWS=100)
def test_a_report_known_to_be_too_large_is_refused_before_it_runs(db, org, django_assert_num_queries):
    for n in range(3):
        make_device(org, f"d{n}@h1.acme.test")
    client = api_client(make_token("ann", organization=org))
    params = {"start_date": "2024-01-01", "end_date": "2024-01-02", "bin_size": "hour", "display_all": "true"}
    response = client.get("/v2/usage/device", params)  # 48 bins x 3 devices
    assert response.status_code == 400
    assert orjson.loads(response.content) == {
        "error": {
            "code": "invalid_parameter",
            "message": "The report would have 144 rows (48 bins x 3 groups), more than the 100 allowed: use a larger "
            "bin_size, a shorter range, filters, or display_all=false.",
            "details": {"bin_size": None, "display_all": None},
        }
    }
    assert client.get("/v2/usage/device", {**params, "bin_size": "day"}).status_code == 200  # 6 rows
    assert client.get("/v2/usage/device", {**params, "display_all": "false"}).status_code == 200
    assert client.get("/v2/usage/device", {**params, "filter_device_address": "d1@h1.acme.test"}).status_code == 200
    assert client.get("/v1/usage/device", params).status_code == 400
