"""The admin links each organization, device, client and application to its page in the staff portal."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin.conftest import add_sessions
from usage.models import Device, Organization

pytestmark = pytest.mark.django_db


def pages(everything: dict) -> list[tuple[str, object, str, str]]:
    """(admin model, row, its portal page, a text that page shows)."""
    org, client, app = everything["org"], everything["client"], everything["app"]
    device = everything["event"].device
    return [
        ("core_organization", org, f"/organizations/{org.pk}/usage/", org.name),
        ("usage_device", device, f"/organizations/{org.pk}/devices/{device.pk}/", device.address),
        ("core_client", client, f"/clients/{client.pk}/apps/", client.name),
        ("apps_analytics_application", app, f"/clients/{client.pk}/apps/{app.pk}/", app.name),
    ]


def test_each_row_links_to_its_portal_page_from_the_list_and_its_change_page(browser, everything):
    for model, row, portal, shown in pages(everything):
        listing = browser.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert f'<td class="field-portal_link"><a href="{portal}">View in portal</a></td>' in listing, model
        change = browser.get(reverse(f"admin:{model}_change", args=[row.pk])).content.decode()
        assert f'<li><a href="{portal}" class="portallink">View in portal</a></li>' in change, model
        assert "portallink" not in browser.get(reverse(f"admin:{model}_add")).content.decode()
        # The link leads to the portal's page of that row, for the same staff login.
        page = browser.get(portal)
        assert page.status_code == 200 and shown in page.content.decode(), model


def test_the_links_cost_no_query_per_row(browser):
    def queries(rows: int) -> int:
        org = Organization.objects.create(name=f"Org {rows}")
        add_sessions(org, rows, prefix=f"p{rows}")
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(reverse("admin:usage_device_changelist")).status_code == 200
        return len(captured)

    few = queries(2)
    assert Device.objects.count() == 2
    assert queries(20) == few and Device.objects.count() == 22
