"""Portal fixtures: logins of each kind, and a real headless Chromium (Debian's) on a live server.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
Without them the browser tests are skipped locally, and fail under CI (CI=true) so that they can
never be skipped silently there. Screenshots of each page go to ``.artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client as DjangoClient

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(settings.BASE_DIR) / ".artifacts" / "screenshots"
WIDE, PHONE = (1280, 900), (390, 844)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def login_user(username: str, *, staff: bool = False):
    return get_user_model().objects.create_user(username=username, password="portal-pass-1", is_staff=staff)


@pytest.fixture(scope="session")
def chromium(django_db_setup) -> Iterator:
    # After django_db_setup, so that the browser (and its kept-alive connections to the live server,
    # each holding a database session) is gone before the test database is dropped.
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Debian's chromium and chromium-driver.")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDE[0]},{WIDE[1]}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Browser:
    """A person at the browser: opens pages, waits for their numbers, reads what is shown."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def login(self, user) -> None:
        client = DjangoClient()
        client.force_login(user)
        self.driver.get(f"{self.base_url}/login/")
        self.driver.delete_all_cookies()
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": cookie})

    def open(self, path: str, params: dict | None = None) -> None:
        self.driver.get(self.base_url + path + (f"?{urlencode(params, doseq=True)}" if params else ""))
        self.wait_ready()

    def wait_ready(self) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 20).until(
            lambda d: d.execute_script("return document.body.dataset.state || 'static'") in ("ready", "error", "static")
        )
        state = self.driver.execute_script("return document.body.dataset.state || 'static'")
        if state == "error":
            raise AssertionError(f"the page shows an error: {self.text('#errors')}")

    def text(self, selector: str) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector).get_attribute("textContent").strip()

    def texts(self, selector: str) -> list[str]:
        from selenium.webdriver.common.by import By

        return [e.get_attribute("textContent").strip() for e in self.driver.find_elements(By.CSS_SELECTOR, selector)]

    def table(self, selector: str) -> list[list[str]]:
        """A table's body as text cells, row by row."""
        from selenium.webdriver.common.by import By

        rows = self.driver.find_elements(By.CSS_SELECTOR, f"{selector} tbody tr")
        return [[c.get_attribute("textContent").strip() for c in row.find_elements(By.TAG_NAME, "td")] for row in rows]

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def navigate(self, action) -> None:
        """Run ``action`` (a click, back...), which loads another page, and wait for that page's numbers."""
        from selenium.webdriver.support.ui import WebDriverWait

        # A mark of this page: the page to come, even one restored from the back-forward cache, has another.
        mark = self.driver.execute_script("return (window.portalMark = Math.random())")
        action()
        WebDriverWait(self.driver, 20).until(lambda d: d.execute_script("return window.portalMark") != mark)
        self.wait_ready()

    def follow(self, selector: str) -> None:
        """Click what loads another page (a link, a submit button) and wait for it."""
        self.navigate(lambda: self.click(selector))

    def back(self) -> None:
        self.navigate(self.driver.back)

    @property
    def query(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qs, urlparse

        return parse_qs(urlparse(self.driver.current_url).query)

    def fetch_text(self, href: str) -> str:
        """What a link gives when followed with this browser's session (a download, read as text)."""
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done, e => done(String(e)));",
            href,
        )

    def screenshots(self, name: str) -> None:
        """Keep the page at 1280 px and at phone width; at phone width nothing may overflow sideways."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}-1280.png"))
        self.driver.set_window_size(*PHONE)
        try:
            overflow = self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            self.driver.save_screenshot(str(SCREENSHOTS / f"{name}-phone.png"))
            assert overflow <= 0, f"{name} overflows a phone-width screen by {overflow} px"
        finally:
            self.driver.set_window_size(*WIDE)


@pytest.fixture
def browser(chromium, live_server) -> Browser:
    chromium.delete_all_cookies()
    chromium.set_window_size(*WIDE)
    chromium.set_script_timeout(20)
    return Browser(chromium, live_server.url)
