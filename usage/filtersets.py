"""The filters of the discovery lists (SPEC §12): one FilterSet per resource, every filter declared.

Repeatable filters OR their values; different filters AND. Every list takes ``ordering`` on any of
its fields (``-`` for descending).
"""

from __future__ import annotations

from datetime import date

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from core.filters import DayFilter, ManyUUIDsFilter, ManyValuesFilter, OrderingFilter, TextFilter, utc_midnight
from usage.models import Device, Host, Team, UsageEvent, User


def _session_ending_since(day: date) -> Exists:
    return Exists(UsageEvent.objects.filter(device=OuterRef("pk"), end_time__gte=utc_midnight(day)))


class DeviceFilterSet(django_filters.FilterSet):
    search = TextFilter(
        field_name="device_address", lookup_expr="icontains", help_text="Part of the address (device_id@hostname)."
    )
    hostname = ManyValuesFilter(field_name="host__hostname", help_text="Host name. Repeatable.")
    country = ManyValuesFilter(field_name="host__country", help_text="The host's country code. Repeatable.")
    model = ManyValuesFilter(help_text="Device model. Repeatable.")
    os = ManyValuesFilter(help_text="Operating system, such as android or ios. Repeatable.")
    device_type = ManyValuesFilter(help_text="Device type, such as phone or tablet. Repeatable.")
    idle_since = DayFilter(
        method="filter_idle_since",
        help_text="Devices with no session ending on or after this date (00:00 UTC), never-used ones included.",
    )
    used_since = DayFilter(
        method="filter_used_since", help_text="Devices with a session ending on or after this date (00:00 UTC)."
    )
    ordering = OrderingFilter(
        fields=[
            "id",
            "device_id",
            ("device_address", "address"),
            ("host__hostname", "hostname"),
            ("host__country", "country"),
            "model",
            "os",
            "device_type",
            "first_used",
            "last_used",
        ]
    )

    class Meta:
        model = Device
        fields: list[str] = []

    def filter_idle_since(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(~_session_ending_since(value))

    def filter_used_since(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(_session_ending_since(value))


class HostFilterSet(django_filters.FilterSet):
    search = TextFilter(field_name="hostname", lookup_expr="icontains", help_text="Part of the name.")
    country = ManyValuesFilter(help_text="Country code. Repeatable.")
    ordering = OrderingFilter(fields=["hostname", "country", "device_count"])

    class Meta:
        model = Host
        fields: list[str] = []


class TeamFilterSet(django_filters.FilterSet):
    search = TextFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")
    ordering = OrderingFilter(fields=["id", "name", "member_count"])

    class Meta:
        model = Team
        fields: list[str] = []


class UserFilterSet(django_filters.FilterSet):
    search = TextFilter(method="filter_search", help_text="Part of the email address or the name.")
    team_id = ManyUUIDsFilter(
        field_name="teams", distinct=True, help_text="A team the user is a member of. Repeatable."
    )
    ordering = OrderingFilter(fields=["id", "email", "name"])

    class Meta:
        model = User
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(email__icontains=value) | Q(name__icontains=value))
