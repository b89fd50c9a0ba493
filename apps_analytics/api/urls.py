"""App analytics routes (SPEC §9). Path ids are UUIDs: anything else matches no route (a JSON 404)."""

from django.urls import path

from apps_analytics.api import views

CLIENT = "v2/clients/<uuid:client_id>"

urlpatterns = [
    path(f"{CLIENT}/apps", views.AppListView.as_view(), name="app-list"),
    path(f"{CLIENT}/apps/<uuid:app_id>", views.AppDetailView.as_view(), name="app-detail"),
    path(f"{CLIENT}/analytics/apps/utilization", views.AppsUtilizationView.as_view(), name="apps-utilization"),
    path(
        f"{CLIENT}/analytics/apps/<uuid:app_id>/utilization",
        views.AppUtilizationView.as_view(),
        name="app-utilization",
    ),
    path(
        f"{CLIENT}/analytics/apps/<uuid:app_id>/utilization/users",
        views.AppUsersView.as_view(),
        name="app-utilization-users",
    ),
    path(f"{CLIENT}/analytics/apps/<uuid:app_id>/activity", views.AppActivityView.as_view(), name="app-activity"),
]
