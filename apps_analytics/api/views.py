"""App analytics endpoints (seed 001, SPEC §9). Views are thin: resolve access, parse, one selector call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps_analytics import reporting
from apps_analytics.api import params, schema
from apps_analytics.models import Application, Client
from core import report_cache
from core.errors import NotFound
from core.pagination import LimitOffsetPagination
from core.params import openapi_parameters
from core.routers import report_reads
from core.tenancy import ClientScoped

TAGS = ["App analytics"]
T = TypeVar("T")


def client_app(*, client: Client, app_id: UUID) -> Application:
    """One of the client's apps; another client's app is as unknown as a missing one (404)."""
    app = Application.objects.filter(client=client, pk=app_id).first()
    if app is None:
        raise NotFound(f"Application {app_id} does not exist in client {client.id}.", {"app_id": str(app_id)})
    return app


class ClientView(ClientScoped, APIView):
    """The path's client (core.tenancy: 404 unknown, 403 without a grant) and app, once authenticated."""

    app: Application | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if "app_id" in kwargs:
            self.app = client_app(client=self.client, app_id=kwargs["app_id"])

    def cached(self, name: str, query: dict[str, Any], compute: Callable[[], T]) -> T:
        """``compute()``, or its answer for the same app and parameters while the client's data is unchanged."""

        def compute_on_replica() -> T:
            with report_reads():  # the replica, when configured (core.routers)
                return compute()

        return report_cache.cached_data(
            scopes=(f"client:{self.client.pk}", "apps"),
            report=(name, self.app.pk if self.app else None, query),
            compute=compute_on_replica,
        )


class AppPagination(LimitOffsetPagination):
    """The app lists' pages (their limit/offset are read with their other parameters, in params)."""

    default_limit = params.DEFAULT_LIMIT
    max_limit = params.MAX_LIMIT


def page_links(request: Request, page: reporting.Page, count: int) -> dict[str, Any]:
    """count, next and previous of a page the report fetched itself, by DRF's LimitOffsetPagination."""
    return AppPagination().links(request, limit=page.limit, offset=page.offset, count=count)


DETAIL_EXAMPLE = {
    "period": {
        "start_date": "2026-02-01",
        "end_date": "2026-02-28",
        "compare_start_date": "2026-01-01",
        "compare_end_date": "2026-01-31",
    },
    "unique_users": {"value": 42, "change_pct": 5.0, "compare_value": 40},
    "active_time_ms": {"value": 432000000, "change_pct": -3.1, "compare_value": 446000000},
    "avg_time_ms_per_day": {"value": 15428571, "change_pct": -3.1, "compare_value": 15928571},
    "session_count": {"value": 1284, "change_pct": 7.8, "compare_value": 1191},
}


class AppUtilizationView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="app_utilization_detail",
        summary="App Utilization Detail",
        description="Period-level metrics of one app, with an optional comparison period (seed 001). "
        "Dates are the client's local dates.",
        parameters=openapi_parameters(params.UtilizationParams),
        responses={200: schema.AppUtilizationDetailSerializer, **schema.ERRORS},
        examples=[OpenApiExample("With comparison period", value=DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, client_id: UUID, app_id: UUID) -> Response:
        query = params.UtilizationParams.parse(request, client=self.client)
        return Response(
            self.cached(
                "app_utilization",
                query,
                lambda: reporting.app_utilization(
                    scope=query["scope"], app_id=self.app.id, granularity=query["granularity"], compare=query["compare"]
                ),
            )
        )


class AppsUtilizationView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="apps_utilization",
        summary="App Utilization",
        description="The detail's four metrics for every app of the client (zeros for apps nobody used), "
        "ordered and paginated with limit/offset.",
        parameters=openapi_parameters(params.AppsUtilizationParams),
        responses={200: schema.AppUtilizationPageSerializer, **schema.ERRORS},
    )
    def get(self, request: Request, client_id: UUID) -> Response:
        query = params.AppsUtilizationParams.parse(request, client=self.client)
        result = self.cached(
            "apps_utilization",
            query,
            lambda: reporting.apps_utilization(
                scope=query["scope"],
                granularity=query["granularity"],
                compare=query["compare"],
                ordering=query["ordering"],
                page=query["page"],
            ),
        )
        return Response(
            {
                "period": reporting.period_dict(query["scope"].period, query["compare"]),
                **page_links(request, query["page"], result.count),
                "results": result.rows,
            }
        )


class AppActivityView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="app_activity",
        summary="App Activity",
        description="A daily series of one metric of one app: one point per day of the period, zeros included.",
        parameters=openapi_parameters(params.ActivityParams),
        responses={200: schema.AppActivitySerializer, **schema.ERRORS},
    )
    def get(self, request: Request, client_id: UUID, app_id: UUID) -> Response:
        query = params.ActivityParams.parse(request, client=self.client)
        scope: reporting.Scope = query["scope"]
        points = self.cached(
            "app_activity",
            query,
            lambda: reporting.app_activity(scope=scope, app_id=self.app.id, metric=query["metric"]),
        )
        return Response({"metric": query["metric"], "period": _plain_period(scope.period), "points": points})


def _plain_period(period: reporting.Period) -> dict[str, str]:
    return {"start_date": period.start.isoformat(), "end_date": period.end.isoformat()}


class AppUsersView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="app_utilization_users",
        summary="App Utilization Users for One App",
        description="Per user with activity on the app in the period, ordered and paginated with limit/offset.",
        parameters=openapi_parameters(params.AppUsersParams),
        responses={200: schema.AppUsersPageSerializer, **schema.ERRORS},
    )
    def get(self, request: Request, client_id: UUID, app_id: UUID) -> Response:
        query = params.AppUsersParams.parse(request, client=self.client)
        result = self.cached(
            "app_users",
            query,
            lambda: reporting.app_users(
                scope=query["scope"], app_id=self.app.id, ordering=query["ordering"], page=query["page"]
            ),
        )
        return Response(
            {
                "period": _plain_period(query["scope"].period),
                **page_links(request, query["page"], result.count),
                "results": result.rows,
            }
        )


def app_dict(app: dict[str, Any]) -> dict[str, str]:
    return {"id": str(app["id"]), "client_id": str(app["client_id"]), "name": app["name"]}


APP_FIELDS = ("id", "client_id", "name")


class AppListView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="app_list",
        summary="List Apps",
        description="The client's applications by name, paginated with limit/offset.",
        parameters=openapi_parameters(params.AppListParams),
        responses={200: schema.AppPageSerializer, **schema.ERRORS},
    )
    def get(self, request: Request, client_id: UUID) -> Response:
        params.AppListParams.parse(request)  # rejects unknown parameters and bad limit/offset values
        paginator = AppPagination()
        apps = Application.objects.filter(client=self.client).order_by("name", "id").values(*APP_FIELDS)
        rows = paginator.paginate_queryset(apps, request, view=self)
        return paginator.get_paginated_response([app_dict(app) for app in rows])


class AppDetailView(ClientView):
    @extend_schema(
        tags=TAGS,
        operation_id="app_retrieve",
        summary="Get App",
        description="An application's identity and metadata.",
        responses={200: schema.AppSerializer, **schema.ERRORS},
    )
    def get(self, request: Request, client_id: UUID, app_id: UUID) -> Response:
        params.NoParams.parse(request)
        return Response(app_dict({"id": self.app.id, "client_id": self.client.id, "name": self.app.name}))
