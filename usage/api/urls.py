"""Device usage routes: v2 (and the legacy v1/v0 routes)."""

urlpatterns: list = []
