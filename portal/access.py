"""What a portal page may show: what the same login reads through the API (core.tenancy's rules).

Pages of an organization or client the login may not read are a 404, exactly as an id that does
not exist: a page never confirms that another tenant's id exists.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import Http404

from core.models import Client, Organization
from core.tenancy import readable_clients, readable_organizations


def organization_or_404(user: Any, org_id: UUID) -> Organization:
    organization = readable_organizations(user).filter(pk=org_id).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization


def client_or_404(user: Any, client_id: UUID) -> Client:
    client = readable_clients(user).filter(pk=client_id).first()
    if client is None:
        raise Http404("No such client.")
    return client
