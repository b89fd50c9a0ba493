"""What a portal page may show: the organizations and clients a login reads through the API too.

Staff read every organization and client; a member reads their organization; a client grant reads
that client. Pages of anything else are a 404, exactly as an id that does not exist.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django.http import Http404

from apps_analytics.models import Client
from usage.models import Organization


def readable_organizations(user) -> QuerySet[Organization]:
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)


def readable_clients(user) -> QuerySet[Client]:
    if user.is_staff:
        return Client.objects.all()
    return Client.objects.filter(grants__user=user)


def organization_or_404(user, org_id: UUID) -> Organization:
    organization = readable_organizations(user).filter(pk=org_id).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization


def client_or_404(user, client_id: UUID) -> Client:
    client = readable_clients(user).filter(pk=client_id).first()
    if client is None:
        raise Http404("No such client.")
    return client
