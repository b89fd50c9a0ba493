"""The admin's large changelists in real headless Chromium: they fit 1280-1400 px wide screens.

Reuses the portal's Chromium (tests/portal/conftest.py): skipped locally without Debian's chromium
and chromium-driver, failing under CI.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as DjangoClient
from django.urls import reverse

from apps_analytics.models import Application, AppUsageReport, Client, ClientUser
from tests.admin.conftest import START
from tests.portal.conftest import SCREENSHOTS, chromium  # noqa: F401  (the session's browser)
from usage.models import Device, Host, Organization, Team, UsageEvent, User

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = (1280, 1400)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def admin_page(chromium, live_server):  # noqa: F811
    """Open an admin changelist as a logged-in superuser at a given width: how far (px) the page overflows
    the window sideways, and how far the list overflows its own box (Django scrolls it inside, cutting
    the columns on the right off the screen)."""
    admin = get_user_model().objects.create_superuser(username="root", email="root@example.test", password=None)
    client = DjangoClient()
    client.force_login(admin)
    chromium.delete_all_cookies()
    chromium.get(f"{live_server.url}/admin/login/")
    chromium.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value})

    def overflow(path: str, width: int) -> int:
        chromium.set_window_size(width, 900)
        chromium.get(live_server.url + path)
        assert chromium.execute_script("return document.querySelectorAll('#result_list tbody tr').length") > 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        chromium.save_screenshot(str(SCREENSHOTS / f"admin-{path.strip('/').replace('/', '-')}-{width}.png"))
        return chromium.execute_script(
            "const results = document.querySelector('#changelist .results');"
            "return [document.documentElement.scrollWidth - window.innerWidth,"
            " results.scrollWidth - results.clientWidth];"
        )

    yield overflow
    chromium.set_window_size(1280, 900)


def long_names() -> None:
    """Sessions with names as long as real ones get: long emails, hostnames, team and organization names."""
    org = Organization.objects.create(name="Acme Field Services International")
    hosts = [
        Host.objects.create(hostname=f"fra-device-lab-{n:02d}.eu-central.example.net", country="DE") for n in range(3)
    ]
    for n in range(30):
        team = Team.objects.create(organization=org, name=f"Field Operations EMEA {n}")
        user = User.objects.create(
            organization=org, email=f"christopher.montgomery-{n:02d}@acme-field-services.example"
        )
        device = Device.objects.create(organization=org, host=hosts[n % 3], device_id=f"a{n:03d}-galaxy-tab-s9-ultra")
        start = START + timedelta(days=n, hours=n % 12)
        UsageEvent.objects.create(
            organization=org, device=device, user=user, team=team, start_time=start, end_time=start + timedelta(hours=3)
        )
    client = Client.objects.create(name="Initech Global Consulting Services", timezone="Europe/Paris")
    app = Application.objects.create(client=client, name="Microsoft Teams (Enterprise)")
    for n in range(30):
        user = ClientUser.objects.create(
            client=client, email=f"christopher.montgomery-{n:02d}@initech-consulting.example"
        )
        AppUsageReport.objects.create(
            client=client,
            application=app,
            user=user,
            activity_date=date(2026, 8, 1) + timedelta(days=n),
            total_active_ms=12_345_678_901,
            total_session_count=123_456,
        )


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:usage_usageevent_changelist",
        "admin:apps_analytics_appusagereport_changelist",
        "admin:usage_device_changelist",
        "admin:usage_user_changelist",
        "admin:apps_analytics_clientuser_changelist",
    ],
)
def test_the_large_changelists_fit_1280_to_1400_px(admin_page, changelist):
    long_names()
    for width in WIDTHS:
        page, table = admin_page(reverse(changelist), width)
        assert page <= 0 and table <= 0, f"{changelist} overflows at {width} px: page by {page}, list by {table}"
