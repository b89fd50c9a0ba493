"""Reports whose size is known before they run (SPEC §14): bins x groups with display_all.

With ``display_all`` a grouped report has a row for every group of the organization (narrowed by
the filters on it) in every bin: the row count is known from the bins and one count of each
grouping's universe, so a report too large to be useful is refused with a 400 before the report
query runs rather than cut by the statement limit after minutes of work.
"""

from __future__ import annotations

from math import prod

from django.conf import settings
from django.db import connection

from core.errors import InvalidParameter
from usage.reporting import DIMENSIONS, ReportSpec, filter_conditions

DEFAULT_MAX_REPORT_ROWS = 2_000_000


def max_report_rows() -> int:
    return int(getattr(settings, "MAX_REPORT_ROWS", DEFAULT_MAX_REPORT_ROWS))


def known_rows(spec: ReportSpec) -> int | None:
    """The number of rows the report will have at least, when that is known before it runs; else None."""
    if not spec.display_all or not spec.dimensions:
        return None
    _, universe_filters, params = filter_conditions(spec.filters)
    narrowing = {f"{name}_filters": "".join(f" AND {c}" for c in conds) for name, conds in universe_filters.items()}
    counts = ", ".join(
        f"(SELECT count(*) FROM ({DIMENSIONS[name].universe.format(**narrowing)}) u WHERE u IS NOT NULL)"
        for name in spec.dimensions
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}", {**params, "org": spec.organization_id})
        groups = cursor.fetchone()
    return len(spec.bins) * prod(groups)


def check_report_size(spec: ReportSpec) -> None:
    """Refuse (400) a report known to exceed MAX_REPORT_ROWS rows."""
    rows = known_rows(spec)
    limit = max_report_rows()
    if rows is not None and rows > limit:
        raise InvalidParameter(
            f"The report would have {rows:,} rows ({len(spec.bins):,} bins x "
            f"{rows // len(spec.bins):,} groups), more than the {limit:,} allowed: use a larger bin_size, "
            "a shorter range, filters, or display_all=false.",
            {"bin_size": None, "display_all": None},
        )
