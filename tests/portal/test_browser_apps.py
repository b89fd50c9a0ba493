"""App analytics pages in headless Chromium: the numbers a person reads, worked out by hand."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps_analytics.models import Application, Client, ClientGrant
from core.models import ApiToken
from tests.apps_analytics.conftest import report, user
from tests.portal.conftest import login_user

pytestmark = pytest.mark.django_db(transaction=True)

MARCH = {
    "start_date": "2026-03-01",
    "end_date": "2026-03-31",
    "compare_start_date": "2026-02-01",
    "compare_end_date": "2026-02-28",
    "granularity": "daily",
}
HOUR = 3_600_000


@pytest.fixture
def initech():
    """Figma: Ana 1 h (2 sessions) and Bo 0.5 h (1) on Mar 2, Ana 2 h (3) on Mar 5; Ana 1 h (1) on Feb 10.

    March: 2 users, 3.5 h, per active day (5.4M + 7.2M ms) / 2 = 6.3M ms = 105 min, 6 sessions.
    February: 1 user, 1 h, 60 min a day, 1 session. Zoom: nobody.
    """
    client = Client.objects.create(name="Initech", timezone="UTC")
    figma = Application.objects.create(client=client, name="Figma")
    zoom = Application.objects.create(client=client, name="Zoom")
    ana, bo = user(client, "ana@initech.test"), user(client, "bo@initech.test")
    report(figma, ana, "2026-03-02", HOUR, 2)
    report(figma, bo, "2026-03-02", HOUR // 2, 1)
    report(figma, ana, "2026-03-05", 2 * HOUR, 3)
    report(figma, ana, "2026-02-10", HOUR, 1)
    return {"client": client, "figma": figma, "zoom": zoom}


@pytest.fixture
def granted(initech):
    person = login_user("grantee")
    ClientGrant.objects.create(user=person, client=initech["client"])
    return person


def test_the_app_page_shows_seed_001s_cards_the_activity_and_the_users(browser, initech, granted):
    browser.login(granted)
    browser.open(f"/clients/{initech['client'].pk}/apps/{initech['figma'].pk}/", MARCH)
    cards = {
        key: browser.texts(f"#card-{key} dd")
        for key in ("unique_users", "active_time_ms", "avg_time_ms_per_day", "session_count")
    }
    assert cards == {
        "unique_users": ["2", "▲ +100.0%", "compared: 1"],
        "active_time_ms": ["3.50 h", "▲ +250.0%", "compared: 1.00 h"],
        "avg_time_ms_per_day": ["105.0 min", "▲ +75.0%", "compared: 60.0 min"],
        "session_count": ["6", "▲ +500.0%", "compared: 1"],
    }
    activity = browser.table("#activity")
    assert len(activity) == 31
    assert activity[1] == ["2026-03-02", "2", "1.50", "3"]
    assert activity[4] == ["2026-03-05", "1", "2.00", "3"]
    assert sum(row[1:] != ["0", "0.00", "0"] for row in activity) == 2
    assert len(browser.texts(".chart canvas")) == 3  # the three App Activity charts are drawn
    assert browser.table("#users") == [
        ["ana@initech.test", "3.00", "5", "2", "2026-03-02", "2026-03-05"],
        ["bo@initech.test", "0.50", "1", "1", "2026-03-02", "2026-03-02"],
    ]
    browser.screenshots("app")

    browser.follow('#users button[data-key="email"]')  # a text column sorts ascending first
    assert browser.query["ordering"] == ["email"]
    assert [row[0] for row in browser.table("#users")] == ["ana@initech.test", "bo@initech.test"]
    browser.follow('#users button[data-key="email"]')
    assert browser.query["ordering"] == ["-email"]
    assert [row[0] for row in browser.table("#users")] == ["bo@initech.test", "ana@initech.test"]
    browser.back()
    assert browser.query["ordering"] == ["email"]
    assert [row[0] for row in browser.table("#users")] == ["ana@initech.test", "bo@initech.test"]


def test_the_app_list_shows_every_app_with_its_change_and_sorts(browser, initech, granted):
    browser.login(granted)
    browser.open(f"/clients/{initech['client'].pk}/apps/", MARCH)
    assert browser.table("#apps") == [
        [
            "Figma",
            "2 (▲ +100.0%, was 1)",
            "3.50 h (▲ +250.0%, was 1.00 h)",
            "105.0 min (▲ +75.0%, was 60.0 min)",
            "6 (▲ +500.0%, was 1)",
        ],
        ["Zoom", "0 (—, was 0)", "0.00 h (—, was 0.00 h)", "0.0 min (—, was 0.0 min)", "0 (—, was 0)"],
    ]
    assert browser.text("#summary") == "2 apps; showing 1 to 2."
    browser.screenshots("apps")

    browser.follow('#apps button[data-key="session_count"]')  # a number column sorts descending first
    assert browser.query["ordering"] == ["-session_count"]
    assert [row[0] for row in browser.table("#apps")] == ["Figma", "Zoom"]
    browser.follow('#apps button[data-key="session_count"]')
    assert [row[0] for row in browser.table("#apps")] == ["Zoom", "Figma"]

    browser.follow("#apps tbody a")  # Zoom's page, with the same periods
    zoom_page = f"/clients/{initech['client'].pk}/apps/{initech['zoom'].pk}/"
    assert browser.driver.current_url.split("?")[0].endswith(zoom_page)
    assert browser.query["start_date"] == ["2026-03-01"] and browser.query["compare_end_date"] == ["2026-02-28"]
    assert browser.texts("#card-session_count dd") == ["0", "—", "compared: 0"]


def test_the_app_list_pages_through_the_apps(browser, initech, granted):
    for name in ("Asana", "Basecamp", "Slack"):
        Application.objects.create(client=initech["client"], name=name)
    browser.login(granted)
    browser.open(f"/clients/{initech['client'].pk}/apps/", {**MARCH, "limit": 2})
    assert [row[0] for row in browser.table("#apps")] == ["Asana", "Basecamp"]
    browser.follow("#next")
    assert browser.query["offset"] == ["2"]
    assert [row[0] for row in browser.table("#apps")] == ["Figma", "Slack"]
    assert browser.text("#summary") == "5 apps; showing 3 to 4."


def test_the_page_numbers_are_the_apis_numbers(browser, initech, granted):
    """The cards equal the detail endpoint's answer, read with a token of the same user."""
    browser.login(granted)
    path = f"/clients/{initech['client'].pk}/apps/{initech['figma'].pk}/"
    browser.open(path, MARCH)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user=granted)[1]}")
    detail = api.get(
        f"/v2/clients/{initech['client'].pk}/analytics/apps/{initech['figma'].pk}/utilization", MARCH
    ).json()
    assert browser.text("#card-session_count .value") == str(detail["session_count"]["value"])
    assert browser.text("#card-unique_users .value") == str(detail["unique_users"]["value"])


def test_a_period_chosen_in_the_form_goes_into_the_url(browser, initech, granted):
    browser.login(granted)
    browser.open(f"/clients/{initech['client'].pk}/apps/{initech['figma'].pk}/", MARCH)
    form = browser.driver.find_element("id", "start_date")
    browser.driver.execute_script("arguments[0].value = '2026-03-05'", form)
    browser.follow("#controls button[type=submit]")
    assert browser.query["start_date"] == ["2026-03-05"]
    assert browser.texts("#card-session_count dd")[0] == "3"


def test_a_login_without_a_grant_gets_404_on_the_page(browser, initech):
    browser.login(login_user("stranger"))
    browser.driver.get(f"{browser.base_url}/clients/{initech['client'].pk}/apps/")
    assert "Not Found" in browser.driver.page_source
