"""Device usage routes: v2 (and the legacy v1/v0 routes)."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from usage.api import discovery, v0, v1, v2

urlpatterns = [
    path("v2/usage", v2.OrgUsageReportView.as_view(), name="usage-v2"),
    path("v2/usage/event", v2.UsageEventView.as_view(), name="usage-v2-event"),
    # No trailing slash here: core.slashes answers /v2/usage/team/ as /v2/usage/team, like every route.
    re_path(r"^v2/usage/(?P<grouping>[\w-]+(?:/[\w-]+)?)$", v2.UsageReportView.as_view(), name="usage-v2-grouping"),
]

# Legacy v1: one path per route of seed 000's legacy table, so that each is in the OpenAPI schema.
urlpatterns += [
    path(
        "v1/usage" + (f"/{route}" if route else ""),
        v1.LegacyUsageReportView.as_view(route=route),
        name=f"usage-v1-{route.replace('/', '-') or 'org'}",
    )
    for route in v1.ROUTES
]

# Legacy v0 events (seed 000).
urlpatterns.append(path("v0/usage/events", v0.LegacyUsageEventView.as_view(), name="usage-v0-events"))

# Discovery (SPEC §12): the organization's devices, hosts, teams and users.
router = SimpleRouter(trailing_slash=False)
router.register("v2/devices", discovery.DeviceViewSet, basename="device")
router.register("v2/hosts", discovery.HostViewSet, basename="host")
router.register("v2/teams", discovery.TeamViewSet, basename="team")
router.register("v2/users", discovery.UserViewSet, basename="user")
urlpatterns += router.urls
