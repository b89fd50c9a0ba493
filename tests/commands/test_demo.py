"""`manage.py demo --no-serve`: loads the demo data, prints a working token and the admin login."""

from __future__ import annotations

import io
from collections import Counter

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F, Q

from apps_analytics.models import Application, AppUsageReport, ClientGrant
from core.management.commands.demo import DEMO_FILE
from core.models import ApiToken, hash_token
from tests.conftest import api_client
from usage.models import Device, Host, Organization, UsageEvent

pytestmark = pytest.mark.django_db


def run_demo(monkeypatch) -> list[str]:
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-123")
    out = io.StringIO()
    call_command("demo", "--no-serve", "--port", "8123", stdout=out)
    return out.getvalue().splitlines()


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


def test_demo_twice_changes_no_data_and_keeps_one_live_token(monkeypatch):
    run_demo(monkeypatch)
    counts = (UsageEvent.objects.count(), AppUsageReport.objects.count(), Device.objects.count())
    first = run_demo(monkeypatch)[-1]
    second = run_demo(monkeypatch)[-1]
    assert (UsageEvent.objects.count(), AppUsageReport.objects.count(), Device.objects.count()) == counts
    live = ApiToken.objects.active().filter(user__username="demo")
    assert [token.key_hash for token in live] == [hash_token(second)]
    assert api_client(first).get("/v2/usage?start_date=2026-08-01").status_code == 401


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
