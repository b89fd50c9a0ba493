"""Keeps the error envelope on API paths for errors raised outside DRF views.

Unknown API routes, method errors on plain Django views, request-size errors and unhandled
exceptions would otherwise produce Django's HTML pages (or a traceback with DEBUG on).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from core.errors import json_error, known_failure

logger = logging.getLogger("core.errors")

API_PREFIXES = ("/v0/", "/v1/", "/v2/", "/api/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path in {"/v0", "/v1", "/v2"}


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return json_error(404, f"No API route matches {request.path!r}. See /api/docs/ for the routes.")
        if response.status_code == 405:
            return json_error(405, f"Method {request.method} is not allowed on {request.path}.")
        if response.status_code == 400:
            return json_error(400, "The request could not be read.")
        return json_error(response.status_code if response.status_code >= 500 else 500, "Internal server error.")

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        found = known_failure(exception)
        if found is not None:
            status_code, message, headers = found
            if status_code >= 500:
                logger.warning("%s on %s %s: %s", status_code, request.method, request.path, exception)
            return json_error(status_code, message, headers=headers)
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return json_error(500, "Internal server error. It has been logged.")
