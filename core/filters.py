"""django-filter building blocks of the list endpoints (SPEC §12), strict like every other parameter.

django-filter is lenient where the API must not be: a bad value becomes a 400 in the error envelope
worded like the report routes' ("hostname must not be empty", "idle_since must be a date as ...").
Each FilterSet declares every filter (NetBox style); repeatable filters OR their values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from rest_framework import serializers
from rest_framework.request import Request

from core.errors import InvalidParameter
from core.params import TEXT_SCHEMA, DateParamField, ParamField, TextParamField

# --------------------------------------------------------------------------------------------
# Form fields: the messages read on from the parameter name ("team_id must be UUIDs, got 'x'").
# --------------------------------------------------------------------------------------------


class ManyStringsField(forms.MultipleChoiceField):
    """Any number of non-empty strings (a repeated query parameter)."""

    def valid_value(self, value: str) -> bool:
        return True

    def validate(self, value: list[str]) -> None:
        for each in value:
            if not each.strip():
                raise forms.ValidationError("must not be empty", code="blank")
            if "\x00" in each:
                raise forms.ValidationError(f"must not contain null characters, got {each!r}", code="null_characters")


class ManyUUIDsField(ManyStringsField):
    def clean(self, value: Any) -> list[UUID]:
        texts = super().clean(value)
        uuids = []
        for text in texts:
            try:
                uuids.append(UUID(text.strip()))
            except ValueError:
                raise forms.ValidationError(f"must be UUIDs, got {text!r}", code="invalid")
        return uuids


class ParamFormField(forms.Field):
    """A django-filter form field that parses with one of core.params' types (``param``), words included."""

    param: ParamField

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return None
        try:
            return self.param.to_internal_value(value)
        except serializers.ValidationError as exc:
            raise forms.ValidationError(str(exc.detail[0]), code="invalid")


class DayField(ParamFormField):
    """A calendar date written YYYYMMDD or YYYY-MM-DD."""

    param = DateParamField()


class TextField(ParamFormField):
    """A text: trimmed, not blank, no NUL."""

    param = TextParamField()


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class DocumentedFilter(django_filters.Filter):
    """A filter whose OpenAPI schema is ``schema`` with the filter's help text as its description."""

    schema: dict[str, Any] = {"type": "string"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_override(self, "field", {**self.schema, "description": kwargs.get("help_text", "")})


class ManyValuesFilter(DocumentedFilter):
    """A repeatable parameter (``?os=android&os=ios``): rows matching any of the values (case-insensitive)."""

    field_class = ManyStringsField
    schema = {"type": "array", "items": TEXT_SCHEMA}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "iexact")
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: list[Any]) -> QuerySet:
        if not value:
            return qs
        lookup = f"{self.field_name}__{self.lookup_expr}"
        matches = Q()
        for each in value:
            matches |= Q(**{lookup: each})
        qs = qs.filter(matches)
        return qs.distinct() if self.distinct else qs


class ManyUUIDsFilter(ManyValuesFilter):
    field_class = ManyUUIDsField
    schema = {"type": "array", "items": {"type": "string", "format": "uuid"}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "exact")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: list[UUID]) -> QuerySet:
        if not value:
            return qs
        qs = qs.filter(**{f"{self.field_name}__in": value})
        return qs.distinct() if self.distinct else qs


class DayFilter(DocumentedFilter):
    """A date parameter (YYYYMMDD or YYYY-MM-DD)."""

    field_class = DayField
    schema = DayField.param.openapi()


class TextFilter(DocumentedFilter):
    """A text parameter (``search``): rows whose ``field_name`` contains it, case-insensitive by default."""

    field_class = TextField
    schema = TEXT_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "icontains")
        super().__init__(*args, **kwargs)


def utc_midnight(day: date) -> datetime:
    """The instant a date starts in UTC (the discovery dates' zone)."""
    return datetime.combine(day, time(), tzinfo=UTC)


class OrderingFilter(django_filters.OrderingFilter):
    """``ordering=name`` or ``-name`` (comma-separated for several keys); the id breaks ties.

    A null sorts before every value (a device never used is idler than any used one): first going up,
    last going down.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listed = ", ".join(value for value, _ in self.extra["choices"])
        self.extra["error_messages"] = {"invalid_choice": f"must be one of {listed}; got %(value)r"}
        self.extra["help_text"] = "Sort key, '-' for descending; several keys comma-separated. Nulls sort first."

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return qs
        keys = []
        for param in value:
            name = self.get_ordering_value(param)
            if name.startswith("-"):
                keys.append(F(name[1:]).desc(nulls_last=True))
            else:
                keys.append(F(name).asc(nulls_first=True))
        return qs.order_by(*keys, "pk")


# --------------------------------------------------------------------------------------------
# The backend: an invalid value is a 400 in the envelope, never silently ignored.
# --------------------------------------------------------------------------------------------


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            name, problems = next(iter(filterset.errors.items()))
            problem = str(problems[0])
            values = request.query_params.getlist(name)
            message = f"{name} {problem}" if problem[:1].islower() else f"{name}: {problem}"
            raise InvalidParameter(message, {name: values[0] if len(values) == 1 else values})
        return filterset.qs
