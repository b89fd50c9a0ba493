"""A legacy report is one aggregation query, plus the token and organization lookups, whatever its size."""

from __future__ import annotations

import pytest

from tests.usage_helpers import body, get
from tests.usage_legacy.conftest import TWO_DAYS
from usage.api.v1 import ROUTES

pytestmark = pytest.mark.django_db

# The token lookup, the organization membership, the data versions (core.report_cache), the report
# (last_used_at is written at most once a minute).
QUERIES = 4
SMALL = TWO_DAYS
LARGE = {"start_date": "20230101", "end_date": "20230331", "bin_size": "hour", "display_all": "true"}


@pytest.mark.parametrize("route", [f"/{route}" if route else "" for route in ROUTES])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_one_report_query(api, legacy, django_assert_num_queries, route, size):
    get(api, "/v1/usage", SMALL)  # records the token's last use
    options = {"include_user_notes": "true", "combine_phone_os": "true", "group_by_device_id": "true"}
    # display_all on a grouping: the groups are counted first (usage/limits.py).
    size_check = 1 if size is LARGE and route else 0
    with django_assert_num_queries(QUERIES + size_check):
        response = api.get(f"/v1/usage{route}", {**size, **options})
        rows = body(response)["report"]
    assert response.status_code == 200
    assert len(rows) >= (2 if size is SMALL else 2160)  # 90 days of hour bins
