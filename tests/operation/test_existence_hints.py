"""Errors reveal nothing of other tenants (SPEC §14): a reference to another tenant's id reads exactly
as a reference to an id that does not exist — same status, same words."""

from __future__ import annotations

import orjson
import pytest

from tests.ingest.test_ingest import post, writer
from tests.interchange.conftest import ORG, ORG2, TEAM, dataset

pytestmark = pytest.mark.django_db

NOWHERE = "00000000-0000-4000-8000-00000000dead"


def refusal_for(client, team: str) -> tuple[int, dict]:
    device = {"kind": "device", "organization": ORG2, "device_id": "g-1", "hostname": "h1.acme.test"}
    event = {**dataset()[6], "id": "00000000-0000-4000-8000-000000000099", "organization": ORG2, "team": team}
    event["device"] = "g-1@h1.acme.test"
    response = post(client, [device, event])
    return response.status_code, orjson.loads(response.content.decode().replace(team, "<id>"))["error"]


def test_another_tenants_team_reads_as_an_unknown_one(tenants):
    acme = writer("acme-w", organization=ORG, clients=())
    assert post(acme, dataset()[:7]).status_code == 200  # Acme's team TEAM is stored
    globex = writer("globex-w", organization=ORG2)
    assert refusal_for(globex, TEAM) == refusal_for(globex, NOWHERE)
    status, error = refusal_for(globex, TEAM)
    assert status == 400
    assert error["message"] == (
        "record 1: usage_event: team <id> is unknown or not yours (neither defined earlier in the input nor "
        "stored for this tenant). Nothing was written."
    )
    assert "another" not in str(error) and "belongs" not in str(error)
