"""Routes of the core app: REST ingestion."""

from django.urls import path

from core.api import IngestView

urlpatterns = [
    path("v2/ingest", IngestView.as_view(), name="ingest"),
]
