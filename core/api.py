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
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import BearerTokenAuthentication
from core.errors import ApiError
from core.interchange import Importer, ImportFailed, kinds, read_lines
from core.schema import error_responses
from core.tenancy import CanWrite, write_scope

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines")
MAX_LISTED_ERRORS = 20
DESCRIPTION = __doc__


def max_body_bytes() -> int:
    return getattr(settings, "INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


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


class IngestRecordSerializer(serializers.Serializer):
    """An interchange record (schema only): its kind, then the kind's fields (SPEC section 10)."""

    kind = serializers.ChoiceField(choices=[])  # filled in per instance: the registry is complete only then

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kinds().names()


class IngestResultSerializer(serializers.Serializer):
    imported = serializers.DictField(child=serializers.IntegerField(min_value=0), help_text="Records written by kind.")
    records = serializers.IntegerField(min_value=0, help_text="Records written in all.")


class IngestView(APIView):
    """Bulk, idempotent, all-or-nothing ingestion of interchange records."""

    parser_classes: list = []  # the body is read here: its size is capped and NDJSON is not a DRF format
    # Writing needs a token created with write access: a browser session never writes (and its CSRF check
    # would read the body through DRF's parsers, which this view does not use).
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated, CanWrite]

    @extend_schema(
        operation_id="ingest_records",
        summary="Ingest interchange records",
        description=DESCRIPTION,
        request={
            "application/json": IngestRecordSerializer(many=True),
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={
            200: OpenApiResponse(IngestResultSerializer, description="The number of records of each kind written."),
            **error_responses(
                e400="A record is invalid; nothing was written.",
                e403="The token may not write, or not into a record's tenant.",
                e413="The body is too large.",
                e415="The body is neither application/json nor application/x-ndjson.",
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
