"""Routes of the core app: REST ingestion and the health endpoints."""

from django.urls import path

from core.api import IngestView
from core.health import healthz, readyz

urlpatterns = [
    path("v2/ingest", IngestView.as_view(), name="ingest"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
