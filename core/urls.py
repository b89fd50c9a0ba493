"""Routes of the core app: REST ingestion and the organizations (staff)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import IngestView
from core.discovery import OrganizationsViewSet

router = SimpleRouter(trailing_slash=False)
router.register("v2/organizations", OrganizationsViewSet, basename="organization")

urlpatterns = [
    path("v2/ingest", IngestView.as_view(), name="ingest"),
    *router.urls,
]
