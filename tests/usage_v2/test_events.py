"""/v2/usage/event: the sessions overlapping the range, cursor-paginated JSON or streamed CSV (SPEC §6)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.usage_helpers import body, get, make_device, session, utc
from tests.usage_v2.conftest import DAY

pytestmark = pytest.mark.django_db

ONE_DAY = {"start_date": DAY["start_date"], "end_date": DAY["end_date"]}


def event(e, start: str, end: str, duration: float) -> dict:
    """The expected event row of session ``e``, with times as the route must show them."""
    return {
        "id": str(e.id),
        "device_address": f"{e.device.device_id}@{e.device.host.hostname}",
        "device_id": e.device.device_id,
        "hostname": e.device.host.hostname,
        "user_id": str(e.user.id) if e.user else None,
        "user_email": e.user.email if e.user else None,
        "team_id": str(e.team.id) if e.team else None,
        "team_name": e.team.name if e.team else None,
        "automated": e.automated,
        "start_time": start,
        "end_time": end,
        "duration": duration,
    }


def test_events_of_a_day_in_utc(api, world):
    s1, s2, s3, s4 = world.events
    status, data = get(api, "/v2/usage/event", ONE_DAY)
    assert status == 200
    assert data == {
        "report": [
            event(s1, "2024-01-01 10:00:00", "2024-01-01 11:00:00", 3600.0),
            event(s2, "2024-01-01 12:00:00", "2024-01-01 12:30:00", 1800.0),
            event(s3, "2024-01-01 13:00:00", "2024-01-01 15:00:00", 7200.0),
            event(s4, "2024-01-01 16:00:00", "2024-01-01 16:15:00", 900.0),
        ],
        "next_cursor": None,
    }
    assert list(data["report"][0]) == [
        "id",
        "device_address",
        "device_id",
        "hostname",
        "user_id",
        "user_email",
        "team_id",
        "team_name",
        "automated",
        "start_time",
        "end_time",
        "duration",
    ]


def test_event_times_are_in_the_requested_zone(api, world):
    s1, s2, s3, s4 = world.events
    # Kolkata is UTC+05:30; its 2024-01-01 is 2023-12-31 18:30 to 2024-01-01 18:30 UTC: all four.
    status, data = get(api, "/v2/usage/event", {**ONE_DAY, "timezone": "Asia/Kolkata"})
    assert status == 200
    assert data == {
        "report": [
            event(s1, "2024-01-01 15:30:00", "2024-01-01 16:30:00", 3600.0),
            event(s2, "2024-01-01 17:30:00", "2024-01-01 18:00:00", 1800.0),
            event(s3, "2024-01-01 18:30:00", "2024-01-01 20:30:00", 7200.0),
            event(s4, "2024-01-01 21:30:00", "2024-01-01 21:45:00", 900.0),
        ],
        "next_cursor": None,
    }


def test_the_zone_also_decides_the_range(api, world):
    s1, s2, s3, _ = world.events
    # Tokyo's 2024-01-01 ends at 15:00 UTC: S3 (13:00-15:00) overlaps it, S4 (16:00) does not.
    status, data = get(api, "/v2/usage/event", {**ONE_DAY, "timezone": "Asia/Tokyo"})
    assert status == 200
    assert data == {
        "report": [
            event(s1, "2024-01-01 19:00:00", "2024-01-01 20:00:00", 3600.0),
            event(s2, "2024-01-01 21:00:00", "2024-01-01 21:30:00", 1800.0),
            event(s3, "2024-01-01 22:00:00", "2024-01-02 00:00:00", 7200.0),
        ],
        "next_cursor": None,
    }


def test_sessions_overlapping_the_range_edges(api, org):
    device = make_device(org, "d1@h1.acme.test")
    before = session(device, utc("2023-12-31 23:00"), utc("2024-01-01 01:00"), automated=True)
    session(device, utc("2023-12-31 22:00"), utc("2024-01-01 00:00"))  # ends as the range starts
    at_start = session(device, utc("2024-01-01 00:00"), utc("2024-01-01 00:00"))  # zero length
    after = session(device, utc("2024-01-01 23:30"), utc("2024-01-02 02:00"))
    session(device, utc("2024-01-02 00:00"), utc("2024-01-02 01:00"))  # starts as the range ends
    status, data = get(api, "/v2/usage/event", ONE_DAY)
    assert status == 200
    # Full times and durations, not clipped to the range.
    assert data == {
        "report": [
            event(before, "2023-12-31 23:00:00", "2024-01-01 01:00:00", 7200.0),
            event(at_start, "2024-01-01 00:00:00", "2024-01-01 00:00:00", 0.0),
            event(after, "2024-01-01 23:30:00", "2024-01-02 02:00:00", 9000.0),
        ],
        "next_cursor": None,
    }
    assert data["report"][0]["automated"] is True


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"filter_team_name": "Beta"}, [1, 2]),
        ({"filter_device_address": "d1@h1.acme.test"}, [0, 3]),
        ({"filter_user_email": ["ann@acme.test", "bob@acme.test"]}, [0, 1, 2]),
        ({"filter_user_email": "ann@acme.test", "filter_team_name": "Beta"}, [2]),
        ({"filter_team_name": "Nobody"}, []),
    ],
)
def test_filters_apply_to_events(api, world, filters, expected):
    status, data = get(api, "/v2/usage/event", {**ONE_DAY, **filters})
    assert status == 200
    assert [r["id"] for r in data["report"]] == [str(world.events[i].id) for i in expected]
    assert data["next_cursor"] is None


def test_id_filters_apply_to_events(api, world):
    params = {**ONE_DAY, "filter_team_id": str(world.alpha.id), "filter_user_id": str(world.ann.id)}
    status, data = get(api, "/v2/usage/event", params)
    assert (status, [r["id"] for r in data["report"]]) == (200, [str(world.events[0].id)])


@pytest.fixture
def five(world):
    """The world's four sessions and a fifth starting with S2 (12:00), to tie on start time."""
    s5 = session(world.d4, utc("2024-01-01 12:00"), utc("2024-01-01 12:05"))
    s1, s2, s3, s4 = world.events
    tied = sorted([s2, s5], key=lambda e: str(e.id))  # ties go by id
    return [s1, *tied, s3, s4]


def test_cursor_pagination_walks_every_session_once(api, five):
    ids = [str(e.id) for e in five]
    pages, cursor = [], None
    while True:
        params = {**ONE_DAY, "limit": "2", **({"cursor": cursor} if cursor else {})}
        status, data = get(api, "/v2/usage/event", params)
        assert status == 200
        pages.append([r["id"] for r in data["report"]])
        cursor = data["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert len(pages) < 10, "pagination does not end"
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


def test_last_page_has_no_cursor_even_when_full(api, world):
    # Exactly 4 sessions with limit 4: one page, no next cursor (no empty page after it).
    status, data = get(api, "/v2/usage/event", {**ONE_DAY, "limit": "4"})
    assert (status, len(data["report"]), data["next_cursor"]) == (200, 4, None)


def test_a_page_is_the_same_rows_as_the_unpaginated_list(api, five):
    _, whole = get(api, "/v2/usage/event", ONE_DAY)
    _, first = get(api, "/v2/usage/event", {**ONE_DAY, "limit": "3"})
    _, rest = get(api, "/v2/usage/event", {**ONE_DAY, "limit": "3", "cursor": first["next_cursor"]})
    assert first["report"] + rest["report"] == whole["report"]
    assert rest["next_cursor"] is None
    assert len(whole["report"]) == 5


def test_csv_streams_every_row_with_the_json_values(api, five):
    _, data = get(api, "/v2/usage/event", ONE_DAY)
    response = api.get("/v2/usage/event", {**ONE_DAY, "format": "csv", "limit": "2"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="usage_events_20240101.csv"'
    header, *lines = list(csv.reader(io.StringIO(body(response))))
    assert header == list(data["report"][0])
    json_as_csv = [
        ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in r.values()]
        for r in data["report"]
    ]
    assert lines == json_as_csv
    assert len(lines) == 5


def test_csv_of_one_event_by_hand(api, org):
    device = make_device(org, "d1@h1.acme.test")
    e = session(device, utc("2024-01-01 10:00"), utc("2024-01-01 10:01:30"), automated=True)
    status, text = get(api, "/v2/usage/event", {**ONE_DAY, "format": "csv"})
    assert status == 200
    assert text == (
        "id,device_address,device_id,hostname,user_id,user_email,team_id,team_name,automated,"
        "start_time,end_time,duration\n"
        f"{e.id},d1@h1.acme.test,d1,h1.acme.test,,,,,true,2024-01-01 10:00:00,2024-01-01 10:01:30,90.0\n"
    )


def test_events_without_end_date_run_to_now(api, org):
    from django.utils import timezone

    device = make_device(org, "d1@h1.acme.test")
    now = timezone.now()
    recent = session(device, now - timezone.timedelta(hours=1), now - timezone.timedelta(minutes=30))
    status, data = get(api, "/v2/usage/event", {"start_date": (now - timezone.timedelta(days=1)).strftime("%Y%m%d")})
    assert status == 200
    assert [r["id"] for r in data["report"]] == [str(recent.id)]
    assert data["report"][0]["duration"] == 1800.0
