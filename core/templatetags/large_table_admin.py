"""A date hierarchy for large tables: every period between the first and the last row, no DISTINCT scan.

Django's ``{% date_hierarchy %}`` lists the years, months or days that hold rows with
``SELECT DISTINCT date_trunc(...)`` over the (filtered) table, and first ``MIN``/``MAX`` over it:
full scans on millions of rows. This tag gives the same links and markup, computed from the first
and last value only (``partition_bounds``, one cheap query); a period may turn out to be empty.
"""

from __future__ import annotations

import calendar
import datetime

from django import template
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from core.admin_support import partition_bounds

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def large_table_date_hierarchy(cl) -> dict:
    field_name = cl.date_hierarchy
    is_datetime = isinstance(get_fields_from_path(cl.model, field_name)[-1], models.DateTimeField)
    year_field, month_field, day_field = (f"{field_name}__{part}" for part in ("year", "month", "day"))
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters: dict) -> str:
        return cl.get_query_string(filters, [f"{field_name}__"])

    bounds = partition_bounds(cl.model, field_name, cl.model_admin.date_hierarchy_partition)
    first, last = bounds["first"], bounds["last"]
    if first is None or last is None:
        return {"show": False}
    if is_datetime:
        first, last = timezone.localtime(first).date(), timezone.localtime(last).date()
    if not (year or month or day) and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month

    if year and month and day:
        chosen = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {"link": link({year_field: year, month_field: month}), "title": _date(chosen, "YEAR_MONTH_FORMAT")},
            "choices": [{"title": _date(chosen, "MONTH_DAY_FORMAT")}],
        }
    if year and month:
        year, month = int(year), int(month)
        days = [datetime.date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": _date(d, "MONTH_DAY_FORMAT"),
                }
                for d in days
                if first <= d <= last
            ],
        }
    if year:
        year = int(year)
        months = [datetime.date(year, n, 1) for n in range(1, 13)]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {"link": link({year_field: year, month_field: m.month}), "title": _date(m, "YEAR_MONTH_FORMAT")}
                for m in months
                if first.replace(day=1) <= m <= last
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link({year_field: str(y)}), "title": str(y)} for y in range(first.year, last.year + 1)],
    }


def _date(value: datetime.date, fmt: str) -> str:
    return capfirst(formats.date_format(value, fmt))
