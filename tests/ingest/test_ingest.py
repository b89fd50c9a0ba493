"""POST /v2/ingest: write tokens only, own tenants only, same checks as import_usage, all or nothing."""

from __future__ import annotations

import orjson
import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import override_settings

from apps_analytics.models import AppUsageReport, Client, ClientGrant
from core.models import ApiToken
from tests.conftest import api_client
from tests.interchange.conftest import CLIENT, EVENT, ORG, ORG2, TEAM, dataset, jsonl, row_counts
from usage.models import Device, Host, Organization, OrganizationMembership, Team, UsageEvent

pytestmark = pytest.mark.django_db

URL = "/v2/ingest"
OTHER_CLIENT = "00000000-0000-4000-8000-000000000042"


def writer(
    username: str,
    *,
    organization: str | None = None,
    clients: tuple[str, ...] = (),
    staff: bool = False,
    can_write: bool = True,
):
    user = get_user_model().objects.create_user(username=username, is_staff=staff)
    if organization:
        OrganizationMembership.objects.create(user=user, organization_id=organization)
    for client in clients:
        ClientGrant.objects.create(user=user, client_id=client)
    _, raw = ApiToken.issue(user=user, can_write=can_write)
    return api_client(raw)


def post(client, records, content_type: str = "application/json"):
    body = jsonl(records) if "ndjson" in content_type else orjson.dumps(records)
    return client.post(URL, data=body, content_type=content_type)


@pytest.fixture
def tenants(db):
    """Acme (ORG) with client Initech (CLIENT), and Globex (ORG2) with another client; both stored."""
    Organization.objects.create(id=ORG, name="Acme")
    Organization.objects.create(id=ORG2, name="Globex")
    Client.objects.create(id=CLIENT, name="Initech", timezone="Europe/Paris")
    Client.objects.create(id=OTHER_CLIENT, name="Hooli", timezone="UTC")


@pytest.fixture
def acme(tenants):
    return writer("acme-writer", organization=ORG, clients=(CLIENT,))


@pytest.fixture
def globex(tenants):
    return writer("globex-writer", organization=ORG2, clients=(OTHER_CLIENT,))


def envelope(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def test_a_json_array_is_written_and_counted(acme):
    response = post(acme, dataset())
    assert response.status_code == 200
    assert response.json() == {
        "imported": {
            "organization": 1,
            "team": 1,
            "user": 1,
            "host": 1,
            "device": 1,
            "usage_event": 2,
            "client": 1,
            "department": 1,
            "client_user": 1,
            "application": 1,
            "app_usage_report": 1,
        },
        "records": 12,
    }
    assert UsageEvent.objects.filter(organization_id=ORG).count() == 2
    assert AppUsageReport.objects.get().total_active_ms == 60000


def test_posting_twice_is_idempotent_and_updates_apply(acme):
    assert post(acme, dataset()).status_code == 200
    counts = row_counts()
    records = dataset()
    records[11] = {**records[11], "total_active_ms": 1}
    records[1] = {**records[1], "name": "Crimson"}
    assert post(acme, records).status_code == 200
    assert row_counts() == counts
    assert AppUsageReport.objects.get().total_active_ms == 1
    assert Team.objects.get(pk=TEAM).name == "Crimson"


def test_ndjson_bodies_are_accepted_and_errors_name_the_line(acme):
    response = post(acme, dataset(), "application/x-ndjson")
    assert response.status_code == 200 and response.json()["records"] == 12
    bad = [*dataset()[:3], {"kind": "team", "id": TEAM}]
    response = post(acme, bad, "application/x-ndjson; charset=utf-8")
    assert response.status_code == 400
    assert response.json() == envelope(
        "invalid_parameter",
        "line 4: team: missing field 'organization'. Nothing was written.",
        {"errors": [{"line": 4, "kind": "team", "message": "missing field 'organization'"}]},
    )


def test_a_bad_record_is_a_400_naming_its_index_and_nothing_is_written(acme):
    records = dataset()
    records[5] = {**records[5], "end_time": "2026-08-01T07:00:00+00:00"}
    records[11] = {**records[11], "total_session_count": -1}
    response = post(acme, records)
    assert response.status_code == 400
    assert response.json() == envelope(
        "invalid_parameter",
        "record 5: usage_event: end_time is before start_time. Nothing was written.",
        {
            "errors": [
                {"record": 5, "kind": "usage_event", "message": "end_time is before start_time"},
                {
                    "record": 11,
                    "kind": "app_usage_report",
                    "message": "total_session_count: must not be negative (got -1)",
                },
            ]
        },
    )
    assert row_counts() == {**{name: 0 for name in row_counts()}, "Organization": 2, "Client": 2}


def test_a_second_tenant_cannot_write_into_the_first(acme, globex):
    response = post(globex, dataset()[1:3])  # a team and a user of Acme
    assert response.status_code == 403
    assert response.json() == envelope(
        "permission_denied",
        f"record 0: team: this token may not write into organization {ORG}. Nothing was written.",
        {
            "errors": [
                {"record": 0, "kind": "team", "message": f"this token may not write into organization {ORG}"},
                {"record": 1, "kind": "user", "message": f"this token may not write into organization {ORG}"},
            ]
        },
    )
    assert Team.objects.count() == 0


def test_a_second_tenant_cannot_write_into_a_client_it_has_no_grant_for(acme, globex):
    response = post(globex, [dataset()[7]])  # Initech: Acme's client
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        f"record 0: client: this token may not write into client {CLIENT}. Nothing was written."
    )
    assert Client.objects.get(pk=CLIENT).timezone == "Europe/Paris"


def test_a_second_tenant_cannot_overwrite_the_first_tenants_rows_through_its_own(acme, globex):
    assert post(acme, dataset()).status_code == 200
    before = row_counts()
    # The same session id and device address, claimed for Globex.
    stolen_event = {**dataset()[5], "organization": ORG2, "device": "g-1@h1.acme.test", "user": None, "team": None}
    device = {"kind": "device", "organization": ORG2, "device_id": "g-1", "hostname": "h1.acme.test"}
    response = post(globex, [device, stolen_event])
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {
        "errors": [
            {"record": 1, "kind": "usage_event", "message": f"usage_event {EVENT} is not yours: the id is taken"}
        ]
    }
    stolen_device = {**dataset()[4], "organization": ORG2}
    response = post(globex, [stolen_device])
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "record 0: device: device tab-1@h1.acme.test is not yours: the address is taken. Nothing was written."
    )
    # Nor refer to them: the reference reads as one to an id that does not exist (tests/operation).
    own_event = {
        **dataset()[6],
        "id": "00000000-0000-4000-8000-000000000099",
        "organization": ORG2,
        "device": "g-1@h1.acme.test",
    }
    response = post(globex, [device, own_event])
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"record 1: usage_event: team {TEAM} is unknown or not yours (neither defined earlier in the input nor "
        "stored for this tenant). Nothing was written."
    )
    assert row_counts() == before
    assert UsageEvent.objects.get(pk=EVENT).organization_id.hex == ORG.replace("-", "")


def test_hosts_shared_with_another_organization_only_change_for_staff(acme, globex):
    assert post(acme, dataset()).status_code == 200
    unchanged = post(globex, [{"kind": "host", "hostname": "h1.acme.test", "country": "DE"}])
    assert unchanged.status_code == 200
    changed = post(globex, [{"kind": "host", "hostname": "h1.acme.test", "country": "FR"}])
    assert changed.status_code == 403
    assert changed.json()["error"]["message"] == (
        "record 0: host: host h1.acme.test has devices of another organization; only staff can change it. "
        "Nothing was written."
    )
    assert post(globex, [{"kind": "host", "hostname": "g.example", "country": "US"}]).status_code == 200
    assert post(acme, [{"kind": "host", "hostname": "h1.acme.test", "country": "AT"}]).status_code == 200
    assert Host.objects.get(hostname="h1.acme.test").country == "AT"


def test_staff_tokens_write_anything(tenants):
    staff = writer("ops", staff=True)
    assert post(staff, dataset()).status_code == 200
    assert post(staff, [{**dataset()[4], "model": "Tab S9"}]).status_code == 200
    assert Device.objects.get().model == "Tab S9"


def test_a_read_only_token_is_refused(tenants):
    reader = writer("reader", organization=ORG, can_write=False)
    response = post(reader, dataset())
    assert response.status_code == 403
    assert response.json() == envelope(
        "permission_denied",
        "This token may not write. Ingestion needs a token created with write access (create_api_token --write, "
        "or 'can write' in the admin).",
    )
    assert row_counts()["Team"] == 0


def test_no_token_is_a_401(tenants):
    response = post(api_client(None), dataset())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_get_is_a_405_envelope(acme):
    response = acme.get(URL)
    assert response.status_code == 405
    assert response.json() == envelope("method_not_allowed", 'Method "GET" not allowed.')


@override_settings(INGEST_MAX_BODY_BYTES=300)
def test_the_body_size_is_capped(acme):
    body = orjson.dumps(dataset())
    response = acme.post(URL, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == envelope(
        "payload_too_large",
        f"The request body is {len(body)} bytes; at most 300 are accepted. Send the records in several requests.",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"[{", "application/json", 400, "The body is not valid JSON (unexpected end of data at character 2)."),
        (
            b'{"kind": "host"}',
            "application/json",
            400,
            "The body must be a JSON array of records, each an object with a 'kind'.",
        ),
        (
            b"kind=host",
            "application/x-www-form-urlencoded",
            415,
            "Content-Type 'application/x-www-form-urlencoded' is not accepted: send application/json (an array of "
            "records) or application/x-ndjson (one record a line).",
        ),
        (
            b"[1]",
            "application/json",
            400,
            "record 0: a record must be a JSON object with a 'kind'. Nothing was written.",
        ),
    ],
)
def test_unreadable_bodies(acme, body, content_type, status, message):
    response = acme.post(URL, data=body, content_type=content_type)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message


def test_an_empty_array_writes_nothing(acme):
    response = post(acme, [])
    assert response.status_code == 200
    assert response.json() == {"imported": {}, "records": 0}


def test_the_route_is_in_the_openapi_schema(acme):
    schema = acme.get("/api/schema/")
    assert schema.status_code == 200
    operations = yaml.safe_load(schema.content)["paths"]["/v2/ingest"]
    assert list(operations) == ["post"]
    assert set(operations["post"]["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
