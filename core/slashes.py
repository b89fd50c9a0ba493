"""One trailing-slash rule for every API route: the preferred form has none (the schema names it),
and the same path with a trailing slash is answered exactly the same, never redirected (a redirect
would drop a POST body) and never a 404."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

API_PREFIXES = ("/v0/", "/v1/", "/v2/")


class TrailingSlashMiddleware:
    """``/v2/usage/`` is resolved as ``/v2/usage`` when only the latter is a route."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.endswith("/") and path.startswith(API_PREFIXES) and not _resolves(path):
            stripped = path.rstrip("/")
            if _resolves(stripped):
                request.path_info = stripped
        return self.get_response(request)


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True
