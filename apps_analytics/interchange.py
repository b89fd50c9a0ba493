"""Interchange record kinds of the app analytics data (SPEC §10), in dependency order.

{"kind": "client", "id", "name", "timezone"}
{"kind": "department", "id", "client", "name"}
{"kind": "client_user", "id", "client", "email", "departments"?: [department ids]}
{"kind": "application", "id", "client", "name"}
{"kind": "app_usage_report", "client", "application", "user", "activity_date", "total_active_ms",
 "total_session_count"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError

from apps_analytics.models import Application, AppUsageReport, Client, ClientUser, Department, validate_timezone
from core.interchange import (
    EntityKind,
    Invalid,
    NamedEntityKind,
    RecordKind,
    References,
    copy_text,
    copy_uuid_array,
    count,
    day,
    email,
    max_length,
    optional,
    registry,
    replace_links,
    required,
    text,
    upsert,
    uuid_list,
    uuid_value,
)

CLIENT = Client._meta.db_table
DEPARTMENT = Department._meta.db_table
CLIENT_USER = ClientUser._meta.db_table
APPLICATION = Application._meta.db_table
REPORT = AppUsageReport._meta.db_table
USER_DEPARTMENTS = ClientUser.departments.field
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1


def time_zone(value: Any) -> str:
    value = text(max_length(Client, "timezone"), blank=False)(value)
    try:
        validate_timezone(value)
    except ValidationError:
        raise Invalid(f"{value!r} is not an IANA time zone name (e.g. Europe/Paris)")
    return value


class ClientKind(EntityKind):
    name = "client"
    model = Client
    scope, owner_field, owner_column = "client", "id", "id"
    fields = {
        "id": required(uuid_value),
        "name": required(text(max_length(Client, "name"), blank=False)),
        "timezone": required(time_zone),
    }
    staging = (("id", "uuid"), ("name", "text"), ("timezone", "text"))
    staging_key = ("id",)

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        return values["id"], copy_text(values["name"]), copy_text(values["timezone"])

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {"id": "s.id", "name": "s.name", "timezone": "s.timezone"}
        return [upsert(CLIENT, conflict=["id"], columns=columns, source=source, insert_only=insert_only)]

    def export(self, where: str = "TRUE") -> str:
        return f"SELECT id::text AS id, name, timezone FROM {CLIENT} WHERE {where} ORDER BY id"


class DepartmentKind(NamedEntityKind):
    name = "department"
    model = Department
    scope, owner_field, owner_column = "client", "client", "client_id"


class ClientUserKind(EntityKind):
    name = "client_user"
    model = ClientUser
    scope, owner_field, owner_column = "client", "client", "client_id"
    fields = {
        "id": required(uuid_value),
        "client": required(uuid_value),
        "email": required(email(max_length(ClientUser, "email"))),
        "departments": optional(uuid_list, []),
    }
    staging = (("id", "uuid"), ("client", "uuid"), ("email", "text"), ("departments", "uuid[]"))
    staging_key = ("id",)

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        client = values["client"]
        refs.require("client", client, client, "client")
        for department in values["departments"]:
            refs.require("department", department, client, "departments: department")
        return values["id"], client, copy_text(values["email"]), copy_uuid_array(values["departments"])

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {"id": "s.id", "client_id": "s.client", "email": "s.email"}
        links = replace_links(
            USER_DEPARTMENTS.remote_field.through,
            owner=USER_DEPARTMENTS.m2m_column_name(),
            other=USER_DEPARTMENTS.m2m_reverse_name(),
            source=source,
            column="departments",
        )
        return [upsert(CLIENT_USER, conflict=["id"], columns=columns, source=source, insert_only=insert_only), *links]

    export_tenant = "u.client_id"

    def export(self, where: str = "TRUE") -> str:
        through = USER_DEPARTMENTS.remote_field.through._meta.db_table
        owner, other = USER_DEPARTMENTS.m2m_column_name(), USER_DEPARTMENTS.m2m_reverse_name()
        return (
            f"SELECT u.id::text AS id, u.client_id::text AS client, u.email, "
            f"ARRAY(SELECT m.{other}::text FROM {through} m WHERE m.{owner} = u.id ORDER BY m.{other}) AS departments "
            f"FROM {CLIENT_USER} u WHERE {where} ORDER BY u.id"
        )


class ApplicationKind(NamedEntityKind):
    name = "application"
    model = Application
    scope, owner_field, owner_column = "client", "client", "client_id"


class AppUsageReportKind(RecordKind):
    """One day of one user on one application, keyed by (application, user, activity_date)."""

    name = "app_usage_report"
    scope, owner_field = "client", "client"
    fields = {
        "client": required(uuid_value),
        "application": required(uuid_value),
        "user": required(uuid_value),
        "activity_date": required(day),
        "total_active_ms": required(count(BIGINT_MAX)),
        "total_session_count": required(count(INTEGER_MAX)),
    }
    staging = (
        ("client", "uuid"),
        ("application", "uuid"),
        ("user_id", "uuid"),
        ("activity_date", "date"),
        ("total_active_ms", "bigint"),
        ("total_session_count", "integer"),
    )
    staging_key = ("application", "user_id", "activity_date")

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        client = values["client"]
        refs.require("client", client, client, "client")
        refs.require("application", values["application"], client, "application")
        refs.require("client_user", values["user"], client, "user")
        return (
            client,
            values["application"],
            values["user"],
            values["activity_date"].isoformat(),
            str(values["total_active_ms"]),
            str(values["total_session_count"]),
        )

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {
            "client_id": "s.client",
            "application_id": "s.application",
            "user_id": "s.user_id",
            "activity_date": "s.activity_date",
            "total_active_ms": "s.total_active_ms",
            "total_session_count": "s.total_session_count",
        }
        conflict = ["application_id", "user_id", "activity_date"]
        return [upsert(REPORT, conflict=conflict, columns=columns, source=source, insert_only=insert_only)]

    export_tenant, export_time = "client_id", "activity_date"

    def export(self, where: str = "TRUE") -> str:
        return (
            f"SELECT client_id::text AS client, application_id::text AS application, user_id::text AS user, "
            f"activity_date, total_active_ms, total_session_count FROM {REPORT} "
            f"WHERE {where} ORDER BY application_id, user_id, activity_date"
        )


for kind in (ClientKind, DepartmentKind, ClientUserKind, ApplicationKind, AppUsageReportKind):
    registry.register(kind())
