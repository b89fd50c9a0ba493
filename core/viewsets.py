"""Base viewsets of the read-only list endpoints (SPEC §12): a subclass only declares its queryset,
serializer and filterset (NetBox style); paging, filtering, ordering, the strict parameter check and
tenancy come from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request

from core.errors import InvalidParameter, NotFound
from core.filters import ManyValuesFilter, StrictFilterBackend
from core.pagination import LimitOffsetPagination
from core.tenancy import ORG_ID, OrganizationScoped


def check_parameters(query: Mapping[str, list[str]], accepted: Mapping[str, bool]) -> None:
    """Reject unknown parameters and repeated ones that are not repeatable (``accepted``: name -> repeatable)."""
    unknown = sorted(name for name in query if name not in accepted)
    if unknown:
        raise InvalidParameter(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Accepted: {', '.join(sorted(accepted)) or 'none'}.",
            {name: query[name] for name in unknown},
        )
    for name, values in query.items():
        if len(values) > 1 and not accepted[name]:
            raise InvalidParameter(f"{name} was given {len(values)} times; give it once.", {name: values})
        if any(not value.strip() for value in values):  # as core.params' types: a blank value is a mistake
            raise InvalidParameter(f"{name} must not be empty", {name: values[0] if len(values) == 1 else values})


class StrictQueryMixin:
    """Checks the query string against what the action accepts: a list its filters, ordering and page; a
    single object nothing but the tenant parameters."""

    tenant_parameters: tuple[str, ...] = ()

    def accepted_parameters(self) -> dict[str, bool]:
        accepted = dict.fromkeys(self.tenant_parameters, False)
        if self.action == "list":
            filterset_class = getattr(self, "filterset_class", None)
            if filterset_class is not None:
                for name, declared in filterset_class.base_filters.items():
                    accepted[name] = isinstance(declared, ManyValuesFilter)
            paginator = self.paginator
            if paginator is not None:
                accepted[paginator.limit_query_param] = accepted[paginator.offset_query_param] = False
        return accepted

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        query = {name: request.query_params.getlist(name) for name in request.query_params}
        check_parameters(query, self.accepted_parameters())

    def get_object(self) -> Any:
        try:
            return super().get_object()  # type: ignore[misc]
        except Http404:
            # Another tenant's id reads exactly like an id that does not exist.
            lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
            name = self.queryset.model._meta.verbose_name.capitalize()
            raise NotFound(f"{name} {lookup} does not exist.", {"id": lookup})


class ListViewSet(StrictQueryMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A list paged by limit/offset, filtered and ordered by ``filterset_class``."""

    pagination_class = LimitOffsetPagination
    filter_backends = [StrictFilterBackend]


class ReadOnlyListViewSet(mixins.RetrieveModelMixin, ListViewSet):
    """A list and its objects by id."""


ORG_ID_PARAMETER = OpenApiParameter(
    ORG_ID,
    OpenApiTypes.UUID,
    description="Staff only: the organization to read (required for staff who belong to none).",
)


class OrganizationScopedMixin(OrganizationScoped):
    """Rows of one organization: the caller's (staff: ``org_id``). Another organization's id is a 404.

    ``scoped_annotations`` are added after the rows are narrowed to the organization, so that an
    aggregate over a shared table (a host's devices) counts only that organization's rows.
    """

    tenant_parameters = (ORG_ID,)
    scoped_annotations: Mapping[str, Any] = {}

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        return queryset.annotate(**self.scoped_annotations) if self.scoped_annotations else queryset


@extend_schema(parameters=[ORG_ID_PARAMETER])
class OrganizationListViewSet(OrganizationScopedMixin, ListViewSet):
    pass


@extend_schema(parameters=[ORG_ID_PARAMETER])
class OrganizationReadOnlyViewSet(OrganizationScopedMixin, ReadOnlyListViewSet):
    pass
