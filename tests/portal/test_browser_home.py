"""Logging in as a person does: the root sends a visitor to the login page, which leads home."""

from __future__ import annotations

import pytest

from apps_analytics.models import Client, ClientGrant
from tests.portal.conftest import login_user
from usage.models import Organization, OrganizationMembership

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_logs_in_and_sees_their_organization_and_client(browser):
    acme, _ = Organization.objects.create(name="Acme"), Organization.objects.create(name="Globex")
    initech, _ = Client.objects.create(name="Initech"), Client.objects.create(name="Umbrella")
    person = login_user("ana")
    OrganizationMembership.objects.create(user=person, organization=acme)
    ClientGrant.objects.create(user=person, client=initech)

    browser.driver.get(browser.base_url + "/")
    assert browser.driver.current_url == f"{browser.base_url}/login/?next=/"
    browser.driver.find_element("id", "id_username").send_keys("ana")
    browser.driver.find_element("id", "id_password").send_keys("portal-pass-1")
    browser.follow("form.login button[type=submit]")
    assert browser.driver.current_url == f"{browser.base_url}/"
    assert browser.texts("#organizations li strong") == ["Acme"]
    assert browser.texts("#clients li strong") == ["Initech"]
    links = [a.get_attribute("href") for a in browser.driver.find_elements("css selector", "#organizations a")]
    assert links == [
        f"{browser.base_url}/organizations/{acme.pk}/usage/",
        f"{browser.base_url}/organizations/{acme.pk}/devices/",
    ]
    browser.screenshots("home")

    browser.follow("header button.link")  # log out
    assert browser.driver.current_url == f"{browser.base_url}/login/"
