"""`manage.py demo --no-serve`: loads the demo data, prints a working token and the admin login; run
again it changes nothing (credentials only with --reset-credentials), and it refuses to run beside
another demo of the same database or on a taken port before changing anything.

The real processes (a serving demo, SIGTERM, SIGKILL) are in test_demo_processes.py."""

from __future__ import annotations

import io
import socket
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Q

from apps_analytics.models import Application, AppUsageReport, ClientGrant
from core.management.commands.demo import DEMO_FILE, LOCK_KEY
from core.models import ApiToken, hash_token
from tests.conftest import api_client
from usage.models import Device, Host, Organization, UsageEvent

pytestmark = pytest.mark.django_db


def run_demo(monkeypatch) -> list[str]:
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-123")
    out = io.StringIO()
    call_command("demo", "--no-serve", "--port", "8123", stdout=out)
    return out.getvalue().splitlines()


def db_name() -> str:
    return connection.settings_dict["NAME"]


@contextmanager
def other_connection() -> Iterator:
    """A connection of another process's kind: outside the test's transaction."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("options", None)
    with psycopg.connect(**params, autocommit=True) as other:
        yield other


def file_counts() -> Counter:
    with DEMO_FILE.open("rb") as lines:
        return Counter(orjson.loads(line)["kind"] for line in lines)


def test_demo_loads_the_data_and_prints_a_working_token(monkeypatch):
    lines = run_demo(monkeypatch)
    expected = file_counts()
    assert UsageEvent.objects.count() == expected["usage_event"]
    assert AppUsageReport.objects.count() == expected["app_usage_report"]
    assert "Admin:    http://127.0.0.1:8123/admin/  login 'admin', password demo-pass-123" in lines
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("demo-pass-123")

    raw = lines[-1]
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    first_org = Organization.objects.get(name="Acme Field Services")
    assert token.user.usage_membership.organization == first_org
    assert ClientGrant.objects.filter(user=token.user).count() == 1
    response = api_client(raw).get("/v2/usage?start_date=2026-08-01&end_date=2026-08-31")
    assert response.status_code == 200
    report = orjson.loads(b"".join(response.streaming_content))["report"]
    assert sum(row["total_time"] for row in report) > 0
    response = api_client(raw).get("/v2/ingest")  # authenticated first, then the method is refused
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "GET" not allowed.', "details": {}}
    }


def test_demo_twice_changes_no_data_nor_credentials(monkeypatch, settings):
    first = run_demo(monkeypatch)
    counts = (UsageEvent.objects.count(), AppUsageReport.objects.count(), Device.objects.count())
    admin_hash = get_user_model().objects.get(username="admin").password
    second = run_demo(monkeypatch)
    assert (UsageEvent.objects.count(), AppUsageReport.objects.count(), Device.objects.count()) == counts
    # The same token and password, printed again from the credentials file; the hash is untouched
    # (a new one would log the admin's browser sessions out).
    assert second[-1] == first[-1]
    assert second[-2].startswith(f"API token (unchanged; kept in {settings.DEMO_CREDENTIALS_FILE}, readable only")
    assert "Admin:    http://127.0.0.1:8123/admin/  login 'admin', password demo-pass-123 (unchanged)" in second
    assert get_user_model().objects.get(username="admin").password == admin_hash
    live = ApiToken.objects.active().filter(user__username="demo")
    assert [token.key_hash for token in live] == [hash_token(first[-1])]
    assert api_client(first[-1]).get("/v2/usage?start_date=2026-08-01").status_code == 200


def test_reset_credentials_issues_a_new_token_and_password(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    first = out.getvalue().splitlines()
    [password] = [line.split("password ", 1)[1] for line in first if line.startswith("Admin:")]
    assert get_user_model().objects.get(username="admin").check_password(password)

    out = io.StringIO()
    call_command("demo", "--no-serve", "--reset-credentials", stdout=out)
    second = out.getvalue().splitlines()
    [new_password] = [line.split("password ", 1)[1] for line in second if line.startswith("Admin:")]
    assert new_password != password and second[-1] != first[-1]
    assert second[-2].startswith("API token (new; kept in")
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(new_password) and not admin.check_password(password)
    assert api_client(first[-1]).get("/v2/usage?start_date=2026-08-01").status_code == 401
    assert api_client(second[-1]).get("/v2/usage?start_date=2026-08-01").status_code == 200
    assert [t.key_hash for t in ApiToken.objects.active().filter(user__username="demo")] == [hash_token(second[-1])]


def test_the_credentials_file_is_private_and_per_database(monkeypatch, settings):
    lines = run_demo(monkeypatch)
    path = Path(settings.DEMO_CREDENTIALS_FILE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [entry] = [value for key, value in orjson.loads(path.read_bytes()).items() if key.endswith(f"/{db_name()}")]
    assert entry == {"admin_password": "demo-pass-123", "token": lines[-1]}


def test_unknown_credentials_are_kept_and_said_so(monkeypatch, settings):
    """Another checkout (another credentials file) made them: unchanged, and how to get new ones."""
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("demo", "--no-serve", stdout=io.StringIO())
    admin_hash = get_user_model().objects.get(username="admin").password
    [token] = ApiToken.objects.active().filter(user__username="demo")
    Path(settings.DEMO_CREDENTIALS_FILE).unlink()

    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    lines = out.getvalue().splitlines()
    assert (
        "Admin:    http://127.0.0.1:8000/admin/  login 'admin', password unchanged "
        "(not known to this checkout; --reset-credentials sets a new one)"
    ) in lines
    assert lines[-1] == (
        f"API token: the demo token {token.prefix}… issued {token.created_at:%Y-%m-%d %H:%M} UTC is unchanged. "
        "Only its hash is stored and this checkout does not know its value: "
        "run `manage.py demo --reset-credentials` for a new one."
    )
    assert '  curl -H "Authorization: Bearer <token>" \\' in lines
    assert get_user_model().objects.get(username="admin").password == admin_hash
    assert list(ApiToken.objects.active().filter(user__username="demo")) == [token]


def test_a_second_demo_on_the_database_changes_nothing(monkeypatch):
    """Another process holds the demo's lock (the serving demo does): refused, credentials untouched."""
    first = run_demo(monkeypatch)
    admin_hash = get_user_model().objects.get(username="admin").password
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "another-password")
    with other_connection() as holder:
        holder.execute(
            "SELECT set_config('application_name', 'usage demo serving http://127.0.0.1:8001/, pid 4321', false)"
        )
        holder.execute("SELECT pg_advisory_lock(%s, %s)", LOCK_KEY)
        for args in (["--no-serve"], ["--no-serve", "--reset-credentials"], ["--port", "8002"]):
            out = io.StringIO()
            with pytest.raises(CommandError) as refused:
                call_command("demo", *args, stdout=out)
            assert str(refused.value) == (
                "A demo is already running on this database (serving http://127.0.0.1:8001/, pid 4321). Nothing "
                "was changed: its admin password and API token keep working. Use that one, or stop it first "
                "(Ctrl-C in its terminal, or `kill 4321`)."
            )
            assert out.getvalue() == ""
    assert get_user_model().objects.get(username="admin").password == admin_hash
    assert [t.key_hash for t in ApiToken.objects.active().filter(user__username="demo")] == [hash_token(first[-1])]
    assert run_demo(monkeypatch)[-1] == first[-1]  # the lock is free again once its holder has gone


def test_a_port_in_use_is_refused_before_anything_changes(monkeypatch):
    first = run_demo(monkeypatch)
    admin_hash = get_user_model().objects.get(username="admin").password
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = io.StringIO()
        with pytest.raises(CommandError) as refused:
            call_command("demo", "--port", str(port), "--reset-credentials", stdout=out)
    assert str(refused.value) == (
        f"Port {port} is in use by another program (Address already in use). Nothing was changed; "
        "pick another with --port."
    )
    assert out.getvalue() == ""
    assert get_user_model().objects.get(username="admin").password == admin_hash
    assert [t.key_hash for t in ApiToken.objects.active().filter(user__username="demo")] == [hash_token(first[-1])]


def test_the_demo_data_covers_the_interesting_cases(monkeypatch):
    run_demo(monkeypatch)
    events = UsageEvent.objects
    assert events.filter(user__isnull=True, team__isnull=False, automated=False).exists()  # legacy: team only
    assert events.filter(user__isnull=False, team__isnull=True).exists()  # legacy: user only
    assert events.filter(automated=True).count() > 100
    assert events.filter(end_time__date__gt=F("start_time__date")).count() > 100  # crossing midnight (UTC)
    assert not events.exclude(organization_id=F("device__organization_id")).exists()
    assert Host.objects.values("country").distinct().count() == 5
    assert Device.objects.count() == 30 and Organization.objects.count() == 2
    unused = Application.objects.filter(~Q(usage_reports__isnull=False)).values_list("name", flat=True)
    assert sorted(unused) == ["Legacy Fax", "Old Intranet"]
    assert Application.objects.count() == 12
    days = AppUsageReport.objects.dates("activity_date", "day")
    assert 85 <= (days.last() - days.first()).days <= 89  # about 90 days (weekends are often quiet)
