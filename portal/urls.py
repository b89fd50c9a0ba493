"""Portal routes: the root of the site. Organizations, clients, devices and apps by their ids."""

from django.contrib.auth import views as auth_views
from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organizations/<uuid:org_id>/usage/", views.usage, name="usage"),
    path("organizations/<uuid:org_id>/devices/", views.devices, name="devices"),
    path("organizations/<uuid:org_id>/devices/<int:device_pk>/", views.device, name="device"),
    path("clients/<uuid:client_id>/apps/", views.apps, name="apps"),
    path("clients/<uuid:client_id>/apps/<uuid:app_id>/", views.app, name="app"),
]
