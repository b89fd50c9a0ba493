"""The event CSV is written by PostgreSQL (COPY): byte for byte what the Python writer wrote.

On generated sessions with awkward text (commas, quotes, newlines and carriage returns, formula
characters, empty strings, non-ASCII), missing users and teams, sessions around the DST changes of
zones with DST (and a quarter-hour zone), and durations that are whole seconds, fractions, a
microsecond or zero, the response of ``/v2/usage/event?format=csv`` equals the CSV that
``csv_stream`` writes of the same listing (the code path the route used before).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.usage_helpers import awkward_devices, make_device, utc
from usage.api.output import csv_stream
from usage.events import EVENT_FIELDS, EventQuery, event_rows
from usage.models import Team, UsageEvent, User

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"]
# DST changes of 2024 (UTC): Los Angeles spring and fall, London spring, Lord Howe (half an hour).
CHANGES = [utc("2024-03-10 10:00"), utc("2024-11-03 09:00"), utc("2024-03-31 01:00"), utc("2024-04-06 15:00")]
START_DATE, END_DATE = "2024-03-01", "2024-11-10"

AWKWARD = st.text(
    alphabet=st.sampled_from(list("ab ,;\"'\n\r\t=+-@é€\\.")) | st.characters(exclude_categories=["Cs", "Cc"]),
    max_size=8,
)
# Durations in microseconds: zero, one, whole seconds, fractions, days.
DURATION = st.sampled_from([0, 1, 10, 50, 100_000, 1_000_000, 90_000_000]) | st.integers(0, 3 * 86400 * 10**6)
SESSION = st.tuples(
    st.integers(0, 3),  # device
    st.none() | st.integers(0, 2),  # user
    st.none() | st.integers(0, 2),  # team
    st.booleans(),  # automated
    st.sampled_from(CHANGES),
    st.integers(-6 * 3600 * 10**6, 6 * 3600 * 10**6),  # start, microseconds from the change
    DURATION,
)


def previous_csv(query: EventQuery) -> bytes:
    """The event CSV as the route wrote it before COPY: Python's csv over the listed rows."""
    rows = map(itemgetter(*EVENT_FIELDS), event_rows(query))
    return "".join(csv_stream(rows, header=EVENT_FIELDS)).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(AWKWARD, min_size=13, max_size=13),
    sessions=st.lists(SESSION, max_size=10),
    zone_name=st.sampled_from(ZONES),
)
@example(
    names=['a,"b"\nc', "=cmd", "", "\rx", "-1", "+", "@home", "\tx", "x\r\ny", "é,€", '"', "\\.", "ok"],
    sessions=[(0, 0, 0, True, CHANGES[0], -1, 1), (1, None, None, False, CHANGES[1], 0, 90_000_000)],
    zone_name="America/Los_Angeles",
).via("awkward values by hand")
def test_the_copy_csv_is_the_python_csv(api, org, names, sessions, zone_name):
    with transaction.atomic():
        # Four devices on two hosts, three users and three teams (emails and team names awkward).
        devices = awkward_devices(org, names)
        users = [User.objects.create(organization=org, email=names[6 + i], name=names[i]) for i in range(3)]
        teams = [Team.objects.create(organization=org, name=names[9 + i] if i < 2 else names[12]) for i in range(3)]
        UsageEvent.objects.bulk_create(
            UsageEvent(
                organization=org,
                device=devices[device],
                user=users[user] if user is not None else None,
                team=teams[team] if team is not None else None,
                automated=automated,
                start_time=change + timedelta(microseconds=offset),
                end_time=change + timedelta(microseconds=offset + duration),
            )
            for device, user, team, automated, change, offset, duration in sessions
        )
        zone = ZoneInfo(zone_name)
        query = EventQuery(
            organization_id=org.pk,
            start=datetime(2024, 3, 1, tzinfo=zone).astimezone(UTC),
            end=datetime(2024, 11, 11, tzinfo=zone).astimezone(UTC),
            tz=zone,
        )
        response = api.get(
            "/v2/usage/event", {"start_date": START_DATE, "end_date": END_DATE, "timezone": zone_name, "format": "csv"}
        )
        assert response.status_code == 200
        written = b"".join(response.streaming_content)
        assert written == previous_csv(query)
        assert written.count(b"\n") >= len(sessions) + 1  # the header and every session, none dropped
        transaction.set_rollback(True)


def test_a_long_listing_is_spooled_and_streamed_in_chunks(api, org, monkeypatch):
    """Past the spool's memory the output goes to a temporary file and still arrives whole, in order."""
    from core import db
    from usage.api import output

    monkeypatch.setattr(db, "SPOOL_MEMORY_BYTES", 1000)
    monkeypatch.setattr(output, "COPY_CHUNK_BYTES", 1000)
    device = make_device(org, "d1@h1.acme.test")
    start = utc("2024-03-02 00:00")
    UsageEvent.objects.bulk_create(
        UsageEvent(
            organization=org,
            device=device,
            start_time=start + timedelta(minutes=n),
            end_time=start + timedelta(minutes=n, seconds=30),
        )
        for n in range(300)
    )
    response = api.get("/v2/usage/event", {"start_date": START_DATE, "end_date": END_DATE, "format": "csv"})
    chunks = list(response.streaming_content)
    assert len(chunks) > 30
    assert {len(chunk) for chunk in chunks[:-1]} == {1000}
    query = EventQuery(organization_id=org.pk, start=utc("2024-03-01 00:00"), end=utc("2024-11-11 00:00"), tz=UTC)
    assert b"".join(chunks) == previous_csv(query)
    assert len(b"".join(chunks).splitlines()) == 301
