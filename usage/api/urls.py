"""Device usage routes: v2 (and the legacy v1/v0 routes)."""

from django.urls import path, re_path

from usage.api import v2

urlpatterns = [
    path("v2/usage", v2.UsageReportView.as_view(), name="usage-v2"),
    path("v2/usage/event", v2.UsageEventView.as_view(), name="usage-v2-event"),
    re_path(r"^v2/usage/(?P<grouping>[\w/-]+?)/?$", v2.UsageReportView.as_view(), name="usage-v2-grouping"),
]
