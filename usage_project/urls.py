"""Root URLs: the API versions, the OpenAPI schema with Swagger UI, and the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from core.schema import SchemaView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("usage.api.urls")),
    path("", include("apps_analytics.api.urls")),
    path("", include("core.urls")),
]
