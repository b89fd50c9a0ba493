"""The guide's examples (docs/*.md) run against the demo data, so that they cannot drift from the service.

An example is a fenced ``http`` block (the request) followed by a fenced block whose info string is
the response's format and status, ``json 200`` (the whole JSON body) or ``csv 200`` (the text):

    ```http
    GET /v2/usage/team?start_date=2026-10-01&end_date=2026-10-31
    ```

    ```json 200
    {"report": [...]}
    ```

In the request, indented lines right after the request line continue its URL (long query strings
are folded); then come headers and, after a blank line, the body. Without an ``Authorization``
header the request carries the demo user's token; ``$TOKEN`` and ``$STAFF_TOKEN`` (the demo
admin's) may be written in one. Requests are sent with ``Host: 127.0.0.1:8000``, the demo's address.

The data is what ``manage.py demo --no-serve`` loads (that command runs here, once per module):
``fixtures/demo.jsonl``, generated with a fixed seed and fixed dates, so it does not depend on
today's date; every example names its ``end_date``, so no answer depends on the clock and no time
is frozen. Sequences are reset before loading so that integer ids (devices) are those of a fresh
demo database whatever ran before. Each example runs in its own transaction, rolled back after it
(the ingest example writes).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from rest_framework.test import APIClient

from core.models import ApiToken

DOCS = Path(settings.BASE_DIR) / "docs"
HOST = "127.0.0.1:8000"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
RESPONSE_INFO = re.compile(r"(json|csv) (\d{3})")


@dataclass(frozen=True)
class Example:
    where: str  # file:line of the request block
    request: str
    kind: str  # json or csv
    status: int
    response: str


def examples() -> tuple[list[Example], list[str]]:
    """Every request block of the guide with the response block that follows it, and the places of
    request blocks without one."""
    found: list[Example] = []
    orphans: list[str] = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        blocks = [(match.group(1).strip(), match.group(2), match.start()) for match in FENCE.finditer(text)]
        for index, (info, body, start) in enumerate(blocks):
            if info != "http":
                continue
            where = f"{path.name}:{text.count(chr(10), 0, start) + 1}"
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            response = RESPONSE_INFO.fullmatch(following[0]) if following else None
            if response is None:
                orphans.append(where)
                continue
            found.append(Example(where, body, response.group(1), int(response.group(2)), following[1]))
    return found, orphans


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str


def parse_request(text: str) -> Request:
    lines = text.rstrip("\n").split("\n")
    method, path = lines[0].split(" ", 1)
    rest = lines[1:]
    while rest and rest[0][:1].isspace() and rest[0].strip():  # folded URL
        path += rest.pop(0).strip()
    headers: dict[str, str] = {}
    while rest and rest[0].strip():
        name, value = rest.pop(0).split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = "\n".join(rest[1:]) if rest else ""
    return Request(method.upper(), path.strip(), headers, body)


@pytest.fixture(scope="module")
def demo_tokens(django_db_setup, django_db_blocker):
    """The demo data, loaded once for the module in a transaction that is rolled back at its end,
    and a token for the demo's API user (its organization, its client grant, write access) and one
    for the demo's admin (staff)."""
    with django_db_blocker.unblock(), transaction.atomic():
        models = [model for config in apps.get_app_configs() for model in config.get_models()]
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
        call_command("demo", "--no-serve", stdout=io.StringIO())
        users = get_user_model().objects
        _, token = ApiToken.issue(user=users.get(username="demo"), name="guide", can_write=True)
        _, staff = ApiToken.issue(user=users.get(username="admin"), name="guide")
        yield {"$TOKEN": token, "$STAFF_TOKEN": staff}
        transaction.set_rollback(True)


def send(request: Request, tokens: dict[str, str]):
    headers = dict(request.headers)
    authorization = headers.pop("authorization", "Bearer $TOKEN")
    for placeholder, raw in tokens.items():
        authorization = authorization.replace(placeholder, raw)
    content_type = headers.pop("content-type", None)
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    client = APIClient()
    kwargs = {"HTTP_HOST": HOST, "HTTP_AUTHORIZATION": authorization, **extra}
    if request.body or content_type:
        kwargs["data"] = request.body.encode()
        kwargs["content_type"] = content_type or "application/json"
    return client.generic(request.method, request.path, **kwargs)


EXAMPLES, ORPHANS = examples()


def test_every_request_in_the_guide_has_its_response():
    assert ORPHANS == [], "each ```http block must be followed by a ```json STATUS or ```csv STATUS block"


def test_the_guide_has_examples_of_every_kind_of_route():
    paths = " ".join(parse_request(example.request).path for example in EXAMPLES)
    for route in (
        "/v2/usage/event",
        "/v2/usage/",
        "/v1/usage",
        "/v0/usage/events",
        "/analytics/apps/",
        "/v2/devices",
        "/v2/hosts",
        "/v2/teams",
        "/v2/users",
        "/v2/organizations",
        "/v2/ingest",
    ):
        assert route in paths, f"the guide has no example of {route}"


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_the_example_answers_as_documented(example: Example, demo_tokens):
    response = send(parse_request(example.request), demo_tokens)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if example.kind == "json":
        answer = orjson.loads(content)
        documented = orjson.loads(example.response)
        shown = orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode()
    else:
        answer = content.decode().replace("\r\n", "\n")
        documented = example.response
        shown = answer
    assert (response.status_code, answer) == (example.status, documented), (
        f"{example.where}: the service answers {response.status_code} with\n{shown}"
    )


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_guide_links_lead_somewhere():
    """Links between the guide's pages, and from the README to them, name pages and headings that exist."""
    anchors = {
        path.name: {slug(heading) for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)}
        for path in DOCS.glob("*.md")
    }
    broken = []
    for path in [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]:
        prose = FENCE.sub("", path.read_text())
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if "://" in target or (path.name == "README.md" and not target.startswith("docs/")):
                continue
            page, _, anchor = target.removeprefix("docs/").partition("#")
            page = page or path.name
            missing_page = page.endswith(".md") and page not in anchors
            if missing_page or (anchor and anchor not in anchors.get(page, ())):
                broken.append(f"{path.name}: {target}")
    assert broken == []
