"""Cached report answers (core.report_cache): a repeated report comes from the cache, and every
write to the data it reads, whatever the path, makes the next answer a fresh one."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from datetime import timedelta

import orjson
import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import versions
from core.interchange import Importer, read_lines
from core.report_cache import _kept
from tests.usage_helpers import body, make_device, session, utc
from usage.models import Device, Host, Organization, Team, UsageEvent, User

pytestmark = pytest.mark.django_db

DAY = {"start_date": "2024-01-01", "end_date": "2024-01-01", "bin_size": "day"}
ROUTES = [
    ("/v2/usage/device", {**DAY, "metrics": "total_time,peak_concurrency,utilization"}),
    ("/v2/usage/team", {**DAY, "format": "csv"}),
    ("/v1/usage/user", {"start_date": "20240101", "end_date": "20240101", "bin_size": "day"}),
]


@pytest.fixture
def acme(org):
    device = make_device(org, "d1@h1.acme.test")
    team = Team.objects.create(organization=org, name="Red")
    ann = User.objects.create(organization=org, email="ann@acme.test")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 11:00"), user=ann, team=team)
    return org


def ask(client, path: str, params: dict) -> tuple[str, str, int]:
    """(Cache-Status, body as text, queries that read sessions) of one request, status 200 asserted."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
        content = body(response)
    assert response.status_code == 200, content
    reads = sum("usage_usageevent" in q["sql"] for q in ctx.captured_queries)
    return response.get("Cache-Status", ""), content if isinstance(content, str) else repr(content), reads


@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_a_repeated_report_is_answered_from_the_cache_without_reading_sessions(api, acme, path, params):
    status, first, reads = ask(api, path, params)
    assert (status, reads) == ("reports; fwd=miss", 1)
    status, again, reads = ask(api, path, params)
    assert (status, again, reads) == ("reports; hit", first, 0)


def _move(org):
    UsageEvent.objects.filter(organization=org).update(end_time=utc("2024-01-01 12:00"))


def _add(org):
    session(Device.objects.get(organization=org), utc("2024-01-01 10:30"), utc("2024-01-01 10:45"))


def _delete(org):
    UsageEvent.objects.filter(organization=org).delete()


def _raw_sql(org):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE usage_usageevent SET start_time = start_time - interval '1 hour' WHERE organization_id = %s",
            [org.pk],
        )


def _rename_device(org):
    Device.objects.filter(organization=org).update(device_id="renamed")


def _rename_host(org):
    Host.objects.update(hostname="elsewhere.acme.test")


def _rename_team(org):
    Team.objects.filter(organization=org).update(name="Blue")


def _change_email(org):
    User.objects.filter(organization=org).update(email="anne@acme.test")


def _drop_user(org):
    User.objects.filter(organization=org).delete()  # its sessions keep no user (SET_NULL)


def _import(org):
    record = {
        "kind": "usage_event",
        "id": "00000000-0000-0000-0000-000000000001",
        "organization": str(org.pk),
        "device": "d1@h1.acme.test",
        "start_time": "2024-01-01T20:00:00Z",
        "end_time": "2024-01-01T21:00:00Z",
        "automated": False,
    }
    Importer().run(read_lines(io.BytesIO(orjson.dumps(record) + b"\n")))


WRITES: list[Callable[[Organization], None]] = [
    _move,
    _add,
    _delete,
    _raw_sql,
    _rename_device,
    _rename_host,
    _rename_team,
    _change_email,
    _drop_user,
    _import,
]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__.strip("_"))
@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_every_write_makes_the_next_answer_fresh(api, acme, write, path, params):
    ask(api, path, params)
    assert ask(api, path, params)[0] == "reports; hit"
    write(acme)
    status, after, reads = ask(api, path, params)
    assert (status, reads) == ("reports; fwd=miss", 1)
    caches["reports"].clear()
    assert ask(api, path, params)[1] == after  # what the data says now, computed without the cache


def test_a_write_to_another_organization_keeps_the_answer(api, acme, other_org):
    path, params = ROUTES[0]
    ask(api, path, params)
    session(make_device(other_org, "x@h1.acme.test"), utc("2024-01-01 10:00"), utc("2024-01-01 11:00"))
    assert ask(api, path, params)[0] == "reports; hit"


def test_another_tenant_asking_the_same_gets_its_own_answer(api, other_api, acme):
    path, params = ROUTES[0]
    ask(api, path, params)
    status, content, reads = ask(other_api, path, params)
    assert (status, reads) == ("reports; fwd=miss", 1)
    assert "d1@h1.acme.test" not in content


def test_a_new_release_makes_every_answer_fresh(api, acme):
    path, params = ROUTES[0]
    ask(api, path, params)
    versions.new_release()  # as every migrate does
    assert ask(api, path, params)[0] == "reports; fwd=miss"


def test_an_answer_larger_than_the_limit_is_not_kept(api, acme, settings):
    settings.REPORT_CACHE_MAX_BYTES = 100
    path, params = ROUTES[0]
    ask(api, path, params)
    assert ask(api, path, params)[0] == "reports; fwd=miss"


def test_a_stream_that_fails_midway_keeps_nothing():
    kept = []

    def chunks():
        yield b"[{"
        raise RuntimeError("the database went away")

    stream = _kept(chunks(), kept.append, 1000)
    assert next(stream) == b"[{"
    with pytest.raises(RuntimeError):
        next(stream)
    assert kept == []
    assert list(_kept(iter([b"a", b"b"]), kept.append, 1000)) == [b"a", b"b"]
    assert [gzip.decompress(k) for k in kept] == [b"ab"]


def test_a_hit_goes_out_compressed_to_clients_that_accept_it(api, acme):
    path, params = ROUTES[0]
    _, plain, _ = ask(api, path, params)
    response = api.get(path, params, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert (response["Cache-Status"], response["Content-Encoding"]) == ("reports; hit", "gzip")
    assert repr(orjson.loads(gzip.decompress(response.content))) == plain


def test_errors_are_not_cached(api, acme):
    params = {**DAY, "bin_size": "fortnight"}
    assert api.get("/v2/usage", params).status_code == 400
    assert "Cache-Status" not in api.get("/v2/usage", params)


def test_the_database_cache_table_serves_answers(api, acme, settings):
    settings.CACHES = {
        **settings.CACHES,
        "reports": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "core_report_cache"},
    }
    call_command("createcachetable", verbosity=0)
    path, params = ROUTES[1]
    _, first, _ = ask(api, path, params)
    assert ask(api, path, params)[:2] == ("reports; hit", first)


def test_app_analytics_answers_follow_their_client_data(db):
    from apps_analytics.models import Application, AppUsageReport, ClientUser
    from core.models import Client
    from tests.apps_analytics.conftest import token_for
    from tests.conftest import api_client

    client = Client.objects.create(name="Initech", timezone="UTC")
    app = Application.objects.create(client=client, name="Mail")
    person = ClientUser.objects.create(client=client, email="bob@initech.test")
    reader = api_client(token_for("reader", client))
    url = f"/v2/clients/{client.pk}/analytics/apps/{app.pk}/utilization"
    params = {"granularity": "monthly", "start_date": "2026-03-01", "end_date": "2026-03-31"}

    def sessions() -> int:
        response = reader.get(url, params)
        assert response.status_code == 200
        return response.json()["session_count"]["value"]

    assert sessions() == 0
    AppUsageReport.objects.create(
        client=client,
        application=app,
        user=person,
        activity_date="2026-03-02",
        total_active_ms=1000,
        total_session_count=3,
    )
    assert sessions() == 3
    client.timezone = "Pacific/Kiritimati"  # the client's days move: a new version of its data too
    client.save()
    assert versions.current([f"client:{client.pk}"])[0] > 0
    assert sessions() == 3


def test_the_sessions_table_versions_come_from_a_sequence(org):
    device = make_device(org, "d1@h1.acme.test")
    session(device, utc("2024-01-01 10:00"), utc("2024-01-01 10:00") + timedelta(hours=1))
    (first,) = versions.current([f"organization:{org.pk}"])
    session(device, utc("2024-01-02 10:00"), utc("2024-01-02 11:00"))
    (second,) = versions.current([f"organization:{org.pk}"])
    assert 0 < first < second


def test_a_cached_value_of_another_format_is_a_miss(api, acme, monkeypatch):
    path, params = ROUTES[0]
    _, plain, _ = ask(api, path, params)
    cache = caches["reports"]
    monkeypatch.setattr(cache, "get", lambda key, default=None: ("headers", b"an older release's value"))
    assert ask(api, path, params)[:2] == ("reports; fwd=miss", plain)


def test_redis_serves_answers_when_configured(api, acme, settings):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    settings.CACHES = {
        **settings.CACHES,
        "reports": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"tests-{acme.pk}",
        },
    }
    path, params = ROUTES[0]
    _, first, _ = ask(api, path, params)
    assert ask(api, path, params)[:2] == ("reports; hit", first)


def test_a_range_without_end_date_runs_to_now_and_is_not_served_once_now_has_moved(api, acme, monkeypatch):
    from django.utils import timezone as django_timezone

    params = {"start_date": "2024-01-01", "bin_size": "hour"}
    monkeypatch.setattr(django_timezone, "now", lambda: utc("2024-01-01 12:00"))
    status, _, _ = ask(api, "/v2/usage", params)
    assert status == "reports; fwd=miss" and len(orjson.loads(api.get("/v2/usage", params).content)["report"]) == 12
    monkeypatch.setattr(django_timezone, "now", lambda: utc("2024-01-03 12:00"))
    response = api.get("/v2/usage", params)
    assert response["Cache-Status"] == "reports; fwd=miss"
    assert len(orjson.loads(b"".join(response.streaming_content))["report"]) == 60


def test_writers_of_one_tenant_do_not_wait_for_each_others_commit(acme):
    """A new version is a new row: a second writer raising the same tenant's version while the
    first has not committed does not wait for it (the first holds its transaction open here)."""
    import psycopg

    session(Device.objects.get(organization=acme), utc("2024-01-01 12:00"), utc("2024-01-01 13:00"))
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        autocommit=True,
    )
    with other:
        other.execute("SET lock_timeout = '2s'")
        other.execute("SELECT core_data_versions_raise(%s)", [[f"organization:{acme.pk}", "usage"]])


def test_a_table_made_again_gets_its_triggers_again(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_tracked (organization_id uuid)")
        versions.track(table="scratch_tracked", tenant="organization", column="organization_id", area="usage")
        cursor.execute("DROP TABLE scratch_tracked")
        cursor.execute("CREATE TABLE scratch_tracked (organization_id uuid)")
        versions.track(table="scratch_tracked", tenant="organization", column="organization_id", area="usage")
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'scratch_tracked'::regclass")
        assert cursor.fetchone() == (4,)
        cursor.execute("DROP TABLE scratch_tracked")
        versions.track(table="scratch_tracked", area="usage")  # a table that is gone: nothing, no error


def test_a_cache_out_of_reach_answers_without_it(api, acme, settings):
    pytest.importorskip("redis")
    nowhere = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {"default": nowhere, "reports": nowhere}  # rate-limit counts too
    path, params = ROUTES[1]
    for _ in range(2):
        status, content, reads = ask(api, path, params)
        assert (status, reads) == ("reports; fwd=miss", 1)
    assert "Red" in content
    response = api.get("/v2/clients/00000000-0000-0000-0000-000000000000/analytics/apps/utilization")
    assert response.status_code == 404  # app analytics (cached_data) too: an answer, not a 500


@pytest.mark.parametrize(
    ("accept", "compressed"), [("gzip", True), ("br, gzip;q=0.5", True), ("gzip;q=0", False), ("identity", False)]
)
def test_a_hit_is_compressed_only_for_clients_that_accept_gzip(api, acme, accept, compressed):
    path, params = ROUTES[0]
    _, plain, _ = ask(api, path, params)
    response = api.get(path, params, HTTP_ACCEPT_ENCODING=accept)
    assert response["Cache-Status"] == "reports; hit"
    assert (response.get("Content-Encoding") == "gzip") is compressed
    content = gzip.decompress(response.content) if compressed else response.content
    assert repr(orjson.loads(content)) == plain
