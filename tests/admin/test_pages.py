"""Every model's changelist, add form and change form render for a staff superuser."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

APPS = ("core", "usage", "apps_analytics")
MODELS = sorted(
    f"{model._meta.app_label}.{model._meta.model_name}"
    for model in admin.site._registry
    if model._meta.app_label in APPS
)


def test_every_model_of_the_project_is_in_the_admin():
    assert MODELS == [
        "apps_analytics.application",
        "apps_analytics.appusagereport",
        "apps_analytics.clientuser",
        "apps_analytics.department",
        "core.apitoken",
        "core.client",
        "core.clientgrant",
        "core.organization",
        "usage.device",
        "usage.host",
        "usage.team",
        "usage.usageevent",
        "usage.user",
    ]


def test_the_index_names_explain_themselves(browser):
    """Django's logins are the "Users" of Authentication; the people who use devices are "Device users"."""
    page = browser.get(reverse("admin:index"))
    sections = {app["name"]: [model["name"] for model in app["models"]] for app in page.context["app_list"]}
    assert sections == {
        "API access": ["API tokens", "Client grants", "Clients", "Organizations"],
        "App analytics": ["App usage reports", "Applications", "Client users", "Departments"],
        "Authentication and Authorization": ["Groups", "Users"],
        "Device usage": ["Device users", "Devices", "Hosts", "Teams", "Usage events"],
    }
    assert (
        "<title>Select device user to change | Django site admin</title>"
        in browser.get(reverse("admin:usage_user_changelist")).content.decode()
    )
    assert (
        "<title>Select API token to change | Django site admin</title>"
        in browser.get(reverse("admin:core_apitoken_changelist")).content.decode()
    )


@pytest.mark.parametrize("label", MODELS)
def test_changelist_add_and_change_pages_render(browser, everything, label):
    app_label, model_name = label.split(".")
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    changelist = browser.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 1  # the one row of the fixture is listed
    assert browser.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 200
    instance = model.objects.get()
    assert browser.get(reverse(f"admin:{app_label}_{model_name}_change", args=[instance.pk])).status_code == 200


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("admin:usage_usageevent_changelist", "?start_time__year=2026"),
        ("admin:usage_usageevent_changelist", "?start_time__year=2026&start_time__month=8"),
        ("admin:usage_usageevent_changelist", "?start_time__year=2026&start_time__month=8&start_time__day=3"),
        ("admin:usage_usageevent_changelist", "?automated__exact=0&q=d-0%40d-host.example"),
        ("admin:apps_analytics_appusagereport_changelist", "?activity_date__year=2026&activity_date__month=8"),
        ("admin:apps_analytics_appusagereport_changelist", "?q=bob"),
        ("admin:usage_device_changelist", "?q=d-0%40d-host.example"),
        ("admin:core_apitoken_changelist", "?status=active"),
    ],
)
def test_drill_downs_filters_and_searches_render(browser, everything, url, query):
    response = browser.get(reverse(url) + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_the_autocomplete_endpoints_answer(browser, everything):
    url = reverse("admin:autocomplete")
    for model, field in (("usageevent", "device"), ("usageevent", "user"), ("usageevent", "team")):
        response = browser.get(url, {"app_label": "usage", "model_name": model, "field_name": field, "term": "d"})
        assert response.status_code == 200
        assert len(response.json()["results"]) == 1
