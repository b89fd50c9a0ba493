"""Admin for the device usage data; the sessions changelist is built for millions of rows."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.admin_support import LargeTableAdmin, PortalLinkAdmin, SameTenantForm, WideListAdmin
from usage.models import Device, Host, Organization, OrganizationMembership, Team, UsageEvent, User

SEARCH_MATCHES = 1000  # devices or users a search may match before it narrows the sessions


class OrganizationMembershipInline(admin.TabularInline):
    model = OrganizationMembership
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = "API login of this organization"
    verbose_name_plural = "API logins of this organization (their tokens read its usage)"


@admin.register(Organization)
class OrganizationAdmin(PortalLinkAdmin):
    portal_page = "portal:usage"
    list_display = ["name", "id", "portal_link"]
    search_fields = ["name"]
    readonly_fields = ["id"]
    inlines = [OrganizationMembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    search_fields = ["name"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id"]


class UserForm(SameTenantForm):
    tenant = "organization"
    same_tenant = ("teams",)


@admin.register(User)
class UserAdmin(WideListAdmin):
    form = UserForm
    list_display = ["email", "name", "organization"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    search_fields = ["email", "name"]
    autocomplete_fields = ["organization"]
    filter_horizontal = ["teams"]
    readonly_fields = ["id"]
    fields = ["id", "organization", "email", "name", "teams", "notes"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "teams":
            # Labels name the organization: team names repeat across organizations.
            kwargs["queryset"] = Team.objects.select_related("organization").order_by("organization__name", "name")
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "teams":
            field.label_from_instance = lambda team: f"{team.name} ({team.organization})"
        return field


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["hostname", "country"]
    list_filter = ["country"]
    search_fields = ["hostname"]


def device_matches(term: str) -> Q:
    """Devices whose address matches ``term``: ``id@host`` exactly, or a part of the id or the hostname."""
    device_id, at, hostname = term.rpartition("@")
    if at and device_id and hostname:
        return Q(device_id=device_id, host__hostname=hostname)
    return Q(device_id__icontains=term) | Q(host__hostname__icontains=term)


@admin.register(Device)
class DeviceAdmin(PortalLinkAdmin, WideListAdmin):
    portal_page = "portal:device"
    list_display = ["address", "organization", "model", "os", "device_type", "portal_link"]
    list_filter = ["organization", "os", "device_type", "host__country"]
    list_select_related = ["host", "organization"]
    search_fields = ["device_id", "host__hostname"]
    search_help_text = "Device address (device_id@hostname), or part of the device id or hostname."
    autocomplete_fields = ["organization", "host"]
    ordering = ["host__hostname", "device_id"]

    def portal_args(self, device: Device) -> list:
        return [device.organization_id, device.pk]

    @admin.display(description="address", ordering="device_id")
    def address(self, device: Device) -> str:
        return device.address

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(device_matches(term)), False


class TeamFilter(admin.RelatedFieldListFilter):
    """Team names repeat across organizations, so the choices name the organization too."""

    def field_choices(self, field, request, model_admin):
        teams = Team.objects.select_related("organization").order_by("organization__name", "name")
        return [(team.pk, f"{team.name} ({team.organization})") for team in teams]


class UsageEventForm(SameTenantForm):
    tenant = "organization"
    same_tenant = ("device", "user", "team")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end and end < start:
            # The database refuses it too (usage_event_end_after_start); this names the field to fix.
            self.add_error("end_time", "The end time must not be before the start time.")
        return cleaned


@admin.register(UsageEvent)
class UsageEventAdmin(LargeTableAdmin):
    form = UsageEventForm
    list_display = ["start", "end", "duration", "device_address", "user", "team", "organization", "automated"]
    list_select_related = ["device__host", "user", "team", "organization"]
    list_filter = ["organization", "automated", ("team", TeamFilter), ("device__host", admin.RelatedFieldListFilter)]
    date_hierarchy = "start_time"
    date_hierarchy_partition = "organization"
    search_fields = ["device__device_id", "user__email"]  # the search itself is get_search_results
    search_help_text = "Device address (device_id@hostname, or part of it) or user email (or part of it)."
    autocomplete_fields = ["organization", "device", "user", "team"]
    fields = ["id", "organization", "device", "user", "team", "start_time", "end_time", "automated"]
    readonly_fields = ["id"]
    # Newest first within each organization: the (organization, start_time) index serves it backwards, so
    # the first page needs no sort of the whole table (there is no index on start_time alone).
    ordering = ["-organization_id", "-start_time"]

    # To the second and compact (2026-08-03 09:00:00, in the admin's time zone): the list fits 1280 px.
    @admin.display(description="start time", ordering="start_time")
    def start(self, event: UsageEvent) -> str:
        return f"{timezone.localtime(event.start_time):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="end time", ordering="end_time")
    def end(self, event: UsageEvent) -> str:
        return f"{timezone.localtime(event.end_time):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="duration")
    def duration(self, event: UsageEvent) -> str:
        seconds = int(event.duration_seconds)
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    @admin.display(description="device", ordering="device__device_id")
    def device_address(self, event: UsageEvent) -> str:
        return event.device.address

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # Matching devices and users are found in their (small) tables first; the sessions are then
        # narrowed by foreign key, which the indexes serve, instead of joining every session.
        term = search_term.strip()
        if not term:
            return queryset, False
        devices = list(Device.objects.filter(device_matches(term)).values_list("pk", flat=True)[:SEARCH_MATCHES])
        users = list(User.objects.filter(email__icontains=term).values_list("pk", flat=True)[:SEARCH_MATCHES])
        return queryset.filter(Q(device_id__in=devices) | Q(user_id__in=users)), False
