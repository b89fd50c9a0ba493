"""What the admin does beyond rendering: tokens shown once, revocation, form errors, scale-safe lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps_analytics.models import Application, Client
from core import admin_support
from core.models import ApiToken, hash_token
from tests.admin.conftest import START, add_sessions
from tests.conftest import api_client
from usage.models import Device, Organization, OrganizationMembership, Team, UsageEvent, User

pytestmark = pytest.mark.django_db


def test_adding_a_token_shows_it_once_and_stores_only_its_hash(browser):
    owner = get_user_model().objects.create_user(username="reporter")
    OrganizationMembership.objects.create(user=owner, organization=Organization.objects.create(name="Acme"))
    response = browser.post(
        reverse("admin:core_apitoken_add"), {"user": owner.pk, "name": "BI export", "can_write": "on"}
    )
    # Post/redirect/get: the answer to the POST is a redirect, so a refresh never posts again.
    token = ApiToken.objects.get()
    created = reverse("admin:core_apitoken_created", args=[token.pk])
    assert response.status_code == 302 and response["Location"] == created
    response = browser.get(created)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = response.context["raw_token"]
    assert (token.user, token.name, token.can_write) == (owner, "BI export", True)
    assert token.key_hash == hash_token(raw) and raw.startswith(token.prefix)
    assert raw not in (token.key_hash, token.prefix, token.name)
    assert f'<code id="raw-token" style="font-size: 1.2em; user-select: all;">{raw}</code>' in response.content.decode()
    assert raw not in str(dict(browser.session))  # taken out of the session as it was shown

    # A refresh of that page shows no token and creates none.
    again = browser.get(created)
    assert again.status_code == 200 and "no-store" in again["Cache-Control"]
    assert again.context["raw_token"] is None and raw not in again.content.decode()
    assert (
        "Its value was shown once, on this page right after it was created, and is not kept" in again.content.decode()
    )
    assert ApiToken.objects.count() == 1

    # Nowhere to be seen again: not on the change page, not in the list, not in a message.
    for url in (reverse("admin:core_apitoken_change", args=[token.pk]), reverse("admin:core_apitoken_changelist")):
        page = browser.get(url)
        assert page.status_code == 200 and raw not in page.content.decode()
    # And it works.
    assert api_client(raw).get("/v2/usage?start_date=2026-08-01").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_created_page_shows_only_its_own_token_and_only_to_staff(browser, client):
    owner = get_user_model().objects.create_user(username="reporter")
    browser.post(reverse("admin:core_apitoken_add"), {"user": owner.pk, "name": "first"})
    first = ApiToken.objects.get()
    other, _ = ApiToken.issue(user=owner, name="other")
    # The value waiting for the first token's page is not shown on another token's page.
    page = browser.get(reverse("admin:core_apitoken_created", args=[other.pk]))
    assert page.status_code == 200 and page.context["raw_token"] is None
    page = browser.get(reverse("admin:core_apitoken_created", args=[first.pk]))
    assert page.context["raw_token"] and first.key_hash == hash_token(page.context["raw_token"])
    assert browser.get(reverse("admin:core_apitoken_created", args=[999_999])).status_code == 404
    # Not a page for anyone else: the admin's login first.
    anonymous = client.get(reverse("admin:core_apitoken_created", args=[first.pk]))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")


def test_the_revoke_action_revokes_the_selected_active_tokens(browser):
    owner = get_user_model().objects.create_user(username="reporter")
    first, raw_first = ApiToken.issue(user=owner)
    second, _ = ApiToken.issue(user=owner)
    kept, _ = ApiToken.issue(user=owner)
    earlier = START
    ApiToken.objects.filter(pk=second.pk).update(revoked_at=earlier)
    response = browser.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Revoked 1 token(s)."]
    first.refresh_from_db(), second.refresh_from_db(), kept.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at == earlier and kept.revoked_at is None
    assert api_client(raw_first).get("/v2/usage?start_date=2026-08-01").status_code == 401


def test_the_key_hash_is_not_editable(browser):
    owner = get_user_model().objects.create_user(username="reporter")
    token, _ = ApiToken.issue(user=owner)
    page = browser.get(reverse("admin:core_apitoken_change", args=[token.pk]))
    form = page.context["adminform"].form
    assert "key_hash" not in form.fields and "user" not in form.fields  # shown read-only, never changed
    assert sorted(form.fields) == ["can_write", "name"]


def event_form_data(event: UsageEvent, **changes) -> dict:
    data = {
        "organization": event.organization_id,
        "device": event.device_id,
        "user": event.user_id,
        "team": event.team_id,
        "start_time_0": "2026-08-03",
        "start_time_1": "09:00:00",
        "end_time_0": "2026-08-03",
        "end_time_1": "10:30:00",
    }
    return data | changes


def test_the_event_form_names_the_end_time_when_it_is_before_the_start(browser):
    (event,) = add_sessions(Organization.objects.create(name="Acme"), 1)
    url = reverse("admin:usage_usageevent_change", args=[event.pk])
    response = browser.post(url, event_form_data(event, end_time_1="08:59:59"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"end_time": ["The end time must not be before the start time."]}
    assert "The end time must not be before the start time." in response.content.decode()
    event.refresh_from_db()
    assert event.end_time == START + timedelta(minutes=90)

    ok = browser.post(url, event_form_data(event, end_time_1="09:00:00"))  # equal is allowed
    assert ok.status_code == 302
    event.refresh_from_db()
    assert event.end_time == START


def test_the_event_form_refuses_rows_of_another_organization(browser):
    acme, globex = Organization.objects.create(name="Acme"), Organization.objects.create(name="Globex")
    (event,) = add_sessions(acme, 1)
    (foreign,) = add_sessions(globex, 1, prefix="g")
    response = browser.post(
        reverse("admin:usage_usageevent_change", args=[event.pk]),
        event_form_data(event, device=foreign.device_id, team=foreign.team_id),
    )
    assert response.context["adminform"].form.errors == {
        "device": ["g-0@g-host.example: not of organization Acme."],
        "team": ["g team 0: not of organization Acme."],
    }


def test_the_user_form_refuses_teams_of_another_organization(browser):
    acme, globex = Organization.objects.create(name="Acme"), Organization.objects.create(name="Globex")
    user = User.objects.create(organization=acme, email="ann@acme.test")
    own, foreign = (
        Team.objects.create(organization=acme, name="Red"),
        Team.objects.create(organization=globex, name="Blue"),
    )
    url = reverse("admin:usage_user_change", args=[user.pk])
    data = {"organization": acme.pk, "email": "ann@acme.test", "name": "", "notes": "", "teams": [own.pk, foreign.pk]}
    response = browser.post(url, data)
    assert response.context["adminform"].form.errors == {"teams": ["Blue: not of organization Acme."]}
    assert browser.post(url, data | {"teams": [own.pk], "notes": "on call"}).status_code == 302
    user.refresh_from_db()
    assert list(user.teams.all()) == [own] and user.notes == "on call"


def changelist_queries(browser, query: str = "") -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = browser.get(reverse("admin:usage_usageevent_changelist") + query)
    assert response.status_code == 200
    return [entry["sql"] for entry in captured.captured_queries]


@pytest.mark.parametrize(
    "query", ["", "?start_time__year=2026&start_time__month=8", "?q=acme.test", "?organization__id__exact=0"]
)
def test_the_event_changelist_runs_the_same_few_queries_for_3_or_30_rows(browser, query):
    org = Organization.objects.create(name="Acme")
    query = query.replace("=0", f"={org.pk}")
    add_sessions(org, 3)
    few = changelist_queries(browser, query)
    add_sessions(org, 27, prefix="e")
    many = changelist_queries(browser, query)
    assert len(many) == len(few) <= 12
    event_table = UsageEvent._meta.db_table
    scans = [sql for sql in many if event_table in sql and ("DISTINCT" in sql or "date_trunc" in sql.lower())]
    assert scans == []  # no DISTINCT scan of the sessions for the date hierarchy
    assert not any(sql.startswith(f'SELECT COUNT(*) AS "__count" FROM "{event_table}"') for sql in many)


def test_the_date_hierarchy_offers_the_periods_between_the_first_and_last_session(browser):
    org = Organization.objects.create(name="Acme")
    add_sessions(org, 1)
    later = add_sessions(org, 1, prefix="late")[0]
    UsageEvent.objects.filter(pk=later.pk).update(start_time=START.replace(month=11), end_time=START.replace(month=11))
    page = browser.get(reverse("admin:usage_usageevent_changelist")).content.decode()
    months = ["August 2026", "September 2026", "October 2026", "November 2026"]
    for month in months:
        assert f">{month}</a>" in page
    assert ">July 2026</a>" not in page and ">December 2026</a>" not in page


def test_the_event_search_finds_by_device_address_and_user_email(browser):
    org = Organization.objects.create(name="Acme")
    events = add_sessions(org, 3)
    listed = browser.get(reverse("admin:usage_usageevent_changelist"), {"q": "d-1@d-host.example"})
    assert list(listed.context["cl"].result_list) == [events[1]]
    listed = browser.get(reverse("admin:usage_usageevent_changelist"), {"q": "d2@acme"})
    assert list(listed.context["cl"].result_list) == [events[2]]
    listed = browser.get(reverse("admin:usage_device_changelist"), {"q": "d-2@d-host.example"})
    assert list(listed.context["cl"].result_list) == [Device.objects.get(device_id="d-2")]


def test_the_paginator_estimates_large_counts_instead_of_counting(browser, monkeypatch):
    monkeypatch.setattr(admin_support, "EXACT_COUNT_UP_TO", 3)
    org = Organization.objects.create(name="Acme")
    add_sessions(org, 5)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {UsageEvent._meta.db_table}")
    unfiltered = changelist_queries(browser)
    assert any("reltuples" in sql for sql in unfiltered)
    response = browser.get(reverse("admin:usage_usageevent_changelist"))
    assert response.context["cl"].result_count == 5  # the planner's statistics, after ANALYZE
    filtered = browser.get(reverse("admin:usage_usageevent_changelist"), {"organization__id__exact": org.pk})
    assert filtered.context["cl"].result_count >= 4  # more than the exact limit: the plan's estimate
    two = browser.get(reverse("admin:usage_usageevent_changelist"), {"q": "d-1@d-host.example"})
    assert two.context["cl"].result_count == 1  # small: exact


def test_the_report_form_names_negative_values_and_other_clients_rows(browser, everything):
    report = everything["report"]
    other = Client.objects.create(name="Hooli", timezone="UTC")
    foreign_app = Application.objects.create(client=other, name="Chat")
    data = {
        "client": report.client_id,
        "application": foreign_app.pk,
        "user": report.user_id,
        "activity_date": "2026-08-03",
        "total_active_ms": "-1",
        "total_session_count": "0",
    }
    response = browser.post(reverse("admin:apps_analytics_appusagereport_change", args=[report.pk]), data)
    assert response.context["adminform"].form.errors == {
        "application": ["Chat: not of client Initech."],
        "total_active_ms": ["Must not be negative."],
    }
    ok = browser.post(
        reverse("admin:apps_analytics_appusagereport_change", args=[report.pk]),
        data | {"application": report.application_id, "total_active_ms": "0"},
    )
    assert ok.status_code == 302
    report.refresh_from_db()
    assert report.total_active_ms == 0
