"""Portal pages: server-rendered shells whose numbers the browser asks from the JSON API.

Each view only checks that the login may read what the path names (404 otherwise) and hands the
page the ids and API routes it needs; the page's state lives in its query string, in the API's
own parameter names, so a link reproduces the view and the numbers are the API's.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps_analytics.models import Application
from core.models import Organization
from core.tenancy import readable_clients, readable_organizations
from portal.access import client_or_404, organization_or_404
from usage.models import Device


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/home.html",
        {
            "organizations": list(readable_organizations(request.user)),
            "clients": list(readable_clients(request.user)),
        },
    )


def _org_config(request: HttpRequest, organization: Organization, **extra: Any) -> dict[str, Any]:
    # The API reads a member's own organization; staff name the one they look at with org_id.
    return {"org_id": str(organization.pk), "pass_org_id": request.user.is_staff, **extra}


def _page(request: HttpRequest, template: str, *, config: dict[str, Any], **context: Any) -> HttpResponse:
    return render(request, template, {"config": config, **context})


@login_required
def usage(request: HttpRequest, org_id: UUID) -> HttpResponse:
    organization = organization_or_404(request.user, org_id)
    return _page(request, "portal/usage.html", organization=organization, config=_org_config(request, organization))


@login_required
def devices(request: HttpRequest, org_id: UUID) -> HttpResponse:
    organization = organization_or_404(request.user, org_id)
    return _page(request, "portal/devices.html", organization=organization, config=_org_config(request, organization))


@login_required
def device(request: HttpRequest, org_id: UUID, device_pk: int) -> HttpResponse:
    organization = organization_or_404(request.user, org_id)
    found = Device.objects.select_related("host").filter(organization=organization, pk=device_pk).first()
    if found is None:
        raise Http404("No such device.")
    return _page(
        request,
        "portal/device.html",
        organization=organization,
        device=found,
        config=_org_config(request, organization, device_pk=found.pk, address=found.address),
    )


@login_required
def apps(request: HttpRequest, client_id: UUID) -> HttpResponse:
    client = client_or_404(request.user, client_id)
    return _page(request, "portal/apps.html", client=client, config={"client_id": str(client.pk)})


@login_required
def app(request: HttpRequest, client_id: UUID, app_id: UUID) -> HttpResponse:
    client = client_or_404(request.user, client_id)
    found = Application.objects.filter(client=client, pk=app_id).first()
    if found is None:
        raise Http404("No such application.")
    return _page(
        request,
        "portal/app.html",
        client=client,
        app=found,
        config={"client_id": str(client.pk), "app_id": str(found.pk)},
    )
