"""Discovery (SPEC §12): the organization's devices, hosts, teams and users, for filters and pickers.

Each viewset declares its queryset, serializer and filterset; tenancy (the caller's organization,
staff ``org_id``), paging, ordering and the strict parameter check come from ``core.viewsets``.
A device's first and last use are correlated subqueries in the page's one query, on the
(device, start_time) INCLUDE end_time index of the sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, Max, OuterRef, Subquery, Value
from django.db.models.functions import Concat
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from core.schema import error_responses
from core.viewsets import OrganizationListViewSet, OrganizationReadOnlyViewSet
from usage.filtersets import DeviceFilterSet, HostFilterSet, TeamFilterSet, UserFilterSet
from usage.models import Device, Host, Team, UsageEvent, User

TAGS = ["Discovery"]
UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class UtcTimeField(serializers.Field):
    """An instant in UTC, ISO 8601 with its offset (``2024-01-01T10:00:00+00:00``); null when absent."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat()


def _first_start() -> Subquery:
    """The start of a device's first session: one probe of the (device, start_time) index."""
    sessions = UsageEvent.objects.filter(device=OuterRef("pk")).order_by("start_time")
    return Subquery(sessions.values("start_time")[:1])


def _last_end() -> Subquery:
    """The end of a device's last session: an index-only scan of its (device, start_time) INCLUDE end_time entries."""
    sessions = UsageEvent.objects.filter(device=OuterRef("pk")).order_by().values("device")
    return Subquery(sessions.annotate(last=Max("end_time")).values("last"))


# --------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------


class DeviceSerializer(serializers.ModelSerializer):
    address = serializers.CharField(source="device_address", help_text="device_id@hostname")
    hostname = serializers.CharField(source="host.hostname")
    country = serializers.CharField(source="host.country", help_text="ISO 3166-1 alpha-2 code, or empty.")
    first_used = UtcTimeField(allow_null=True, help_text="Start of the device's first session; null if never used.")
    last_used = UtcTimeField(allow_null=True, help_text="End of the device's last session; null if never used.")

    class Meta:
        model = Device
        fields = [
            "id",
            "device_id",
            "address",
            "hostname",
            "country",
            "model",
            "os",
            "device_type",
            "first_used",
            "last_used",
        ]


class HostSerializer(serializers.ModelSerializer):
    device_count = serializers.IntegerField(help_text="The organization's devices on this host.")

    class Meta:
        model = Host
        fields = ["hostname", "country", "device_count"]


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(help_text="Users who are members of the team.")

    class Meta:
        model = Team
        fields = ["id", "name", "member_count"]


class UserSerializer(serializers.ModelSerializer):
    teams = serializers.ListField(
        child=serializers.CharField(), source="team_names", help_text="Names of the user's teams."
    )

    class Meta:
        model = User
        fields = ["id", "email", "name", "teams"]


# --------------------------------------------------------------------------------------------
# Viewsets
# --------------------------------------------------------------------------------------------

ERRORS = error_responses(
    e400="An unknown parameter or a malformed value.",
    e401="Missing, unknown or revoked token.",
    e403="org_id names an organization the caller cannot read.",
    e404="No such id in the organization (another organization's id reads the same).",
)


def documented(noun: str, plural: str, serializer: type[serializers.Serializer], id_type=None):
    """The schema of a discovery viewset: its list and, given the path id's type, its objects."""
    views = {
        "list": extend_schema(tags=TAGS, summary=f"List {plural}", responses={200: serializer(many=True), **ERRORS})
    }
    if id_type is not None:
        views["retrieve"] = extend_schema(
            tags=TAGS,
            summary=f"Get a {noun}",
            parameters=[OpenApiParameter("id", id_type, OpenApiParameter.PATH)],
            responses={200: serializer, **ERRORS},
        )
    return extend_schema_view(**views)


@documented("device", "devices", DeviceSerializer, OpenApiTypes.INT)
class DeviceViewSet(OrganizationReadOnlyViewSet):
    queryset = (
        Device.objects.select_related("host")
        .annotate(
            device_address=Concat("device_id", Value("@"), "host__hostname"),
            first_used=_first_start(),
            last_used=_last_end(),
        )
        .order_by("device_address", "pk")
    )
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    lookup_value_regex = "[0-9]{1,18}"


@documented("host", "hosts", HostSerializer)
class HostViewSet(OrganizationListViewSet):
    queryset = Host.objects.order_by("hostname")
    organization_field = "devices__organization"
    scoped_annotations = {"device_count": Count("devices")}
    serializer_class = HostSerializer
    filterset_class = HostFilterSet


@documented("team", "teams", TeamSerializer, OpenApiTypes.UUID)
class TeamViewSet(OrganizationReadOnlyViewSet):
    queryset = Team.objects.annotate(member_count=Count("members")).order_by("name", "pk")
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    lookup_value_regex = UUID_PATTERN


@documented("user", "users", UserSerializer, OpenApiTypes.UUID)
class UserViewSet(OrganizationReadOnlyViewSet):
    queryset = User.objects.annotate(
        team_names=ArraySubquery(Team.objects.filter(members=OuterRef("pk")).order_by("name").values("name"))
    ).order_by("email", "pk")
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    lookup_value_regex = UUID_PATTERN
