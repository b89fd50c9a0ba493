"""Time portal pages as a person waits for them: from navigation until the numbers are drawn.

    python manage.py bench_portal                                   # the demo data (manage.py demo)
    python manage.py bench_portal --database usage_bench            # bench_reports' generated sessions

Serves the project in this process (a threaded live server on a free loopback port, static files
included) against the configured server's database ``--database`` (default: the configured one),
logs a staff user in, and opens each page of the first organization (and client) in Debian's
headless Chromium. A page's time is ``performance.now()`` when its data is drawn (the page marks
it), so it includes loading the page, its scripts and every API call it makes. Median of --repeat.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.testcases import LiveServerThread

from apps_analytics.models import AppUsageReport
from usage.models import Organization, UsageEvent

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


class Command(BaseCommand):
    help = "Time the portal's pages in headless Chromium (navigation until the numbers are drawn)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default="", help="Database on the configured server (default: configured).")
        parser.add_argument("--repeat", type=int, default=5, help="Loads per page (the median is shown).")
        parser.add_argument("--month", default="", help="YYYY-MM of the month pages show (default: the latest).")

    def handle(self, *args, database: str, repeat: int, month: str, **options) -> None:
        if database:
            connection.close()
            connection.settings_dict["NAME"] = database
        organization = Organization.objects.order_by("name").first()
        if organization is None:
            raise CommandError("No organization: run `manage.py demo --no-serve` or `manage.py bench_reports` first.")
        last = UsageEvent.objects.filter(organization=organization).order_by("-start_time").first()
        first_day = date.fromisoformat(f"{month}-01") if month else (last.start_time.date().replace(day=1))
        last_day = (first_day + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        period = {"start_date": first_day.isoformat(), "end_date": last_day.isoformat()}
        usage = {**period, "timezone": "UTC", "bin_size": "day"}
        pages = [
            ("home", "/", {}),
            ("usage, month, org", f"/organizations/{organization.pk}/usage/", {**usage, "grouping": "org"}),
            ("usage, month, device", f"/organizations/{organization.pk}/usage/", {**usage, "grouping": "device"}),
            ("usage, month, team", f"/organizations/{organization.pk}/usage/", {**usage, "grouping": "team"}),
            ("devices, month", f"/organizations/{organization.pk}/devices/", usage),
        ]
        report = AppUsageReport.objects.order_by("-activity_date").select_related("client").first()
        if report is not None:
            days = {
                "start_date": (report.activity_date - timedelta(days=29)).isoformat(),
                "end_date": report.activity_date.isoformat(),
                "granularity": "daily",
            }
            pages += [
                ("apps, 30 days", f"/clients/{report.client_id}/apps/", days),
                ("app, 30 days", f"/clients/{report.client_id}/apps/{report.application_id}/", days),
            ]

        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        driver = self.browser()
        try:
            base = f"http://127.0.0.1:{server.port}"
            self.log_in(driver, base)
            self.stdout.write(f"{'page':28} {'median ms':>10} {'runs ms':>24}")
            for label, path, params in pages:
                times = [self.load(driver, f"{base}{path}?{urlencode(params)}") for _ in range(repeat)]
                self.stdout.write(f"{label:28} {statistics.median(times):>10.0f} {' '.join(map(str, times)):>24}")
        finally:
            driver.quit()
            server.terminate()

    @staticmethod
    def browser():
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
            options.add_argument(argument)
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    @staticmethod
    def log_in(driver, base: str) -> None:
        user, _ = get_user_model().objects.get_or_create(username="bench-portal", defaults={"is_staff": True})
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        driver.get(f"{base}/login/")
        driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session.session_key})

    @staticmethod
    def load(driver, url: str) -> int:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(url)
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.body.dataset.state || 'static'") in ("ready", "error", "static")
        )
        state, ready = driver.execute_script(
            "return [document.body.dataset.state || 'static', document.body.dataset.readyMs"
            " || String(Math.round(performance.timing.domContentLoadedEventEnd - performance.timing.navigationStart))]"
        )
        if state == "error":
            raise CommandError(f"{url}: {driver.find_element('id', 'errors').text}")
        return int(ready)
