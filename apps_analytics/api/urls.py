"""App analytics routes (filled by the app analytics issue)."""

urlpatterns: list = []
