"""Root URLs: the API versions, the OpenAPI schema with Swagger UI, the admin, and the staff portal at /."""

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
    path("", include("portal.urls")),
]

# What Django refuses before any view (disallowed host, too many fields) and errors raised in a
# middleware (a database that is down) answer in the error envelope too.
handler400 = "core.errors.bad_request"
handler500 = "core.errors.server_error"
