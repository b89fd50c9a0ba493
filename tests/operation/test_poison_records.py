"""Timestamps no reader can hold are refused on the way in; rows stored before that stay readable.

0001-01-01T00:00:00+14:00 is 1 BC in UTC and 9999-12-31T23:59:59-14:00 is in year 10000: PostgreSQL
stores both, Python's datetime holds neither. Import and ingest refuse anything outside
1900-01-01..2999-12-31 UTC, naming the record; listing and export read such rows without turning
them into Python datetimes.
"""

from __future__ import annotations

import io
import uuid

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.ingest.test_ingest import post, writer
from tests.interchange.conftest import ORG, dataset, export_text, import_files, row_counts
from tests.usage_helpers import make_device, session, utc
from usage.models import Organization

pytestmark = pytest.mark.django_db

FAR_PAST = "0001-01-01T00:00:00+14:00"
FAR_FUTURE = "9999-12-31T23:59:59-14:00"


def records_with(**changes) -> list[dict]:
    records = dataset()
    records[5] = {**records[5], **changes}
    return records


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_time": FAR_PAST}, f"line 6: usage_event: start_time: '{FAR_PAST}' is outside the accepted range"),
        ({"end_time": FAR_FUTURE}, f"line 6: usage_event: end_time: '{FAR_FUTURE}' is outside the accepted range"),
        (
            {"start_time": "1899-12-31T23:59:59+00:00"},
            "line 6: usage_event: start_time: '1899-12-31T23:59:59+00:00' is outside the accepted range",
        ),
        (
            {"end_time": "2999-12-31T20:00:00-05:00"},  # 3000-01-01 01:00 UTC
            "line 6: usage_event: end_time: '2999-12-31T20:00:00-05:00' is outside the accepted range",
        ),
    ],
)
def test_import_refuses_timestamps_outside_the_range_naming_the_line(write_file, changes, message):
    path = write_file(records_with(**changes))
    with pytest.raises(CommandError) as error:
        import_files(path)
    assert f"{message} 1900-01-01 to 2999-12-31 (UTC)" in str(error.value).splitlines()
    assert sum(row_counts().values()) == 0


def test_the_range_edges_are_accepted(write_file):
    path = write_file(records_with(start_time="1900-01-01T00:00:00+00:00", end_time="2999-12-31T23:59:59.999999Z"))
    import_files(path)
    assert row_counts()["UsageEvent"] == 2


def test_the_fast_path_refuses_them_too(write_file):
    """Many sessions on one known device take the import's shortcut: the bounds hold there as well."""
    records = dataset()
    template = records[5]
    sessions = [
        {**template, "id": str(uuid.UUID(int=1000 + n)), "start_time": "2026-08-01T08:00:00+00:00"} for n in range(50)
    ]
    sessions[40]["end_time"] = FAR_FUTURE
    path = write_file([*records[:5], *sessions])
    with pytest.raises(CommandError) as error:
        import_files(path)
    assert f"line 46: usage_event: end_time: '{FAR_FUTURE}' is outside the accepted range" in str(error.value)
    assert sum(row_counts().values()) == 0


def test_ingest_refuses_them_naming_the_record(tenants):
    acme = writer("acme-poison", organization=ORG)
    response = post(acme, records_with(start_time=FAR_PAST)[1:6])
    assert response.status_code == 400
    message = f"usage_event: start_time: '{FAR_PAST}' is outside the accepted range 1900-01-01 to 2999-12-31 (UTC)"
    assert response.json()["error"]["message"] == f"record 4: {message}. Nothing was written."
    assert row_counts()["UsageEvent"] == 0


@pytest.fixture
def poisoned(org: Organization):
    """A normal session and, written by SQL as an older version allowed, two out-of-range ones."""
    device = make_device(org, "d1@h1.acme.test")
    good = session(device, utc("2026-09-01 10:00"), utc("2026-09-01 11:00"))
    ids = [uuid.UUID(int=1), uuid.UUID(int=2)]
    with connection.cursor() as cursor:
        for ident, start, end in (
            (ids[0], FAR_PAST, "2026-09-01T09:00:00+00:00"),
            (ids[1], "2026-09-02T09:00:00+00:00", FAR_FUTURE),
        ):
            cursor.execute(
                "INSERT INTO usage_usageevent (id, organization_id, device_id, start_time, end_time, automated) "
                "VALUES (%s, %s, %s, %s::timestamptz, %s::timestamptz, false)",
                [ident, org.pk, device.pk, start, end],
            )
    return good, ids


def body(response) -> dict:
    return orjson.loads(b"".join(response.streaming_content) if response.streaming else response.content)


def test_the_json_listing_reads_stored_out_of_range_rows(api, poisoned):
    good, (past, future) = poisoned
    response = api.get("/v2/usage/event?start_date=2026-09-01&end_date=2026-09-30&limit=2")
    assert response.status_code == 200
    page = body(response)
    assert [row["id"] for row in page["report"]] == [str(past), str(good.pk)]
    assert page["report"][0]["start_time"] == "0001-12-31 10:00:00"  # 1 BC: the listing format has no era
    assert page["report"][0]["duration"] > 2026 * 365 * 86400
    response = api.get(f"/v2/usage/event?start_date=2026-09-01&end_date=2026-09-30&cursor={page['next_cursor']}")
    assert response.status_code == 200
    page = body(response)
    assert page["next_cursor"] is None
    [last] = page["report"]
    assert last["id"] == str(future)
    assert last["end_time"] == "10000-01-01 13:59:59"


def test_the_csv_listing_streams_every_row(api, poisoned):
    response = api.get("/v2/usage/event?start_date=2026-09-01&end_date=2026-09-30&format=csv")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 4  # the header and three sessions: nothing cut short
    assert lines[-1].split(",")[-2] == "10000-01-01 13:59:59"


def test_the_v0_listing_streams_every_row(api, poisoned):
    response = api.get("/v0/usage/events", {"start_date": "20260901", "end_date": "20260930", "format": "csv"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 4
    response = api.get("/v0/usage/events", {"start_date": "20260901", "end_date": "20260930"})
    assert response.status_code == 200
    report = orjson.loads(b"".join(response.streaming_content))["report"]
    assert [row["end_time"] for row in report] == ["2026-09-01 09:00:00", "2026-09-01 11:00:00", "10000-01-01 13:59:59"]


def test_export_writes_every_row_for_everyone(poisoned):
    good, (past, future) = poisoned
    lines = [orjson.loads(line) for line in export_text().splitlines()]
    events = {line["id"]: line for line in lines if line["kind"] == "usage_event"}
    assert set(events) == {str(good.pk), str(past), str(future)}
    assert events[str(past)]["start_time"] == "0001-12-31 10:00:00+00 BC"
    assert events[str(future)]["end_time"] == "10000-01-01 13:59:59+00"
    assert events[str(good.pk)]["start_time"] == "2026-09-01T10:00:00+00:00"
    err = io.StringIO()
    call_command("export_usage", stdout=io.StringIO(), stderr=err)
    assert "Exported" in err.getvalue()


def test_a_report_over_such_rows_answers(api, poisoned):
    """The first session's 9 hours and the good one's hour on day one; the last one's 15 hours on day two."""
    response = api.get("/v2/usage?start_date=2026-09-01&end_date=2026-09-02&bin_size=day")
    assert response.status_code == 200
    report = orjson.loads(b"".join(response.streaming_content))["report"]
    assert [(row["total_time"], row["session_count"]) for row in report] == [(36000, 1), (54000, 1)]
