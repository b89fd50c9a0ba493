"""Portal pages as Django serves them: login, who sees what, 404 for another tenant, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext

from apps_analytics.models import Application, Client, ClientGrant
from tests.portal.conftest import login_user
from tests.usage_helpers import make_device
from usage.models import Organization, OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    """Acme (an organization with a device) and Globex; client Initech with an app, client Umbrella."""
    acme, globex = Organization.objects.create(name="Acme"), Organization.objects.create(name="Globex")
    initech, umbrella = Client.objects.create(name="Initech", timezone="UTC"), Client.objects.create(name="Umbrella")
    return {
        "acme": acme,
        "globex": globex,
        "device": make_device(acme, "d1@h1.acme.test"),
        "initech": initech,
        "umbrella": umbrella,
        "app": Application.objects.create(client=initech, name="Figma"),
        "foreign_app": Application.objects.create(client=umbrella, name="Zoom"),
    }


def logged_in(user) -> DjangoClient:
    client = DjangoClient()
    client.force_login(user)
    return client


@pytest.fixture
def member(tenants) -> DjangoClient:
    """A non-staff member of Acme with a grant for Initech."""
    user = login_user("member")
    OrganizationMembership.objects.create(user=user, organization=tenants["acme"])
    ClientGrant.objects.create(user=user, client=tenants["initech"])
    return logged_in(user)


def pages(t) -> dict[str, str]:
    return {
        "usage": f"/organizations/{t['acme'].pk}/usage/",
        "devices": f"/organizations/{t['acme'].pk}/devices/",
        "device": f"/organizations/{t['acme'].pk}/devices/{t['device'].pk}/",
        "apps": f"/clients/{t['initech'].pk}/apps/",
        "app": f"/clients/{t['initech'].pk}/apps/{t['app'].pk}/",
    }


@pytest.mark.parametrize("page", ["home", "usage", "devices", "device", "apps", "app"])
def test_a_logged_out_visitor_is_sent_to_the_login_page(tenants, page):
    path = "/" if page == "home" else pages(tenants)[page]
    response = DjangoClient().get(path)
    assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def test_the_login_page_admits_a_member_who_is_not_staff(tenants):
    login_user("member")
    client = DjangoClient()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "member", "password": "portal-pass-1"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_on_the_login_page(tenants):
    login_user("member")
    response = DjangoClient().post("/login/", {"username": "member", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_home_lists_a_members_organization_and_granted_clients_only(tenants, member):
    html = member.get("/").content.decode()
    assert "Acme" in html and "Initech" in html
    assert "Globex" not in html and "Umbrella" not in html
    assert f"/organizations/{tenants['acme'].pk}/usage/" in html
    assert 'href="/admin/"' not in html  # the admin link is for staff


def test_home_lists_everything_for_staff(tenants):
    html = logged_in(login_user("boss", staff=True)).get("/").content.decode()
    for name in ("Acme", "Globex", "Initech", "Umbrella"):
        assert name in html
    assert 'href="/admin/"' in html


@pytest.mark.parametrize("page", ["usage", "devices", "device", "apps", "app"])
def test_a_member_opens_the_pages_of_their_tenants(tenants, member, page):
    assert member.get(pages(tenants)[page]).status_code == 200


def test_another_tenants_pages_are_404_for_a_member(tenants, member):
    t = tenants
    other_device = make_device(t["globex"], "x9@h9.globex.test")
    for path in (
        f"/organizations/{t['globex'].pk}/usage/",
        f"/organizations/{t['globex'].pk}/devices/",
        f"/organizations/{t['globex'].pk}/devices/{other_device.pk}/",
        f"/organizations/{t['acme'].pk}/devices/{other_device.pk}/",  # a device of another organization
        f"/clients/{t['umbrella'].pk}/apps/",
        f"/clients/{t['umbrella'].pk}/apps/{t['foreign_app'].pk}/",
        f"/clients/{t['initech'].pk}/apps/{t['foreign_app'].pk}/",  # an app of another client
        "/organizations/00000000-0000-0000-0000-000000000000/usage/",
    ):
        assert member.get(path).status_code == 404, path


def test_staff_open_any_tenants_pages(tenants):
    staff = logged_in(login_user("boss", staff=True))
    for path in pages(tenants).values():
        assert staff.get(path).status_code == 200, path


def test_the_page_hands_its_script_the_ids_and_whether_to_name_the_organization(tenants, member):
    html = member.get(pages(tenants)["device"]).content.decode()
    config = (
        f'{{"org_id": "{tenants["acme"].pk}", "pass_org_id": false, "device_pk": {tenants["device"].pk}, '
        '"address": "d1@h1.acme.test"}'
    )
    assert f'<script id="portal-config" type="application/json">{config}</script>' in html


@pytest.mark.parametrize(("page", "queries"), [("usage", 3), ("devices", 3), ("device", 4), ("apps", 3), ("app", 4)])
def test_page_views_make_a_fixed_number_of_queries(tenants, member, page, queries):
    # session, user, the tenant (and the device or app); the numbers come from the API afterwards.
    with CaptureQueriesContext(connection) as captured:
        assert member.get(pages(tenants)[page]).status_code == 200
    assert len(captured) == queries, [q["sql"] for q in captured]
