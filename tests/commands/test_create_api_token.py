"""`manage.py create_api_token`: user creation, grants, the token on the last line, clean refusals."""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps_analytics.models import Client, ClientGrant
from core.models import ApiToken, hash_token
from tests.conftest import api_client
from usage.models import OrganizationMembership

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_creates_the_user_grants_and_prints_the_token_last(org):
    acme, beta = Client.objects.create(name="Acme apps"), Client.objects.create(name="Beta apps")
    lines = run("carol", "--organization", str(org.pk), "--client", str(acme.pk), "--client", str(beta.pk))

    user = get_user_model().objects.get(username="carol")
    assert not user.is_staff and not user.has_usable_password()
    assert OrganizationMembership.objects.get(user=user).organization == org
    assert set(ClientGrant.objects.filter(user=user).values_list("client__name", flat=True)) == {
        "Acme apps",
        "Beta apps",
    }
    token = ApiToken.objects.get(user=user)
    raw = lines[-1]
    assert raw.startswith("ua_") and " " not in raw
    assert token.key_hash == hash_token(raw) and not token.can_write
    assert lines[0] == (
        f"Created user 'carol'; granted organization Acme ({org.pk}), client Acme apps ({acme.pk}), "
        f"client Beta apps ({beta.pk})."
    )


def test_a_write_token_can_ingest_into_its_organization(org):
    raw = run("dave", "--organization", str(org.pk), "--write")[-1]
    record = {"kind": "team", "id": "00000000-0000-4000-8000-000000000011", "organization": str(org.pk), "name": "Red"}
    response = api_client(raw).post("/v2/ingest", data=[record], format="json")
    assert response.status_code == 200
    assert response.json() == {"imported": {"team": 1}, "records": 1}
    readonly = run("erin", "--organization", str(org.pk))[-1]
    assert api_client(readonly).post("/v2/ingest", data=[record], format="json").status_code == 403


def test_clients_can_be_given_after_one_option(org):
    acme, beta = Client.objects.create(name="A"), Client.objects.create(name="B")
    run("erin", "--client", str(acme.pk), str(beta.pk))
    assert ClientGrant.objects.filter(user__username="erin").count() == 2


def test_staff_and_write_flags_and_an_existing_user(org, other_org):
    get_user_model().objects.create_user(username="frank", password="pw-unchanged-123")
    run("frank", "--organization", str(org.pk))
    lines = run("frank", "--organization", str(other_org.pk), "--staff", "--write")
    user = get_user_model().objects.get(username="frank")
    assert user.is_staff and user.check_password("pw-unchanged-123")
    assert OrganizationMembership.objects.get(user=user).organization == other_org
    assert ApiToken.objects.filter(user=user).count() == 2
    newest = ApiToken.objects.filter(user=user).order_by("-id").first()
    assert newest.can_write and newest.key_hash == hash_token(lines[-1])
    assert lines[-2] == "Token (shown once, store it now) [staff, write]:"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--organization", "00000000-0000-0000-0000-000000000001"],
            "--organization 00000000-0000-0000-0000-000000000001: no such organization.",
        ),
        (["--organization", "acme"], "--organization 'acme' is not a UUID."),
        (
            ["--client", "00000000-0000-0000-0000-000000000002"],
            "--client 00000000-0000-0000-0000-000000000002: no such client.",
        ),
        (["--client", "nope"], "--client 'nope' is not a UUID."),
    ],
)
def test_unknown_organization_or_client_writes_nothing(org, args, message):
    Client.objects.create(name="Known")
    with pytest.raises(CommandError) as error:
        run("gina", *args)
    assert str(error.value) == message
    assert not get_user_model().objects.filter(username="gina").exists()
    assert ApiToken.objects.count() == 0


def test_a_missing_client_among_known_ones_writes_nothing(org):
    known = Client.objects.create(name="Known")
    missing = str(uuid.uuid4())
    with pytest.raises(CommandError, match=f"--client {missing}: no such client."):
        run("hank", "--organization", str(org.pk), "--client", str(known.pk), missing)
    assert ClientGrant.objects.count() == 0 and OrganizationMembership.objects.count() == 0
