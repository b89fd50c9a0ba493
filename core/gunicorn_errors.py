"""Gunicorn's own error answers (malformed request line, URI too long, bad headers) in the error
envelope rather than its HTML page. Imported by gunicorn.conf.py; gunicorn writes these before the
request reaches Django, through ``gunicorn.util.write_error``, which this replaces."""

from __future__ import annotations

import json

from gunicorn import util

CODES = {500: "server_error", 501: "server_error", 503: "service_unavailable", 403: "permission_denied"}


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    code = CODES.get(status_int, "invalid_parameter")
    message = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"error": {"code": code, "message": message[:500], "details": {}}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


util.write_error = write_error
