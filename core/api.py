"""REST ingestion (SPEC §10): ``POST /v2/ingest`` takes interchange records, all or nothing.

The body is a JSON array of records (``application/json``) or one record a line
(``application/x-ndjson``). The records are checked by the interchange kind registry, exactly as
``import_usage`` checks a file, and written in one transaction; a record whose key exists updates it.

Only tokens allowed to write (``can_write``) may post, and a token writes only into its own
tenants: its user's organization (device usage kinds) and the clients it has a grant for (app
kinds). Staff tokens may write anything. A record for any other tenant, or one that would overwrite
another tenant's row, refuses the whole request with 403; any other bad record with 400, naming the
record (its index in the array, or its line) and the reason.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps_analytics.models import ClientGrant
from core.errors import ApiError
from core.interchange import UNRESTRICTED, Importer, ImportFailed, WriteScope, read_lines
from core.models import ApiToken
from core.schema import error_responses
from usage.models import OrganizationMembership

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines")
MAX_LISTED_ERRORS = 20
DESCRIPTION = __doc__


def max_body_bytes() -> int:
    return getattr(settings, "INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


def write_scope(user) -> WriteScope:
    """The tenants ``user``'s tokens may write into."""
    if user.is_staff:
        return UNRESTRICTED
    organizations = OrganizationMembership.objects.filter(user=user).values_list("organization_id", flat=True)
    clients = ClientGrant.objects.filter(user=user).values_list("client_id", flat=True)
    return WriteScope(
        organizations=frozenset(str(pk) for pk in organizations), clients=frozenset(str(pk) for pk in clients)
    )


def read_records(request: Request) -> tuple[list[tuple[int, Any]], str]:
    """The posted records as (position, record) pairs, and what a position is called ("record" or "line")."""
    header = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(header)
    except ValueError:
        raise ApiError(f"The Content-Length header is not a number: {header!r}.", status_code=400)
    if length > max_body_bytes():
        raise ApiError(
            f"The request body is {length} bytes; at most {max_body_bytes()} are accepted. Send the records in "
            "several requests.",
            status_code=413,
        )
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    body = request.body
    if media_type in NDJSON_TYPES:
        return list(read_lines(body.splitlines())), "line"
    if media_type != "application/json":
        raise ApiError(
            f"Content-Type {media_type or '(none)'!r} is not accepted: send application/json (an array of records) "
            "or application/x-ndjson (one record a line).",
            status_code=415,
        )
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"The body is not valid JSON ({exc.msg} at character {exc.pos}).", status_code=400)
    if not isinstance(records, list):
        raise ApiError("The body must be a JSON array of records, each an object with a 'kind'.", status_code=400)
    return list(enumerate(records)), "record"


class IngestView(APIView):
    """Bulk, idempotent, all-or-nothing ingestion of interchange records."""

    parser_classes: list = []  # the body is read here: its size is capped and NDJSON is not a DRF format

    @extend_schema(
        operation_id="ingest_records",
        summary="Ingest interchange records",
        description=DESCRIPTION,
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The number of records of each kind written."),
            **error_responses(
                e400="A record is invalid; nothing was written.",
                e401="Missing, unknown or revoked token.",
                e403="The token may not write, or not into a record's tenant.",
                e413="The body is too large.",
            ),
        },
        examples=[
            OpenApiExample(
                "Two sessions",
                request_only=True,
                value=[
                    {
                        "kind": "usage_event",
                        "id": "5b0e7f3c-6a43-4b8e-9d7a-1f2a3b4c5d6e",
                        "organization": "aa3685b2-f0ef-42d4-b456-13bd8dfac297",
                        "device": "a001-pixel@fra-lab-01.example.net",
                        "start_time": "2026-11-16T09:00:00+01:00",
                        "end_time": "2026-11-16T09:45:00+01:00",
                        "automated": False,
                    }
                ],
            ),
            OpenApiExample("Written", response_only=True, value={"imported": {"usage_event": 1}, "records": 1}),
        ],
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, ApiToken) or not token.can_write:
            raise ApiError(
                "This token may not write. Ingestion needs a token created with write access "
                "(create_api_token --write, or 'can write' in the admin).",
                status_code=403,
            )
        records, label = read_records(request)
        try:
            counts = Importer(scope=write_scope(request.user), label=label).run(records)
        except ImportFailed as failed:
            raise refusal(failed, label)
        return Response({"imported": counts, "records": sum(counts.values())})


def refusal(failed: ImportFailed, label: str) -> ApiError:
    """403 when any record writes into another tenant (security first), else 400; every error is listed."""
    forbidden = [error for error in failed.errors if error.forbidden]
    first = (forbidden or failed.errors)[0]
    errors = [
        {label: error.position, "kind": error.kind or None, "message": error.message}
        for error in failed.errors[:MAX_LISTED_ERRORS]
    ]
    message = first.describe(label) + ". Nothing was written."
    return ApiError(message, status_code=403 if forbidden else 400, details={"errors": errors})
