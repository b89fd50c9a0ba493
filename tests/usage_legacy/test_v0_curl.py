"""The seed's v0 example sent by curl itself, exactly as written (host aside), to a live server."""

from __future__ import annotations

import shutil
import subprocess

import orjson
import pytest

from tests.conftest import make_token
from tests.usage_legacy.test_seed_examples import june_2020

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


def test_seed_curl_example(live_server, org, legacy):
    expected = june_2020(legacy)
    token = make_token("curl-user", organization=org)
    command = [
        "curl",
        "-sS",
        "-X",
        "GET",
        "-H",
        f"Authorization: Bearer {token}",
        f"{live_server.url}/v0/usage/events",
        "-d",
        '{"start_date": "20200601", "end_date": "20200701"}',
    ]
    result = subprocess.run(command, capture_output=True, check=True, timeout=30)
    assert orjson.loads(result.stdout) == {"report": expected}
