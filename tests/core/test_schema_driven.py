"""The schema is the behaviour: schemathesis generates requests from /api/schema/?format=json and
sends them to the app (in process, with a real token and a small dataset), positive and negative.

For every operation: no 5xx; every response (status, content type, body) conforms to the schema;
a request the schema calls valid is not rejected (positive data acceptance); one it calls invalid
is rejected with a 4xx (negative data rejection); the status is one the schema lists.

OpenAPI cannot say how two parameters relate, so positive cases are first brought within the
documented cross-parameter rules (``within_documented_rules``, one line per rule); any other 400
on a positive case fails.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from apps_analytics.models import Application, AppUsageReport, Client, ClientGrant, ClientUser, Department
from core.models import ApiToken
from tests.usage_helpers import make_device, session, utc
from usage.binning import CALENDAR
from usage.models import OrganizationMembership, Team, User
from usage_project.wsgi import application

EXAMPLES = 25  # per operation and mode: the whole run takes about a minute
TODAY = date.today()


@pytest.fixture
def _connection_kept():
    """As Django's test client does: requests must not close the test's connection (and its transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def dataset(db, org, django_user_model, _connection_kept):
    """A member of ``org`` with a grant for one client; a few sessions and app usage rows."""
    team = Team.objects.create(organization=org, name="Alpha")
    person = User.objects.create(organization=org, email="Ada.Lovelace@Example.com", name="Ada")
    person.teams.add(team)
    device = make_device(org, "pixel-7@lab-1.example.net", model="Pixel 7", os="android", device_type="phone")
    session(device, utc("2024-01-01 09:00"), utc("2024-01-01 10:30"), user=person, team=team)
    session(device, utc("2024-01-02 23:30"), utc("2024-01-03 01:00"), team=team, automated=True)
    client = Client.objects.create(name="Acme", timezone="Europe/Paris")
    department = Department.objects.create(client=client, name="Design")
    member = ClientUser.objects.create(client=client, email="grace@example.com")
    member.departments.add(department)
    app = Application.objects.create(client=client, name="Figma")
    AppUsageReport.objects.create(
        client=client,
        application=app,
        user=member,
        activity_date=date(2024, 1, 2),
        total_active_ms=3_600_000,
        total_session_count=3,
    )
    reader = django_user_model.objects.create_user(username="reader")
    OrganizationMembership.objects.create(user=reader, organization=org)
    ClientGrant.objects.create(user=reader, client=client)
    _, token = ApiToken.issue(user=reader)
    return {"token": token, "client": client, "app": app, "department": department}


# As behind the TLS proxy of production (settings redirect plain HTTP when SECURE_SSL_REDIRECT is on).
HTTPS = {"X-Forwarded-Proto": "https"}
# Loaded at collection (schemathesis.pytest.from_fixture fails under pytest 9): the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, headers=HTTPS)
# Generated cases only (the coverage phase would walk every enum value, such as the 597 time zones, and take minutes).
schema.config.phases.coverage.enabled = False
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True, no_shrink=True
)


def _date(text: object) -> date | None:
    digits = str(text).replace("-", "").replace("/", "")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])) if len(digits) == 8 else None
    except ValueError:
        return None


def _set_range(values: dict, start_name: str, end_name: str, *, max_days: int, min_days: int = 0) -> None:
    """Within [start + min_days, start + max_days]: end before start, or a too long range, is a 400."""
    start, end = _date(values.get(start_name)), _date(values.get(end_name))
    if start is None:
        return
    if end is None:
        end = TODAY
    last = date(2999, 12, 31) - start  # the last date the schema allows
    end = min(max(end, start + timedelta(days=min_days)), start + min(timedelta(days=max_days), last))
    values[end_name] = end.isoformat() if "-" in str(values[start_name]) else end.strftime("%Y%m%d")


def within_documented_rules(case, dataset) -> None:
    """Bring a positive case within the rules the schema's descriptions state but cannot express."""
    path = case.operation.path
    values = case.body if case.method == "POST" and isinstance(case.body, dict) else case.query
    if values is None:
        return
    values.pop("cursor", None)  # a cursor is only ever one the previous page returned
    if values.get("ordering") in ([], ""):  # ordering names at least one key (a blank value is a 400)
        values.pop("ordering")
    if path.startswith("/v2/clients/"):
        # The path's client and app are the reader's (another id is a 404, which says nothing more).
        case.path_parameters.update(client_id=str(dataset["client"].id))
        if "app_id" in case.path_parameters:
            case.path_parameters["app_id"] = str(dataset["app"].id)
        _set_range(values, "start_date", "end_date", max_days=365)  # periods of at most 366 days
        if ("compare_start_date" in values) != ("compare_end_date" in values):  # both or neither
            values.pop("compare_start_date", None)
            values.pop("compare_end_date", None)
        _set_range(values, "compare_start_date", "compare_end_date", max_days=365)
        for name in ("department_ids", "department_id"):  # departments of the client
            if name in values:
                values[name] = str(dataset["department"].id)
    elif path == "/v0/usage/events":
        _set_range(values, "start_date", "end_date", min_days=1, max_days=120)  # (start, start + 120 days]
    elif path.startswith(("/v1/", "/v2/usage")):
        values.pop("org_id", None)  # another organization's id is a 403 (staff only)
        grouping = case.path_parameters.get("grouping", "org") if case.path_parameters else "org"
        if grouping not in ("org", "device", "host") and "metrics" in values:  # utilization: groups of devices
            metrics = [name for name in values["metrics"] if name != "utilization"]
            if metrics:
                values["metrics"] = metrics
            else:
                values.pop("metrics")
        start = _date(values.get("start_date"))
        if start is not None and "end_date" not in values and start > TODAY:  # no end: the range ends now
            values["end_date"] = values["start_date"]
        # At most 100,000 bins: 60-second bins over 69 days, hours over 4,166 days.
        bin_size = str(values.get("bin_size", "month"))
        # (the bin count is bounded with each calendar unit's shortest bin: a 23-hour day, as the binning does)
        seconds = CALENDAR[bin_size].approx_seconds if bin_size in CALENDAR else int(bin_size)
        _set_range(values, "start_date", "end_date", max_days=max(seconds * 99_000 // 86400 - 2, 0))


def sent_values_are_valid(case) -> bool:
    """Whether the query string as sent is valid: a query value is text, so a "number instead of a
    string" mutation (``filter_team_name=2.5``) is a valid team name once sent, not invalid data."""
    if case.media_type is not None:
        return False  # a body keeps its JSON types: judged by schemathesis itself
    declared = {p["name"]: p for p in case.operation.definition.raw.get("parameters", []) if p["in"] == "query"}
    query = case.query or {}
    if any(p.get("required") and name not in query for name, p in declared.items()):
        return False
    for name, value in query.items():
        if name not in declared:
            return False
        spec = declared[name]["schema"]
        values = value if isinstance(value, list) else [value]
        if spec.get("type") == "array":
            spec = spec["items"]
        elif len(values) != 1:
            return False
        for item in values:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            if spec.get("type") == "boolean":
                ok = text in ("true", "false")
            elif spec.get("type") == "integer":
                ok = re.fullmatch("-?[0-9]+", text) is not None and spec["minimum"] <= int(text) <= spec["maximum"]
            else:
                ok = ("enum" not in spec or text in spec["enum"]) and re.search(
                    spec.get("pattern", ""), text
                ) is not None
            if not ok:
                return False
    return True


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
def test_every_operation_behaves_as_its_schema_says(case, dataset):
    negative = case._meta is not None and case._meta.generation.mode == GenerationMode.NEGATIVE
    if not negative:
        within_documented_rules(case, dataset)
    # Bodies as sent, not gzip-compressed cached answers (the WSGI transport does not decode them).
    headers = {"Authorization": f"Bearer {dataset['token']}", "Accept-Encoding": "identity", **HTTPS}
    response = case.call(headers=headers)
    # Every check on (no 5xx, documented status, content type and body, positive data accepted,
    # negative data rejected), except that negative data is judged on what was actually sent.
    if negative and sent_values_are_valid(case):
        case.validate_response(response, headers=headers, excluded_checks=[negative_data_rejection])
    else:
        case.validate_response(response, headers=headers)
