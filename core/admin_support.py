"""Admin pieces for tables with millions of rows (usage events, app usage reports).

The stock changelist runs ``COUNT(*)`` over the whole table for the paginator and the result
count, and its date hierarchy runs ``MIN``/``MAX`` and ``SELECT DISTINCT date_trunc(...)`` over
every row. Here the paginator uses the planner's statistics when the list is unfiltered or large,
and the date hierarchy (core/templatetags/large_table_admin.py) offers every period between the
first and the last row, found through the per-tenant index, without checking each period.
"""

from __future__ import annotations

import json
from typing import ClassVar

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Max, Min, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

EXACT_COUNT_UP_TO = 10_000


def table_estimate(table: str) -> int:
    """Rows of ``table`` per the planner's statistics (kept current by autovacuum); -1 when never analyzed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else -1


def plan_estimate(queryset: QuerySet) -> int:
    """Rows the planner expects ``queryset`` to return (EXPLAIN, nothing is executed)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to EXACT_COUNT_UP_TO rows, and estimates beyond, so no page load scans the table."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = table_estimate(queryset.model._meta.db_table)
            if estimate > EXACT_COUNT_UP_TO:
                return estimate
        exact = queryset.order_by()[: EXACT_COUNT_UP_TO + 1].count()
        if exact <= EXACT_COUNT_UP_TO:
            return exact
        return max(plan_estimate(queryset), exact)


def partition_bounds(model, field: str, partition: str) -> dict:
    """The first and last value of ``field``, found per ``partition`` (a tenant foreign key) through the
    (partition, field) index: one index probe per tenant instead of a scan of every row."""
    related = model._meta.get_field(partition).related_model
    rows = model._default_manager.filter(**{partition: OuterRef("pk")})
    first = Subquery(rows.order_by(field).values(field)[:1])
    last = Subquery(rows.order_by(f"-{field}").values(field)[:1])
    return related._default_manager.annotate(_first=first, _last=last).aggregate(first=Min("_first"), last=Max("_last"))


class WideListAdmin(admin.ModelAdmin):
    """A changelist of many columns that fits 1280-1400 px screens.

    The app navigation sidebar (about 280 px; the index and the breadcrumbs lead to the same places)
    is left out of it, and long values (emails, device addresses, names) wrap inside their cells
    instead of widening the table (admin/wide_change_list.html).
    """

    change_list_template = "admin/wide_change_list.html"

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})


class LargeTableAdmin(WideListAdmin):
    """A changelist that stays fast on a table of millions of rows.

    Set ``date_hierarchy`` and ``date_hierarchy_partition``: the tenant foreign key that leads an
    index with the date field (e.g. ``organization`` for the (organization, start_time) index).
    """

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_list_template = "admin/large_table_change_list.html"
    date_hierarchy_partition: ClassVar[str]
    list_per_page = 100


class PortalLinkAdmin(admin.ModelAdmin):
    """Links each row to its page in the staff portal: a "View in portal" column in the list and a
    button beside "History" on its change page.

    ``portal_page`` names the portal's URL and ``portal_args`` gives its arguments for a row, from
    the row's own columns (no query per row). Named by string: core imports from no app above it.
    """

    portal_page: ClassVar[str]
    change_form_template = "admin/portal_link_change_form.html"

    def portal_args(self, obj) -> list:
        return [obj.pk]

    def portal_url(self, obj) -> str:
        return reverse(self.portal_page, args=self.portal_args(obj))

    @admin.display(description="portal")
    def portal_link(self, obj) -> str:
        return format_html('<a href="{}">View in portal</a>', self.portal_url(obj))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["portal_url"] = self.portal_url(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


class SameTenantForm(forms.ModelForm):
    """Refuses related rows of another tenant than the row's own.

    ``tenant`` names the row's tenant field (``organization`` or ``client``); ``same_tenant`` the
    related fields whose rows must belong to it.
    """

    tenant: ClassVar[str]
    same_tenant: ClassVar[tuple[str, ...]] = ()

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get(self.tenant)
        if owner is None:
            return cleaned
        for name in self.same_tenant:
            value = cleaned.get(name)
            related = value if hasattr(value, "__iter__") else [value] if value is not None else []
            strangers = [str(each) for each in related if getattr(each, f"{self.tenant}_id") != owner.pk]
            if strangers:
                self.add_error(name, f"{', '.join(strangers)}: not of {self.tenant} {owner}.")
        return cleaned
