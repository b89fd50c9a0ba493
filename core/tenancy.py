"""Who may read and write what (SPEC §2): the one home of the tenant rules.

The same rules hold for a bearer token and for a browser session (the portal), since both resolve to
a Django user:

- **Usage routes and discovery** (``/v0``, ``/v1``, ``/v2/usage...``, ``/v2/devices``...) read one
  organization: the user's membership. Staff may name one with ``org_id`` (required when the staff
  user belongs to none); anyone else naming another organization is refused.
- **App analytics routes** read the client in the path: unknown 404, no grant 403; staff read all.
  (An app that is not the client's is a 404: the apps' own rule, on top of this one.)
- **Ingestion** writes only with a token allowed to write, into the user's organization and granted
  clients (staff: anything).

Plain functions do the deciding; the DRF permission classes and view mixins below apply them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.errors import ApiError, InvalidParameter, NotFound
from core.interchange import UNRESTRICTED, WriteScope
from core.models import ApiToken, Client, ClientGrant, Organization, OrganizationMembership

ORG_ID = "org_id"


def organization_for(*, user: Any, org_id: UUID | None) -> Organization:
    """The organization a usage route reads: the user's; staff may pick one with ``org_id``."""
    membership = OrganizationMembership.objects.select_related("organization").filter(user=user).first()
    if user.is_staff:
        if org_id is not None:
            organization = Organization.objects.filter(pk=org_id).first()
            if organization is None:
                raise ApiError(f"No organization has id {org_id}.", status_code=404, details={"org_id": str(org_id)})
            return organization
        if membership is None:
            raise InvalidParameter(
                "org_id is required for a staff token that belongs to no organization", {"org_id": None}
            )
        return membership.organization
    if membership is None:
        raise ApiError("This token's user belongs to no organization.", status_code=403)
    if org_id is not None and org_id != membership.organization_id:
        raise ApiError(
            "org_id names an organization this token cannot read.", status_code=403, details={"org_id": str(org_id)}
        )
    return membership.organization


def readable_organizations(user: Any) -> QuerySet[Organization]:
    """The organizations ``user`` reads: staff all of them, a member theirs (the portal lists these)."""
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)


def readable_clients(user: Any) -> QuerySet[Client]:
    """The clients ``user`` reads: staff all of them, anyone else those they have a grant for."""
    if user.is_staff:
        return Client.objects.all()
    return Client.objects.filter(grants__user=user)


def readable_client(*, user: Any, client_id: UUID) -> Client:
    """The client of the path if the user may read it: 404 when unknown, 403 without a grant (staff read all)."""
    granted = ClientGrant.objects.filter(client=OuterRef("pk"), user=user)
    client = Client.objects.annotate(granted=Exists(granted)).filter(pk=client_id).first()
    if client is None:
        raise NotFound(f"Client {client_id} does not exist.", {"client_id": str(client_id)})
    if not (user.is_staff or client.granted):
        raise ApiError(
            f"You have no access to client {client_id}.", status_code=403, details={"client_id": str(client_id)}
        )
    return client


def write_scope(user: Any) -> WriteScope:
    """The tenants ``user``'s tokens may write into."""
    if user.is_staff:
        return UNRESTRICTED
    organizations = OrganizationMembership.objects.filter(user=user).values_list("organization_id", flat=True)
    clients = ClientGrant.objects.filter(user=user).values_list("client_id", flat=True)
    return WriteScope(
        organizations=frozenset(str(pk) for pk in organizations), clients=frozenset(str(pk) for pk in clients)
    )


def parse_org_id(values: list[str]) -> UUID | None:
    """The ``org_id`` query parameter: absent, or one UUID."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter(f"{ORG_ID} was given {len(values)} times; give it once.", {ORG_ID: values})
    try:
        return UUID(values[0].strip())
    except ValueError:
        raise InvalidParameter(f"{ORG_ID} must be a UUID, got {values[0]!r}", {ORG_ID: values[0]})


# --------------------------------------------------------------------------------------------
# DRF: permissions and view mixins
# --------------------------------------------------------------------------------------------


class IsStaff(BasePermission):
    """Staff only (the list of organizations, for org_id)."""

    message = "Only staff may list organizations."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_staff)


class CanWrite(BasePermission):
    """Ingestion: a token created with write access (a browser session never writes)."""

    message = (
        "This token may not write. Ingestion needs a token created with write access "
        "(create_api_token --write, or 'can write' in the admin)."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiToken) and request.auth.can_write


class OrganizationScoped:
    """A view on one organization's rows: ``self.organization`` is resolved from the caller and ``org_id``.

    ``get_queryset`` keeps the rows whose ``organization_field`` is that organization, so that another
    organization's id reads as missing (404).
    """

    organization: Organization
    organization_field = "organization"
    tenant_parameters = (ORG_ID,)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        org_id = parse_org_id(request.query_params.getlist(ORG_ID))
        self.organization = organization_for(user=request.user, org_id=org_id)

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().filter(**{self.organization_field: self.organization})  # type: ignore[misc]


class ClientScoped:
    """A view on the client of the path: ``self.client``, once the caller is authenticated."""

    client: Client

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.client = readable_client(user=request.user, client_id=kwargs["client_id"])
