"""Routes of the core app: REST ingestion, the organizations (staff) and the health endpoints."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api import IngestView
from core.discovery import OrganizationsViewSet
from core.health import healthz, readyz

router = SimpleRouter(trailing_slash=False)
router.register("v2/organizations", OrganizationsViewSet, basename="organization")

urlpatterns = [
    path("v2/ingest", IngestView.as_view(), name="ingest"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    *router.urls,
]
