"""Request parameters of every API route: one reader, one rejection of unknown and repeated
parameters, one wording of errors, and the field types the routes declare their parameters with.

A route declares its parameters as a ``Params`` serializer whose fields are the types below. The
same declaration validates the request (``Params.parse`` / ``validate``) and documents it in the
OpenAPI schema (``openapi_parameters``): each field gives its own JSON schema, written from the
same patterns and bounds its parsing applies, so that what the schema calls valid is accepted and
what it calls invalid is refused.

Parameters come from the query string and, on POST, from a form-encoded or JSON body, merged.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request

from core.errors import InvalidParameter

MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
MAX_OFFSET = 2**31 - 1  # far beyond any listing; bigger numbers would overflow the database's bigint

# --------------------------------------------------------------------------------------------
# Patterns shared by parsing and the schema ([0-9], not \d: \d also matches other scripts' digits)
# --------------------------------------------------------------------------------------------

_YEAR = "(?:19[0-9]{2}|2[0-9]{3})"  # MIN_DATE..MAX_DATE
_LEAP_YEAR = "(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2[048]00)"


def _date_pattern(sep: str) -> str:
    """YYYY{sep}MM{sep}DD of an existing calendar day between MIN_DATE and MAX_DATE."""
    month_day = (
        f"(?:(?:0[1-9]|1[0-2]){sep}(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2]){sep}(?:29|30)|(?:0[13578]|1[02]){sep}31)"
    )
    return f"(?:{_YEAR}{sep}{month_day}|{_LEAP_YEAR}{sep}02{sep}29)"


DATE_FORMS: dict[str, str] = {
    "YYYY-MM-DD": _date_pattern("-"),
    "YYYYMMDD": _date_pattern(""),
    "YYYY/MM/DD": _date_pattern("/"),
}
LOOSE_DATE_FORMS = {
    "YYYY-MM-DD": "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "YYYYMMDD": "[0-9]{8}",
    "YYYY/MM/DD": "[0-9]{4}/[0-9]{2}/[0-9]{2}",
}
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
INTEGER_PATTERN = re.compile("-?[0-9]{1,30}")
# Text parameters: something besides white space (which is trimmed), no NUL (PostgreSQL text cannot hold it).
TEXT_SCHEMA = {"type": "string", "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"}

# Names that zoneinfo resolves but that are not time zones (the server's local time, the tz database's aliases).
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - NOT_ZONES))


# --------------------------------------------------------------------------------------------
# Fields: each parses one parameter and describes it (``openapi``) for the schema.
# --------------------------------------------------------------------------------------------


class ParamField(serializers.Field):
    """A parameter: ``openapi()`` is its JSON schema (a value of the parameter, not the array of a repeatable)."""

    def openapi(self) -> dict[str, Any]:
        return {"type": "string"}


class DateParamField(ParamField):
    """A calendar date in one of the accepted forms, between 1900-01-01 and 2999-12-31."""

    def __init__(self, *, forms: Iterable[str] = ("YYYYMMDD", "YYYY-MM-DD"), **kwargs: Any) -> None:
        self.forms = tuple(forms)
        self.pattern = re.compile("|".join(DATE_FORMS[form] for form in self.forms))
        self.loose = re.compile("|".join(LOOSE_DATE_FORMS[form] for form in self.forms))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> date:
        text = str(data)
        digits = text.replace("-", "").replace("/", "")
        if self.pattern.fullmatch(text):
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        # A well-formed date outside the range gets its own words.
        if (
            self.loose.fullmatch(text)
            and digits.isascii()
            and not MIN_DATE.strftime("%Y%m%d") <= digits <= MAX_DATE.strftime("%Y%m%d")
        ):
            raise serializers.ValidationError(f"must be between {MIN_DATE} and {MAX_DATE}, got {text!r}")
        raise serializers.ValidationError(f"must be a date as {' or '.join(self.forms)}, got {text!r}")

    def to_representation(self, value: date) -> str:
        return value.isoformat()

    def openapi(self) -> dict[str, Any]:
        schema = {"type": "string", "pattern": f"^(?:{self.pattern.pattern})$"}
        return {**schema, "format": "date"} if self.forms == ("YYYY-MM-DD",) else schema


class TimezoneField(ParamField):
    """An IANA time zone name, such as America/Los_Angeles or US/Pacific."""

    def to_internal_value(self, data: Any) -> zoneinfo.ZoneInfo:
        text = str(data)
        if text not in time_zone_names():
            raise serializers.ValidationError(
                f"must be an IANA time zone name such as UTC or America/Los_Angeles, got {text!r}"
            )
        return zoneinfo.ZoneInfo(text)

    def to_representation(self, value: zoneinfo.ZoneInfo) -> str:
        return str(value)

    def openapi(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(time_zone_names())}


class BooleanParamField(ParamField):
    """``true`` or ``false`` (a JSON body's true and false read the same)."""

    def to_internal_value(self, data: Any) -> bool:
        if data in ("true", "false"):
            return data == "true"
        raise serializers.ValidationError(f"must be true or false, got {str(data)!r}")

    def to_representation(self, value: bool) -> bool:
        return value

    def openapi(self) -> dict[str, Any]:
        return {"type": "boolean"}


class ChoiceParamField(ParamField):
    """One of a fixed list of words."""

    def __init__(self, *, choices: Sequence[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data not in self.choices:
            raise serializers.ValidationError(f"must be one of {', '.join(self.choices)}, got {str(data)!r}")
        return data

    def to_representation(self, value: str) -> str:
        return value

    def openapi(self) -> dict[str, Any]:
        return {"type": "string", "enum": self.choices}


class OrderingField(ChoiceParamField):
    """A sort key among ``names``, ``-`` before it for descending order."""

    def __init__(self, *, names: Sequence[str], **kwargs: Any) -> None:
        super().__init__(choices=[variant for name in names for variant in (name, f"-{name}")], **kwargs)


class IntegerParamField(ParamField):
    """A whole number written in digits, within [min_value, max_value]."""

    def __init__(self, *, min_value: int, max_value: int, **kwargs: Any) -> None:
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        text = str(data)
        if not INTEGER_PATTERN.fullmatch(text):
            raise serializers.ValidationError(f"must be a whole number, got {text!r}")
        value = int(text)
        if value < self.min_value:
            raise serializers.ValidationError(f"must be at least {self.min_value}, got {text}")
        if value > self.max_value:
            raise serializers.ValidationError(f"must be at most {self.max_value}, got {text}")
        return value

    def to_representation(self, value: int) -> int:
        return value

    def openapi(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.min_value, "maximum": self.max_value}


def limit_field(*, default: int, maximum: int, **kwargs: Any) -> IntegerParamField:
    return IntegerParamField(
        min_value=1,
        max_value=maximum,
        required=False,
        default=default,
        help_text=kwargs.pop("help_text", f"Rows per page (default {default}, at most {maximum})."),
        **kwargs,
    )


def offset_field(**kwargs: Any) -> IntegerParamField:
    return IntegerParamField(
        min_value=0, max_value=MAX_OFFSET, required=False, default=0, help_text="Rows to skip (default 0).", **kwargs
    )


class UUIDParamField(ParamField):
    """A UUID in its canonical 8-4-4-4-12 hex form."""

    pattern = re.compile(UUID_PATTERN)

    def to_internal_value(self, data: Any) -> UUID:
        text = str(data)
        if not self.pattern.fullmatch(text):
            raise serializers.ValidationError(f"must be a UUID, got {text!r}")
        return UUID(text)

    def to_representation(self, value: UUID) -> str:
        return str(value)

    def openapi(self) -> dict[str, Any]:
        return {"type": "string", "format": "uuid"}


class TextParamField(ParamField):
    """A text, white space around it trimmed: not blank, no NUL character."""

    def to_internal_value(self, data: Any) -> str:
        text = str(data).strip()
        if not text:
            raise serializers.ValidationError("must not be empty")
        if "\x00" in text:
            raise serializers.ValidationError(f"must not contain a NUL character, got {text!r}")
        return text

    def to_representation(self, value: str) -> str:
        return value

    def openapi(self) -> dict[str, Any]:
        return dict(TEXT_SCHEMA)


class ListParamField(ParamField):
    """A repeatable parameter: each value parsed by ``child``; with ``commas``, a value may also
    list several, comma-separated."""

    def __init__(self, *, child: ParamField, commas: bool = False, unique: bool = False, **kwargs: Any) -> None:
        self.child, self.commas, self.unique = child, commas, unique  # unique: a value may not repeat
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        values = data if isinstance(data, list) else [data]
        if self.commas:
            values = [item for value in values for item in str(value).split(",")]
        parsed = []
        for value in values:
            try:
                parsed.append(self.child.to_internal_value(value))
            except serializers.ValidationError:
                self.bad_value = value  # the error names the value at fault, not the whole list
                raise
        return parsed

    def to_representation(self, value: list[Any]) -> list[Any]:
        return [self.child.to_representation(v) for v in value]

    def openapi(self) -> dict[str, Any]:
        if self.commas:  # one value may carry several items: the schema describes the text as a whole
            item = self.child.pattern.pattern if hasattr(self.child, "pattern") else "[^,]+"
            return {"type": "string", "pattern": f"^(?:{item})(?:,(?:{item}))*$"}
        return self.child.openapi()


def uuid_list(**kwargs: Any) -> ListParamField:
    return ListParamField(child=UUIDParamField(), required=False, **kwargs)


def text_list(**kwargs: Any) -> ListParamField:
    return ListParamField(child=TextParamField(), required=False, **kwargs)


# --------------------------------------------------------------------------------------------
# Reading and validating
# --------------------------------------------------------------------------------------------


def request_params(request: Request, *, extra: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
    """Every parameter of the request as a list of string values: query string, then body
    (``extra`` instead of the parsed body when given)."""
    params: dict[str, list[str]] = {key: request.query_params.getlist(key) for key in request.query_params}
    body = extra if extra is not None else (request.data if request.method in ("POST", "PUT", "PATCH") else {})
    if hasattr(body, "getlist"):
        items = [(key, body.getlist(key)) for key in body]
    elif isinstance(body, Mapping):
        items = [(key, value if isinstance(value, list) else [value]) for key, value in body.items()]
    else:
        raise InvalidParameter("The request body must be a JSON object or form-encoded parameters.")
    for key, values in items:
        params.setdefault(key, []).extend(
            "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for v in values
        )
    return params


def validate(
    serializer_class: type[serializers.Serializer],
    params: dict[str, list[str]],
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``params`` with ``serializer_class``; the first problem becomes a 400 naming it."""
    fields = serializer_class().fields
    unknown = sorted(key for key in params if key not in fields)
    if unknown:
        raise InvalidParameter(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Accepted: {', '.join(sorted(fields)) or 'none'}.",
            {name: params[name] for name in unknown},
        )
    data: dict[str, Any] = {}
    for key, values in params.items():
        if isinstance(fields[key], ListParamField):
            data[key] = values
        elif len(values) != 1:  # repeated, or an empty JSON list
            raise InvalidParameter(f"{key} was given {len(values)} times; give it once.", {key: values})
        else:
            data[key] = values[0]
    serializer = serializer_class(data=data, context=dict(context or {}))
    if not serializer.is_valid():
        name, problems = next(iter(serializer.errors.items()))
        problem = problems[0]
        value = getattr(serializer.fields.get(name), "bad_value", data.get(name))
        # Our messages read on from the name ("start_date must be ..."); DRF's are sentences of their own.
        message = f"{name} {problem}" if str(problem)[:1].islower() else f"{name}: {problem}"
        if problem.code == "required":
            message = f"{name} is required"
        if name == "non_field_errors":
            message = str(problem)
        raise InvalidParameter(message, {name: value})
    return serializer.validated_data


class Params(serializers.Serializer):
    """The parameters of a route: one field per parameter (the types above)."""

    @classmethod
    def parse(cls, request: Request, *, extra: Mapping[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """The typed values of the request's parameters, or an InvalidParameter (400)."""
        return validate(cls, request_params(request, extra=extra), context)


def openapi_body(serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """The JSON schema of the same parameters sent as a JSON object body."""
    properties, required = {}, []
    for parameter in openapi_parameters(serializer):
        properties[parameter.name] = {
            **parameter.type,
            **({"description": parameter.description} if parameter.description else {}),
        }
        if parameter.required:
            required.append(parameter.name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def openapi_parameters(serializer: type[serializers.Serializer]) -> list[OpenApiParameter]:
    """The OpenAPI query parameters of a route, from its parameter declaration."""
    parameters = []
    for name, field in serializer().fields.items():
        schema = field.openapi() if isinstance(field, ParamField) else {"type": "string"}
        repeatable = isinstance(field, ListParamField) and not field.commas
        if field.default is not empty and not callable(field.default):
            schema["default"] = field.to_representation(field.default)
        if repeatable:
            schema = {"type": "array", "items": schema, **({"uniqueItems": True} if field.unique else {})}
        description = field.help_text or ""
        if repeatable:
            description += " Repeatable: the values are OR'ed."
        parameters.append(
            OpenApiParameter(name, schema, required=field.required, description=description.strip() or None)
        )
    return parameters
