"""``GET /v2/organizations`` (SPEC §12): the organizations, for staff to pick ``org_id``."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from core.filters import OrderingFilter, TextFilter
from core.models import Organization
from core.schema import error_responses
from core.tenancy import IsStaff
from core.viewsets import ListViewSet


class OrganizationFilterSet(django_filters.FilterSet):
    search = TextFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")
    ordering = OrderingFilter(fields=["id", "name"])

    class Meta:
        model = Organization
        fields: list[str] = []


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


@extend_schema_view(
    list=extend_schema(
        tags=["Discovery"],
        summary="List organizations (staff)",
        responses={
            200: OrganizationSerializer(many=True),
            **error_responses(
                e400="An unknown parameter or a malformed value.",
                e401="Missing, unknown or revoked token.",
                e403="The caller is not staff.",
            ),
        },
    )
)
class OrganizationsViewSet(ListViewSet):
    queryset = Organization.objects.order_by("name", "pk")
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilterSet
    permission_classes = [IsAuthenticated, IsStaff]
