"""Cached report answers, keyed by the tenant's data versions: a repeated report is served from
Django's cache until a write changes its data, and never after.

The key is the route's own name for the report, its validated parameters and the current data
versions of the tenant and its area (``core.versions``), read from the primary database on every
request: one small query. A cached answer is the response's bytes, gzip-compressed as they stream to
the first caller (no second rendering; memory bounded by the compressed size), and kept when that is
at most ``REPORT_CACHE_MAX_BYTES``. A hit goes out compressed to clients that accept gzip (a year of
device/day JSON: 42 MB, about 5 MB compressed), decompressed to the others. Errors are never cached.
Answers shaped by other code are never served: every key holds a digest of the project's source,
and the ``release`` version that every ``migrate`` raises (see ``core.apps``). A cache out of reach
answers as a miss.

The cache is the ``reports`` alias: Redis when ``REDIS_URL`` is set, else the database cache table;
tests use process memory.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from core import versions

logger = logging.getLogger(__name__)
KEPT_HEADERS = ("Content-Type", "Content-Disposition")
FORMAT = "gzip-1"  # of the cached values: anything else (a value of another release) is a miss


def _plain(value: Any) -> Any:
    """Parameter values as JSON-able values that compare equal exactly when the values do."""
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)  # UUIDs, and values that print what they hold (dataclasses of parameters)


@functools.cache
def code_version() -> str:
    """A digest of the project's Python source: answers cached by other code are never served
    (a rolling deploy, or new code started before its ``migrate``)."""
    digest = hashlib.sha256()
    for path in sorted(Path(settings.BASE_DIR).glob("*/**/*.py")):
        if ".venv" not in path.parts and "tests" not in path.parts:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(*, scopes: Sequence[str], report: tuple[Any, ...]) -> str:
    """The cache key of ``report`` (a route's name and its parameters) at the scopes' current versions."""
    current = versions.current([*scopes, versions.RELEASE])
    material = orjson.dumps(
        [code_version(), list(scopes), current, report], default=_plain, option=orjson.OPT_SORT_KEYS
    )
    return "report:" + hashlib.sha256(material).hexdigest()


def _accepts_gzip(request: HttpRequest) -> bool:
    """Whether ``Accept-Encoding`` names gzip with a weight above zero (``gzip;q=0`` refuses it)."""
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, weight = coding.partition(";")
        if name.strip().lower() == "gzip":
            try:
                return float(weight.strip().removeprefix("q=") or 1) > 0
            except ValueError:
                return False
    return False


def _cache_get(key: str) -> Any:
    """The cached value, or None: a cache out of reach (Redis down) answers as a miss, not a 500."""
    try:
        return caches["reports"].get(key)
    except Exception:  # the backends raise their own client errors
        logger.warning("report cache unavailable: answering without it", exc_info=True)
        return None


def _cache_set(key: str, value: Any) -> None:
    try:
        caches["reports"].set(key, value)
    except Exception:
        logger.warning("report cache unavailable: the answer is not kept", exc_info=True)


def cached_response(
    *,
    request: HttpRequest,
    scopes: Sequence[str],
    report: tuple[Any, ...],
    respond: Callable[[], StreamingHttpResponse],
) -> HttpResponseBase:
    """The cached answer of ``report`` if its data did not change since, else ``respond()``'s,
    kept as it streams. ``Cache-Status`` (RFC 9211) says which."""
    key = cache_key(scopes=scopes, report=report)
    hit = _cache_get(key)
    if isinstance(hit, tuple) and len(hit) == 3 and hit[0] == FORMAT:
        _, headers, compressed = hit
        if _accepts_gzip(request):
            response = HttpResponse(compressed, headers={**headers, "Content-Encoding": "gzip"})
        else:
            response = HttpResponse(gzip.decompress(compressed), headers=headers)
        response["Vary"] = "Accept-Encoding"
        response["Cache-Status"] = "reports; hit"
        return response
    response = respond()
    if response.status_code != 200:
        return response
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    response["Cache-Status"] = "reports; fwd=miss"
    response["Vary"] = "Accept-Encoding"
    keep = lambda compressed: _cache_set(key, (FORMAT, headers, compressed))  # noqa: E731
    response.streaming_content = _kept(response.streaming_content, keep, settings.REPORT_CACHE_MAX_BYTES)
    return response


def _kept(chunks: Iterator[bytes], keep: Callable[[bytes], None], limit: int) -> Iterator[bytes]:
    """``chunks`` passed on unchanged; their whole, gzip-compressed, handed to ``keep`` at the end
    if they all came (a failure mid-stream keeps nothing) and it is at most ``limit`` bytes."""
    packer: Any = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing, the fastest level
    parts: list[bytes] | None = []
    size = 0
    for chunk in chunks:
        if parts is not None:
            part = packer.compress(chunk)
            size += len(part)
            if size <= limit:
                parts.append(part)
            else:
                parts = None
        yield chunk
    if parts is not None:
        parts.append(packer.flush())
        if size + len(parts[-1]) <= limit:
            keep(b"".join(parts))


def cached_data(*, scopes: Sequence[str], report: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``'s (JSON-able, small) answer, cached like ``cached_response``'s."""
    key = cache_key(scopes=scopes, report=report)
    hit = _cache_get(key)
    if isinstance(hit, tuple) and len(hit) == 2 and hit[0] == FORMAT:
        return hit[1]
    data = compute()
    _cache_set(key, (FORMAT, data))
    return data
