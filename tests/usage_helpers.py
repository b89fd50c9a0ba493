"""Helpers shared by the device usage tests: building sessions, calling routes, reading bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.test import APIClient

from usage.models import Device, Host, Organization, Team, UsageEvent, User


def body(response: HttpResponse | StreamingHttpResponse) -> Any:
    """The response body: parsed JSON for JSON responses, text otherwise (streamed or not)."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response["Content-Type"].startswith("application/json"):
        return orjson.loads(raw)
    return raw.decode("utf-8")


def get(client: APIClient, path: str, params: dict[str, Any] | list[tuple[str, str]] | None = None) -> tuple[int, Any]:
    """GET ``path`` with ``params`` (lists become repeated keys); (status, body)."""
    query = urlencode(params or {}, doseq=True)
    response = client.get(f"{path}?{query}" if query else path)
    return response.status_code, body(response)


def utc(text: str) -> datetime:
    """``"2024-01-01 10:00"`` (or with seconds) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str) -> datetime:
    """A wall-clock time in ``zone`` as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def make_device(org: Organization, address: str, **fields: Any) -> Device:
    device_id, hostname = address.split("@")
    host, _ = Host.objects.get_or_create(hostname=hostname)
    return Device.objects.create(organization=org, host=host, device_id=device_id, **fields)


def awkward_devices(org: Organization, names: list[str]) -> list[Device]:
    """Four devices on two hosts, their device ids and host names made of ``names[0:6]`` (awkward
    text from a property test) and kept unique by a suffix."""
    hosts = [Host.objects.create(hostname=f"{names[i]}h{i}") for i in range(2)]
    return [
        Device.objects.create(organization=org, host=hosts[i % 2], device_id=f"{names[2 + i]}{i}") for i in range(4)
    ]


def session(
    device: Device,
    start: datetime,
    end: datetime,
    *,
    user: User | None = None,
    team: Team | None = None,
    automated: bool = False,
) -> UsageEvent:
    return UsageEvent.objects.create(
        organization=device.organization,
        device=device,
        user=user,
        team=team,
        start_time=start,
        end_time=end,
        automated=automated,
    )
