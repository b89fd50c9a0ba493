"""Device usage pages in headless Chromium: headline, chart numbers, groups, devices, one device.

Acme has d1@h1 and d2@h1 (used) and d3@h2 (never used). In 2026-03-01..07 (UTC), d1 runs
Mar 2 10:00-12:00 and Mar 5 09:00-10:00 (Ann, Alpha), d2 Mar 2 11:00-11:30 (Bob, Beta); in the
previous 7 days d1 runs Feb 25 10:00-11:00. So the range has 3.5 h, 3 sessions, 2 active devices,
peak 2 (10:00-12:00 and 11:00-11:30 overlap), utilization 3.5 / (3 devices x 168 h) = 0.69 %;
the previous period 1 h, 1, 1, 1, 1 / 504 = 0.20 %.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient
from selenium.webdriver.support.ui import Select, WebDriverWait

from core.models import ApiToken
from tests.portal.conftest import login_user
from tests.usage_helpers import body, make_device, session, utc
from usage.models import Organization, OrganizationMembership, Team, User

pytestmark = pytest.mark.django_db(transaction=True)

WEEK = {"start_date": "2026-03-01", "end_date": "2026-03-07", "timezone": "UTC", "bin_size": "day"}


@pytest.fixture
def acme():
    org = Organization.objects.create(name="Acme")
    alpha = Team.objects.create(organization=org, name="Alpha")
    beta = Team.objects.create(organization=org, name="Beta")
    ann = User.objects.create(organization=org, email="ann@acme.test", name="Ann")
    bob = User.objects.create(organization=org, email="bob@acme.test", name="Bob")
    d1, d2 = make_device(org, "d1@h1.acme.test", model="Pixel 8"), make_device(org, "d2@h1.acme.test")
    d3 = make_device(org, "d3@h2.acme.test")
    session(d1, utc("2026-03-02 10:00"), utc("2026-03-02 12:00"), user=ann, team=alpha)
    session(d2, utc("2026-03-02 11:00"), utc("2026-03-02 11:30"), user=bob, team=beta)
    session(d1, utc("2026-03-05 09:00"), utc("2026-03-05 10:00"), user=ann, team=alpha)
    session(d1, utc("2026-02-25 10:00"), utc("2026-02-25 11:00"), user=ann, team=alpha)
    return {"org": org, "alpha": alpha, "beta": beta, "d1": d1, "d2": d2, "d3": d3}


@pytest.fixture
def member(acme):
    person = login_user("member")
    OrganizationMembership.objects.create(user=person, organization=acme["org"])
    return person


def token_client(person) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user=person)[1]}")
    return api


def headline(browser) -> dict[str, list[str]]:
    keys = ("total_time", "session_count", "device_count", "peak_concurrency", "utilization")
    return {key: browser.texts(f"#figure-{key} dd") for key in keys}


def test_the_usage_page_shows_the_headline_against_the_previous_period(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/usage/", {**WEEK, "grouping": "team"})
    assert browser.text("#previous-label") == "previous 7 days (2026-02-22 to 2026-02-28)"
    assert headline(browser) == {
        "total_time": ["3.50", "▲ +250.0%", "previous: 1.00"],
        "session_count": ["3", "▲ +200.0%", "previous: 1"],
        "device_count": ["2", "▲ +100.0%", "previous: 1"],
        "peak_concurrency": ["2", "▲ +100.0%", "previous: 1"],
        "utilization": ["0.7%", "▲ +250.0%", "previous: 0.2%"],
    }
    assert browser.table("#groups") == [["Alpha", "3.00", "2", "1"], ["Beta", "0.50", "1", "1"]]
    chart = browser.table("#chart-table")
    assert [row[0] for row in chart] == [f"2026-03-0{day} 00:00:00" for day in range(1, 8)]
    assert chart[1] == ["2026-03-02 00:00:00", "2.00", "0.50"]
    assert chart[4] == ["2026-03-05 00:00:00", "1.00", "0.00"]
    assert browser.texts("#chart-table thead th") == ["Bin", "Alpha", "Beta"]
    assert len(browser.texts("#chart canvas")) == 1
    browser.screenshots("usage")

    browser.click('#groups button[data-key="group"]')  # sort by name, ascending first: state in the URL
    assert browser.query["ordering"] == ["group"]
    browser.click('#groups button[data-key="group"]')
    assert browser.query["ordering"] == ["-group"]
    assert [row[0] for row in browser.table("#groups")] == ["Beta", "Alpha"]
    browser.driver.back()  # the same page: its sort state comes back from the URL
    WebDriverWait(browser.driver, 10).until(lambda d: browser.query["ordering"] == ["group"])
    assert [row[0] for row in browser.table("#groups")] == ["Alpha", "Beta"]


def test_changing_the_grouping_and_filters_moves_the_url_and_the_numbers(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/usage/", {**WEEK, "grouping": "team"})
    Select(browser.driver.find_element("id", "grouping")).select_by_value("device")
    browser.follow("#controls button[type=submit]")
    assert browser.query["grouping"] == ["device"]
    assert browser.table("#groups") == [["d1@h1.acme.test", "3.00", "2", "1"], ["d2@h1.acme.test", "0.50", "1", "1"]]

    picker = browser.driver.find_element("id", "filter_team_id")
    WebDriverWait(browser.driver, 10).until(lambda d: len(Select(picker).options) == 2)  # fed by /v2/teams
    assert [o.text for o in Select(picker).options] == ["Alpha", "Beta"]
    Select(picker).select_by_visible_text("Beta")
    browser.follow("#controls button[type=submit]")
    assert browser.query["filter_team_id"] == [str(acme["beta"].pk)]
    assert browser.texts("#figure-total_time dd")[0] == "0.50"
    assert browser.table("#groups") == [["d2@h1.acme.test", "0.50", "1", "1"]]

    browser.back()
    assert "filter_team_id" not in browser.query
    assert browser.texts("#figure-total_time dd")[0] == "3.50"


def test_a_range_preset_fills_the_dates(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/usage/", WEEK)
    today = browser.driver.execute_script("return Portal.today('UTC')")
    browser.navigate(lambda: Select(browser.driver.find_element("id", "preset")).select_by_value("7d"))
    expected_start = browser.driver.execute_script("return Portal.addDays(arguments[0], -6)", today)
    assert (browser.query["start_date"], browser.query["end_date"]) == ([expected_start], [today])


def test_the_csv_downloads_are_the_apis_csv(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/usage/", {**WEEK, "grouping": "team"})
    api = token_client(member)
    for link, params in (
        ("#csv-report", {**WEEK, "unit": "hour", "format": "csv"}),
        ("#csv-groups", {**WEEK, "bin_size": 3153600000, "unit": "hour", "format": "csv"}),
    ):
        href = browser.driver.find_element("css selector", link).get_attribute("href")
        downloaded = browser.fetch_text(href)
        expected = body(api.get(f"/v2/usage/team?{urlencode(params)}"))
        assert downloaded == expected
        assert downloaded.splitlines()[0].startswith("datetime,start_time,end_time,total_time")


def test_the_usage_page_defaults_go_into_the_url(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/usage/")
    query = browser.query
    assert (query["timezone"], query["bin_size"], query["grouping"]) == (["UTC"], ["day"], ["org"])
    assert len(query["start_date"]) == len(query["end_date"]) == 1


def test_the_device_list_shows_last_use_hours_and_utilization(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/devices/", WEEK)
    rows = browser.table("#devices")
    assert [row[0] for row in rows] == ["d1@h1.acme.test", "d2@h1.acme.test", "d3@h2.acme.test"]
    assert [row[6:] for row in rows] == [
        ["2026-03-05 10:00:00", "3.00", "1.8%"],  # 3 h of 168
        ["2026-03-02 11:30:00", "0.50", "0.3%"],
        ["never", "0.00", "0.0%"],
    ]
    assert rows[0][3] == "Pixel 8"
    browser.screenshots("devices")

    browser.open(f"/organizations/{acme['org'].pk}/devices/", {**WEEK, "idle_since": "2026-03-03"})
    assert [row[0] for row in browser.table("#devices")] == ["d2@h1.acme.test", "d3@h2.acme.test"]


def test_the_device_page_shows_its_usage_and_pages_through_its_sessions(browser, acme, member):
    browser.login(member)
    browser.open(f"/organizations/{acme['org'].pk}/devices/", WEEK)
    browser.follow("#devices tbody a")
    assert browser.driver.current_url.split("?")[0].endswith(f"/devices/{acme['d1'].pk}/")
    bins = browser.table("#bins")
    assert bins[1] == ["2026-03-02 00:00:00", "2.00", "1", "8.3%"]
    assert bins[4] == ["2026-03-05 00:00:00", "1.00", "1", "4.2%"]
    assert browser.table("#sessions") == [
        ["2026-03-02 10:00:00", "2026-03-02 12:00:00", "120.0", "ann@acme.test", "Alpha", "no"],
        ["2026-03-05 09:00:00", "2026-03-05 10:00:00", "60.0", "ann@acme.test", "Alpha", "no"],
    ]
    browser.screenshots("device")

    browser.open(f"/organizations/{acme['org'].pk}/devices/{acme['d1'].pk}/", {**WEEK, "limit": 1})
    assert [row[0] for row in browser.table("#sessions")] == ["2026-03-02 10:00:00"]
    browser.follow("#next")
    assert "cursor" in browser.query
    assert [row[0] for row in browser.table("#sessions")] == ["2026-03-05 09:00:00"]
    browser.back()
    assert [row[0] for row in browser.table("#sessions")] == ["2026-03-02 10:00:00"]


def test_a_member_of_another_organization_reads_nothing_through_the_session(browser, acme):
    other = Organization.objects.create(name="Globex")
    stranger = login_user("stranger")
    OrganizationMembership.objects.create(user=stranger, organization=other)
    browser.login(stranger)
    browser.driver.get(f"{browser.base_url}/organizations/{acme['org'].pk}/usage/")
    assert "Not Found" in browser.driver.page_source
    # The API through the same session: the org_id of Acme is refused, the own report is empty.
    answer = browser.fetch_text(f"/v2/usage?{urlencode({**WEEK, 'org_id': acme['org'].pk})}")
    assert '"code":"permission_denied"' in answer.replace(" ", "")
    own = browser.fetch_text(f"/v2/usage?{urlencode(WEEK)}")
    assert '"total_time":0' in own.replace(" ", "") and "3.5" not in own
