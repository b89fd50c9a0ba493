"""One error envelope for every non-2xx API response (SPEC §3).

{"error": {"code": "invalid_parameter", "message": "...", "details": {...}}}
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

CODE_BY_STATUS = {
    400: "invalid_parameter",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "invalid_parameter",
    429: "rate_limited",
    500: "server_error",
    503: "service_unavailable",
}


class ApiError(exceptions.APIException):
    """An error with an explicit code, message and details; raised anywhere under a view."""

    def __init__(
        self, message: str, *, status_code: int = 400, details: dict[str, Any] | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = details or {}
        self.error_code = code or CODE_BY_STATUS.get(status_code, "server_error")


class InvalidParameter(ApiError):
    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message, status_code=400, details=details)


class NotFound(ApiError):
    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message, status_code=404, details=details)


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def json_error(
    status_code: int, message: str, details: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
) -> JsonResponse:
    code = CODE_BY_STATUS.get(status_code, "server_error" if status_code >= 500 else "invalid_parameter")
    return JsonResponse(envelope(code, message, details), status=status_code, headers=headers)


def known_failure(exc: BaseException) -> tuple[int, str, dict[str, str]] | None:
    """(status, message, headers) for errors raised below the views that are not the service's fault:
    a database that is down or a query past its time limit (503), a request Django refuses (400/413).
    None for anything else (a 500)."""
    from core.db import RETRY_AFTER_SECONDS, DatabaseTrouble, classify, trouble_message

    trouble = classify(exc)
    if trouble is DatabaseTrouble.UNAVAILABLE:
        return 503, trouble_message(trouble), {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if trouble is DatabaseTrouble.TIMEOUT:
        return 503, trouble_message(trouble), {}
    if isinstance(exc, RequestDataTooBig):
        return 413, "The request body is too large.", {}
    if isinstance(exc, TooManyFieldsSent):
        return (
            400,
            (
                f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters or form fields; "
                "send fewer (repeated filters can often be replaced by a broader one)."
            ),
            {},
        )
    if isinstance(exc, DisallowedHost):
        return 400, "The Host header names a host this service does not answer for.", {}
    if isinstance(exc, SuspiciousOperation):
        return 400, "The request could not be read.", {}
    return None


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: what Django refuses before any view (disallowed host, too many fields), in the envelope."""
    found = known_failure(exception) if exception is not None else None
    status_code, message, headers = found or (400, "The request could not be read.", {})
    return json_error(status_code, message, headers=headers)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unhandled error anywhere (a middleware included); a database outage is a 503."""
    import sys

    exc = sys.exc_info()[1]
    found = known_failure(exc) if exc is not None else None
    if found is not None and found[0] == 503:
        return json_error(503, found[1], headers=found[2])
    return json_error(500, "Internal server error. It has been logged.")


def _flatten(detail: Any) -> str:
    """The first human message inside DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _flatten(value)
            return text if key == "non_field_errors" or text.startswith(f"{key} ") else f"{key}: {text}"
        return "Invalid input."
    if isinstance(detail, list):
        return _flatten(detail[0]) if detail else "Invalid input."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing the envelope."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        body = envelope(exc.error_code, exc.message, exc.details)
        status_code = exc.status_code
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            status_code = status.HTTP_401_UNAUTHORIZED
            message = str(exc.detail)
            if isinstance(exc, exceptions.NotAuthenticated):
                message = "Authentication required: send 'Authorization: Bearer <token>'."
        elif isinstance(exc, exceptions.ValidationError):
            message = _flatten(exc.detail)
        else:
            message = _flatten(exc.detail)
        details = exc.detail if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict) else {}
        body = envelope(CODE_BY_STATUS.get(status_code, "server_error"), message, _plain(details))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))  # as in DRF's message
    elif (found := known_failure(exc)) is not None:
        status_code, message, headers = found
        body = envelope(CODE_BY_STATUS[status_code], message)
    else:
        return None  # Django's handler (and JsonErrorMiddleware) turn it into a 500 envelope.

    if status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(body, status=status_code, headers=headers)


def _plain(value: Any) -> Any:
    """ErrorDetail objects to plain strings, so the body renders predictably."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)
