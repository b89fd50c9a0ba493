"""The reports' summaries (apps_analytics.rollup) equal what they summarize, after every write path.

Each summary is compared with the same figures computed from the report rows: per (client, app,
day) the rows, active milliseconds and sessions; per (client, app, user, year) the days with a
row, as the sum of 2^(day of the year - 1); per (client, app, user, month) the active
milliseconds, sessions and days with a row, as the sum of 2^(day of the month - 1). Generated
sequences of writes go through every path: the ORM (one row, many rows, updates of values and of
keys, deletes), cascades from an app, a user or a client, imports (new rows through COPY, existing
ones through the upsert), raw SQL, TRUNCATE and rolled back transactions.
"""

from __future__ import annotations

import io
import tempfile
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps_analytics import rollup
from apps_analytics.models import Application, AppUsageReport, Client, ClientUser
from tests.apps_analytics.conftest import report, token_for, user
from tests.conftest import api_client
from tests.interchange.conftest import jsonl

# The days cross a year and a month: two rows per (app, user) in each per-user summary.
FIRST_DAY = date(2025, 12, 20)
DAYS = 20


def summarized() -> tuple[set[tuple], set[tuple], set[tuple]]:
    """The summaries' values per key (keys whose rows add up to nothing left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT client_id, application_id, activity_date, sum(reports), sum(active_ms), sum(sessions)"
            f" FROM {rollup.DAYS} GROUP BY 1, 2, 3"
            f" HAVING sum(reports) <> 0 OR sum(active_ms) <> 0 OR sum(sessions) <> 0"
        )
        days = {tuple(row) for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT client_id, application_id, user_id, year, sum(days) FROM {rollup.USER_YEARS}"
            f" GROUP BY 1, 2, 3, 4 HAVING sum(days) <> 0"
        )
        user_years = {tuple(row) for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT client_id, application_id, user_id, month, sum(active_ms), sum(sessions), sum(days)"
            f" FROM {rollup.USER_MONTHS} GROUP BY 1, 2, 3, 4"
            f" HAVING sum(days) <> 0 OR sum(active_ms) <> 0 OR sum(sessions) <> 0"
        )
        user_months = {tuple(row) for row in cursor.fetchall()}
    return days, user_years, user_months


def expected() -> tuple[set[tuple], set[tuple], set[tuple]]:
    """The same figures from the report rows, computed here in Python."""
    days: dict[tuple, list[int]] = {}
    user_years: dict[tuple, int] = {}
    user_months: dict[tuple, list[int]] = {}
    for row in AppUsageReport.objects.values_list(
        "client_id", "application_id", "user_id", "activity_date", "total_active_ms", "total_session_count"
    ):
        client_id, app_id, user_id, day, active_ms, sessions = row
        totals = days.setdefault((client_id, app_id, day), [0, 0, 0])
        totals[0] += 1
        totals[1] += active_ms
        totals[2] += sessions
        key = (client_id, app_id, user_id, day.year)
        user_years[key] = user_years.get(key, 0) + 2 ** (day.timetuple().tm_yday - 1)
        month = user_months.setdefault((client_id, app_id, user_id, day.replace(day=1)), [0, 0, 0])
        month[0] += active_ms
        month[1] += sessions
        month[2] += 2 ** (day.day - 1)
    return (
        {(*key, reports, active_ms, sessions) for key, (reports, active_ms, sessions) in days.items()},
        {(*key, bits) for key, bits in user_years.items()},
        {(*key, active_ms, sessions, bits) for key, (active_ms, sessions, bits) in user_months.items()},
    )


def assert_summaries_hold() -> None:
    days, user_years, user_months = summarized()
    expected_days, expected_user_years, expected_user_months = expected()
    assert days == expected_days
    assert user_years == expected_user_years
    assert user_months == expected_user_months


@pytest.fixture
def world(db):
    """Two clients; Acme with two apps and three users, Globex with one of each (never deleted: see the test)."""
    acme = Client.objects.create(name="Acme", timezone="Europe/Paris")
    globex = Client.objects.create(name="Globex", timezone="America/New_York")
    return {
        "apps": [Application.objects.create(client=acme, name=name) for name in ("Figma", "Slack")]
        + [Application.objects.create(client=globex, name="Word")],
        "users": [user(acme, f"u{n}@acme.test") for n in range(3)] + [user(globex, "g@globex.test")],
    }


def pairs(world) -> list[tuple[Application, ClientUser]]:
    return [(app, person) for app in world["apps"] for person in world["users"] if app.client_id == person.client_id]


def day_of(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset)


def values(seed: int) -> tuple[int, int]:
    return (seed * 7919) % 5_000_000, seed % 17


# One write of a generated sequence: (path, pair index, day offset, seed).
write_strategy = st.tuples(
    st.sampled_from(
        [
            "create",
            "bulk_create",
            "update_values",
            "move_day",
            "move_app",
            "delete",
            "delete_app",
            "delete_user",
            "import",
            "raw_upsert",
            "rolled_back",
            "truncate",
        ]
    ),
    st.integers(0, 6),
    st.integers(0, DAYS - 1),
    st.integers(0, 10_000),
)


def apply(world, path: str, index: int, offset: int, seed: int) -> None:
    candidates = pairs(world)
    app, person = candidates[index % len(candidates)]
    rows = AppUsageReport.objects.filter(application=app, user=person)
    active_ms, sessions = values(seed)
    if path == "create":
        if not rows.filter(activity_date=day_of(offset)).exists():
            report(app, person, day_of(offset).isoformat(), active_ms, sessions)
    elif path == "bulk_create":
        AppUsageReport.objects.bulk_create(
            [
                AppUsageReport(
                    client_id=app.client_id,
                    application=app,
                    user=person,
                    activity_date=day_of(day),
                    total_active_ms=active_ms + day,
                    total_session_count=sessions,
                )
                for day in range(offset, min(offset + 4, DAYS))
            ],
            ignore_conflicts=True,
        )
    elif path == "update_values":
        rows.filter(activity_date__gte=day_of(offset)).update(total_active_ms=active_ms, total_session_count=sessions)
    elif path == "move_day":
        # Every row of the pair one day later, in one statement (the last day's row would collide: left out).
        moving = rows.filter(activity_date__lt=day_of(DAYS - 1)).order_by("-activity_date")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AppUsageReport._meta.db_table} r SET activity_date = r.activity_date + 1"
                f" WHERE r.id = ANY(%s) AND NOT EXISTS (SELECT FROM {AppUsageReport._meta.db_table} o"
                f" WHERE o.application_id = r.application_id AND o.user_id = r.user_id"
                f" AND o.activity_date = r.activity_date + 1)",
                [list(moving.values_list("id", flat=True)[:1])],
            )
    elif path == "move_app":
        others = [other for other in world["apps"] if other.client_id == app.client_id and other != app]
        if others:
            taken = AppUsageReport.objects.filter(application=others[0], user=person).values("activity_date")
            rows.filter(activity_date__gte=day_of(offset)).exclude(activity_date__in=taken).update(
                application=others[0]
            )
    elif path == "delete":
        rows.filter(activity_date__lte=day_of(offset)).delete()
    elif path == "delete_app":
        # The app goes with its reports (Django's cascade) and comes back under the same name, empty.
        world["apps"][world["apps"].index(app)] = Application.objects.create(client_id=app.client_id, name=app.name)
        app.delete()
    elif path == "delete_user":
        world["users"][world["users"].index(person)] = user(person.client, f"{seed}-{person.email}")
        person.delete()
    elif path == "import":
        records = [
            {
                "kind": "app_usage_report",
                "client": str(app.client_id),
                "application": str(app.id),
                "user": str(person.id),
                "activity_date": day_of(day).isoformat(),
                "total_active_ms": active_ms + day,
                "total_session_count": sessions,
            }
            for day in range(max(0, offset - 2), min(offset + 2, DAYS))
        ]
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "reports.jsonl"
            file.write_bytes(jsonl(records))
            call_command("import_usage", str(file), stdout=io.StringIO())
    elif path == "raw_upsert":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AppUsageReport._meta.db_table}"
                " (client_id, application_id, user_id, activity_date, total_active_ms, total_session_count)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (application_id, user_id, activity_date)"
                " DO UPDATE SET total_active_ms = excluded.total_active_ms + 1",
                [app.client_id, app.id, person.id, day_of(offset), active_ms, sessions],
            )
    elif path == "rolled_back":
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.update(total_active_ms=active_ms)
            report(app, person, day_of(offset).isoformat(), -1, sessions)  # refused: negative
    elif path == "truncate":
        with connection.cursor() as cursor:
            # The foreign keys' checks of this transaction's rows run first (TRUNCATE refuses pending ones).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {AppUsageReport._meta.db_table}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(write_strategy, max_size=12))
def test_the_summaries_equal_the_reports_after_any_writes(world, writes):
    # Fresh instances each example (a deleted instance loses its pk, though the rollback keeps its row).
    current = {
        "apps": [Application.objects.get(pk=app.pk) for app in world["apps"]],
        "users": [ClientUser.objects.get(pk=person.pk) for person in world["users"]],
    }
    with transaction.atomic():  # each example starts from the fixture's state
        for write in writes:
            apply(current, *write)
            assert_summaries_hold()
        transaction.set_rollback(True)


def test_a_write_to_a_kept_key_merges_into_one_row(world):
    """Delta rows are merged by the next write of their key: a day of an app stays about one row."""
    app, person = world["apps"][0], world["users"][0]
    for n in range(5):
        report(app, world["users"][n % 3], "2026-01-0" + str(n + 1), 1000, 1)
        AppUsageReport.objects.filter(application=app, user=person).update(total_active_ms=2000 + n)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(DISTINCT (application_id, activity_date)) FROM {rollup.DAYS}")
        assert cursor.fetchone() == (5, 5)
        cursor.execute(f"SELECT count(*), count(DISTINCT (application_id, user_id, year)) FROM {rollup.USER_YEARS}")
        assert cursor.fetchone() == (3, 3)
        cursor.execute(f"SELECT count(*), count(DISTINCT (application_id, user_id, month)) FROM {rollup.USER_MONTHS}")
        assert cursor.fetchone() == (3, 3)
    assert_summaries_hold()


def test_reinstalling_rebuilds_the_summaries_from_the_reports(world):
    """Rows written before the triggers existed (or summaries gone wrong) are counted when they are installed."""
    app, person = world["apps"][0], world["users"][0]
    report(app, person, "2026-01-01", 1000, 1)
    report(app, person, "2026-03-01", 3000, 3)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {rollup.DAYS}")
        cursor.execute(f"DELETE FROM {rollup.USER_MONTHS}")
        cursor.execute("DELETE FROM core_installed WHERE name = 'apps_analytics.rollup'")
    rollup.install()
    assert_summaries_hold()
    assert summarized()[0] == {
        (app.client_id, app.id, date(2026, 1, 1), 1, 1000, 1),
        (app.client_id, app.id, date(2026, 3, 1), 1, 3000, 3),
    }


@pytest.mark.django_db(transaction=True)
def test_writers_of_the_same_app_day_do_not_wait_for_each_other():
    """A transaction holding a day of an app (an import, say) does not block another writer of it."""
    acme = Client.objects.create(name="Acme", timezone="Europe/Paris")
    app = Application.objects.create(client=acme, name="Figma")
    ann, bob = user(acme, "ann@acme.test"), user(acme, "bob@acme.test")
    report(app, ann, "2026-01-01", 1000, 1)
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    )
    try:
        with other.cursor() as cursor:  # a transaction left open: its summary rows stay uncommitted
            cursor.execute(
                f"INSERT INTO {AppUsageReport._meta.db_table}"
                " (client_id, application_id, user_id, activity_date, total_active_ms, total_session_count)"
                " VALUES (%s, %s, %s, '2026-01-01', 500, 5)",
                [acme.id, app.id, bob.id],
            )
            cursor.execute(
                f"UPDATE {AppUsageReport._meta.db_table} SET total_active_ms = 1500 WHERE user_id = %s", [ann.id]
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            carl = user(acme, "carl@acme.test")
            report(app, carl, "2026-01-01", 200, 2)  # same app and day: would time out if it waited
    except Exception:
        other.rollback()
        raise
    finally:
        other.commit()
        other.close()
    assert_summaries_hold()
    reader = api_client(token_for("reader", acme))
    response = reader.get(
        f"/v2/clients/{acme.id}/analytics/apps/{app.id}/utilization",
        {"granularity": "daily", "start_date": "2026-01-01", "end_date": "2026-01-01"},
    )
    assert response.status_code == 200
    assert {name: response.json()[name]["value"] for name in ("unique_users", "active_time_ms", "session_count")} == {
        "unique_users": 3,
        "active_time_ms": 1500 + 500 + 200,
        "session_count": 1 + 5 + 2,
    }


def test_the_distinct_users_of_every_period_around_a_leap_years_end(world):
    """Each user's active days are bits of one number a year: periods that start or end at a year's
    edge, or on its 366th day, count exactly the users with a day in them."""
    app = world["apps"][0]
    ann, bob, cid = world["users"][:3]
    active = {
        ann: [date(2024, 12, 30)],
        bob: [date(2024, 12, 31), date(2025, 1, 2)],  # 2024-12-31 is the 366th day: the year's last bit
        cid: [date(2024, 12, 24), date(2025, 1, 5)],  # just outside the window
    }
    for person, days in active.items():
        for day in days:
            report(app, person, day.isoformat(), 1000, 1)
    reader = api_client(token_for("reader", app.client))
    window = [date(2024, 12, 28) + timedelta(days=n) for n in range(8)]  # Dec 28 to Jan 4
    for start in window:
        for end in (day for day in window if day >= start):
            response = reader.get(
                f"/v2/clients/{app.client_id}/analytics/apps/{app.id}/utilization",
                {"granularity": "monthly", "start_date": start.isoformat(), "end_date": end.isoformat()},
            )
            expected_users = sum(1 for days in active.values() if any(start <= day <= end for day in days))
            assert response.status_code == 200
            assert response.json()["unique_users"]["value"] == expected_users, (start, end)
