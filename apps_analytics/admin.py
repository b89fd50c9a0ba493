"""Admin for the app analytics data; the usage reports changelist is built for millions of rows."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps_analytics.models import Application, AppUsageReport, Client, ClientGrant, ClientUser, Department
from core.admin_support import LargeTableAdmin, PortalLinkAdmin, SameTenantForm, WideListAdmin

SEARCH_MATCHES = 1000


class ClientGrantInline(admin.TabularInline):
    model = ClientGrant
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = "API login with access"
    verbose_name_plural = "API logins with access (their tokens read this client's analytics)"


@admin.register(Client)
class ClientAdmin(PortalLinkAdmin):
    portal_page = "portal:apps"  # the client's applications
    list_display = ["name", "timezone", "id", "portal_link"]
    search_fields = ["name"]
    readonly_fields = ["id"]
    inlines = [ClientGrantInline]


@admin.register(ClientGrant)
class ClientGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "client"]
    list_filter = ["client"]
    list_select_related = ["user", "client"]
    search_fields = ["user__username", "client__name"]
    autocomplete_fields = ["user", "client"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "client"]
    list_filter = ["client"]
    list_select_related = ["client"]
    search_fields = ["name"]
    autocomplete_fields = ["client"]
    readonly_fields = ["id"]


class ClientUserForm(SameTenantForm):
    tenant = "client"
    same_tenant = ("departments",)


@admin.register(ClientUser)
class ClientUserAdmin(WideListAdmin):
    form = ClientUserForm
    list_display = ["email", "client"]
    list_filter = ["client"]
    list_select_related = ["client"]
    search_fields = ["email"]
    autocomplete_fields = ["client"]
    filter_horizontal = ["departments"]
    readonly_fields = ["id"]
    fields = ["id", "client", "email", "departments"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "departments":
            kwargs["queryset"] = Department.objects.select_related("client").order_by("client__name", "name")
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "departments":
            field.label_from_instance = lambda department: f"{department.name} ({department.client})"
        return field


@admin.register(Application)
class ApplicationAdmin(PortalLinkAdmin):
    portal_page = "portal:app"
    list_display = ["name", "client", "portal_link"]
    list_filter = ["client"]
    list_select_related = ["client"]
    search_fields = ["name"]
    autocomplete_fields = ["client"]
    readonly_fields = ["id"]

    def portal_args(self, app: Application) -> list:
        return [app.client_id, app.pk]


class ApplicationFilter(admin.RelatedFieldListFilter):
    """Application names repeat across clients, so the choices name the client too."""

    def field_choices(self, field, request, model_admin):
        apps = Application.objects.select_related("client").order_by("client__name", "name")
        return [(app.pk, f"{app.name} ({app.client})") for app in apps]


class AppUsageReportForm(SameTenantForm):
    tenant = "client"
    same_tenant = ("application", "user")

    def clean(self):
        cleaned = super().clean()
        # The database refuses negatives too (app_usage_report_non_negative); this names the field to fix.
        for name in ("total_active_ms", "total_session_count"):
            value = cleaned.get(name)
            if value is not None and value < 0:
                self.add_error(name, "Must not be negative.")
        return cleaned


@admin.register(AppUsageReport)
class AppUsageReportAdmin(LargeTableAdmin):
    form = AppUsageReportForm
    list_display = [
        "activity_date",
        "application",
        "user",
        "active_time",
        "total_active_ms",
        "total_session_count",
        "client",
    ]
    list_select_related = ["application", "user", "client"]
    list_filter = ["client", ("application", ApplicationFilter)]
    date_hierarchy = "activity_date"
    date_hierarchy_partition = "client"
    search_fields = ["user__email", "application__name"]  # the search itself is get_search_results
    search_help_text = "User email or application name (or part of them)."
    autocomplete_fields = ["client", "application", "user"]
    # Newest first within each client, served backwards by the (client, activity_date) index.
    ordering = ["-client_id", "-activity_date"]

    @admin.display(description="active time", ordering="total_active_ms")
    def active_time(self, report: AppUsageReport) -> str:
        seconds = report.total_active_ms // 1000
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        users = list(ClientUser.objects.filter(email__icontains=term).values_list("pk", flat=True)[:SEARCH_MATCHES])
        apps = list(Application.objects.filter(name__icontains=term).values_list("pk", flat=True)[:SEARCH_MATCHES])
        return queryset.filter(Q(user_id__in=users) | Q(application_id__in=apps)), False
