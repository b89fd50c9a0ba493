"""Interchange record kinds of the device usage data (SPEC §10), in dependency order.

{"kind": "organization", "id", "name"}
{"kind": "team", "id", "organization", "name"}
{"kind": "user", "id", "organization", "email", "name"?, "notes"?, "teams"?: [team ids]}
{"kind": "host", "hostname", "country"?}
{"kind": "device", "organization", "device_id", "hostname", "model"?, "os"?, "device_type"?}
{"kind": "usage_event", "id", "organization", "device": "<device_id@hostname>", "user"?, "team"?,
 "start_time", "end_time", "automated"}
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from core.interchange import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    MAX_ERRORS,
    EntityKind,
    Invalid,
    NamedEntityKind,
    RecordKind,
    References,
    WriteScope,
    boolean,
    copy_text,
    copy_uuid_array,
    email,
    instant,
    max_length,
    optional,
    registry,
    replace_links,
    required,
    show,
    text,
    upsert,
    uuid_list,
    uuid_value,
)
from usage import timeline
from usage.models import Device, Host, Organization, Team, UsageEvent, User

ORGANIZATION = Organization._meta.db_table
TEAM = Team._meta.db_table
USER = User._meta.db_table
HOST = Host._meta.db_table
DEVICE = Device._meta.db_table
EVENT = UsageEvent._meta.db_table
USER_TEAMS = User.teams.field


class OrganizationKind(EntityKind):
    name = "organization"
    model = Organization
    scope, owner_field, owner_column = "organization", "id", "id"
    fields = {"id": required(uuid_value), "name": required(text(max_length(Organization, "name"), blank=False))}
    staging = (("id", "uuid"), ("name", "text"))
    staging_key = ("id",)

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        return values["id"], copy_text(values["name"])

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        return [
            upsert(
                ORGANIZATION,
                conflict=["id"],
                columns={"id": "s.id", "name": "s.name"},
                source=source,
                insert_only=insert_only,
            )
        ]

    def export(self, where: str = "TRUE") -> str:
        return f"SELECT id::text AS id, name FROM {ORGANIZATION} WHERE {where} ORDER BY id"


class TeamKind(NamedEntityKind):
    name = "team"
    model = Team
    scope, owner_field, owner_column = "organization", "organization", "organization_id"


class UserKind(EntityKind):
    name = "user"
    model = User
    scope, owner_field, owner_column = "organization", "organization", "organization_id"
    fields = {
        "id": required(uuid_value),
        "organization": required(uuid_value),
        "email": required(email(max_length(User, "email"))),
        "name": optional(text(max_length(User, "name")), ""),
        "notes": optional(text(1_000_000), ""),
        "teams": optional(uuid_list, []),
    }
    staging = (
        ("id", "uuid"),
        ("organization", "uuid"),
        ("email", "text"),
        ("name", "text"),
        ("notes", "text"),
        ("teams", "uuid[]"),
    )
    staging_key = ("id",)

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        organization = values["organization"]
        refs.require("organization", organization, organization, "organization")
        for team in values["teams"]:
            refs.require("team", team, organization, "teams: team")
        return (
            values["id"],
            organization,
            copy_text(values["email"]),
            copy_text(values["name"]),
            copy_text(values["notes"]),
            copy_uuid_array(values["teams"]),
        )

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {
            "id": "s.id",
            "organization_id": "s.organization",
            "email": "s.email",
            "name": "s.name",
            "notes": "s.notes",
        }
        links = replace_links(
            USER_TEAMS.remote_field.through,
            owner=USER_TEAMS.m2m_column_name(),
            other=USER_TEAMS.m2m_reverse_name(),
            source=source,
            column="teams",
        )
        return [upsert(USER, conflict=["id"], columns=columns, source=source, insert_only=insert_only), *links]

    export_tenant = "u.organization_id"

    def export(self, where: str = "TRUE") -> str:
        through = USER_TEAMS.remote_field.through._meta.db_table
        owner, other = USER_TEAMS.m2m_column_name(), USER_TEAMS.m2m_reverse_name()
        return (
            f"SELECT u.id::text AS id, u.organization_id::text AS organization, u.email, u.name, u.notes, "
            f"ARRAY(SELECT m.{other}::text FROM {through} m WHERE m.{owner} = u.id ORDER BY m.{other}) AS teams "
            f"FROM {USER} u WHERE {where} ORDER BY u.id"
        )


_COUNTRY = re.compile(r"[A-Za-z]{2}")


def country(value: Any) -> str:
    if type(value) is str and (value == "" or _COUNTRY.fullmatch(value)):
        return value
    raise Invalid(f"{show(value)} is not a two-letter country code (ISO 3166-1 alpha-2)")


class HostKind(RecordKind):
    """Hosts are shared between organizations: a tenant may add hosts, and change only hosts it alone uses."""

    name = "host"
    fields = {"hostname": required(text(max_length(Host, "hostname"), blank=False)), "country": optional(country, "")}
    staging = (("hostname", "text"), ("country", "text"))
    staging_key = ("hostname",)

    def key(self, values: dict[str, Any]) -> Hashable:
        return values["hostname"]

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        if "@" in values["hostname"]:
            raise Invalid(f"hostname: {show(values['hostname'])} must not contain '@'")
        return copy_text(values["hostname"]), values["country"]

    def stored(self, cursor, keys: list[Hashable]) -> dict[Hashable, str | None]:
        cursor.execute(f"SELECT hostname FROM {HOST} WHERE hostname = ANY(%s)", [keys])
        return {hostname: None for (hostname,) in cursor.fetchall()}

    def conflicts(self, staging: str, scope: WriteScope) -> tuple[str, list[Any]] | None:
        if scope.organizations is None:
            return None
        return (
            f"SELECT s.line, 'host ' || s.hostname || ' has devices of another organization; only staff can change it' "
            f"FROM {staging} s JOIN {HOST} h ON h.hostname = s.hostname "
            f"WHERE h.country IS DISTINCT FROM s.country AND EXISTS (SELECT 1 FROM {DEVICE} d "
            f"WHERE d.host_id = h.id AND NOT d.organization_id = ANY(%s::uuid[])) ORDER BY s.line LIMIT {MAX_ERRORS}",
            [sorted(scope.organizations)],
        )

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {"hostname": "s.hostname", "country": "s.country"}
        return [upsert(HOST, conflict=["hostname"], columns=columns, source=source, insert_only=insert_only)]

    def export_tenant_condition(self) -> str:
        # Hosts belong to no tenant: an organization's export holds the hosts of its devices.
        return (
            f"EXISTS (SELECT 1 FROM {DEVICE} d WHERE d.host_id = h.id AND d.organization_id = ANY(%(tenants)s::uuid[]))"
        )

    def export(self, where: str = "TRUE") -> str:
        return f"SELECT h.hostname, h.country FROM {HOST} h WHERE {where} ORDER BY h.hostname"


class DeviceKind(RecordKind):
    """Devices are keyed by their address ``device_id@hostname``."""

    name = "device"
    scope, owner_field = "organization", "organization"
    fields = {
        "organization": required(uuid_value),
        "device_id": required(text(max_length(Device, "device_id"), blank=False)),
        "hostname": required(text(max_length(Host, "hostname"), blank=False)),
        "model": optional(text(max_length(Device, "model")), ""),
        "os": optional(text(max_length(Device, "os")), ""),
        "device_type": optional(text(max_length(Device, "device_type")), ""),
    }
    staging = (
        ("organization", "uuid"),
        ("device_id", "text"),
        ("hostname", "text"),
        ("model", "text"),
        ("os", "text"),
        ("device_type", "text"),
    )
    staging_key = ("device_id", "hostname")

    def key(self, values: dict[str, Any]) -> Hashable:
        return values["device_id"], values["hostname"]

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        organization = values["organization"]
        refs.require("organization", organization, organization, "organization")
        refs.require("host", values["hostname"], None, "hostname")
        return (
            organization,
            copy_text(values["device_id"]),
            copy_text(values["hostname"]),
            copy_text(values["model"]),
            copy_text(values["os"]),
            copy_text(values["device_type"]),
        )

    def stored(self, cursor, keys: list[Hashable]) -> dict[Hashable, str | None]:
        cursor.execute(
            f"SELECT d.device_id, h.hostname, d.organization_id::text FROM {DEVICE} d "
            f"JOIN {HOST} h ON h.id = d.host_id "
            f"JOIN unnest(%s::text[], %s::text[]) AS k(device_id, hostname) "
            f"ON k.device_id = d.device_id AND k.hostname = h.hostname",
            [[key[0] for key in keys], [key[1] for key in keys]],
        )
        return {(device_id, hostname): owner for device_id, hostname, owner in cursor.fetchall()}

    def conflicts(self, staging: str, scope: WriteScope) -> tuple[str, list[Any]] | None:
        return (
            f"SELECT s.line, 'device ' || s.device_id || '@' || s.hostname || ' is not yours: the address is taken' "
            f"FROM {staging} s JOIN {HOST} h ON h.hostname = s.hostname "
            f"JOIN {DEVICE} d ON d.host_id = h.id AND d.device_id = s.device_id "
            f"WHERE d.organization_id <> s.organization ORDER BY s.line LIMIT {MAX_ERRORS}",
            [],
        )

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {
            "device_id": "s.device_id",
            "host_id": "h.id",
            "organization_id": "s.organization",
            "model": "s.model",
            "os": "s.os",
            "device_type": "s.device_type",
        }
        joined = f"{source} JOIN {HOST} h ON h.hostname = s.hostname"
        return [
            upsert(DEVICE, conflict=["device_id", "host_id"], columns=columns, source=joined, insert_only=insert_only)
        ]

    export_tenant = "d.organization_id"

    def export(self, where: str = "TRUE") -> str:
        return (
            f"SELECT d.organization_id::text AS organization, d.device_id, h.hostname, d.model, d.os, d.device_type "
            f"FROM {DEVICE} d JOIN {HOST} h ON h.id = d.host_id WHERE {where} ORDER BY h.hostname, d.device_id"
        )


def _address(text: str, memo: dict) -> tuple[tuple[str, str], str, str]:
    """A device address as its key and its two COPY-encoded parts; remembered, as sessions repeat devices."""
    device_id, at, hostname = text.rpartition("@")
    if not at or not device_id or not hostname:
        raise Invalid(f"device: {show(text)} is not an address device_id@hostname")
    memo[text] = parsed = (device_id, hostname), copy_text(device_id), copy_text(hostname)
    return parsed


_LOWER_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Sessions go to COPY in its binary format: PostgreSQL parses no text (timestamps and uuids were a
# fifth of its time per session). Columns organization and start first: a chunk sorted as bytes is
# then in (organization, start_time) order, so that consecutive rows land on the same index pages.
_COPY_COLUMNS = "organization_id, start_time, end_time, id, user_id, team_id, automated, device_id"
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary timestamps count microseconds from it
_MICROSECOND = timedelta(microseconds=1)
# Fields are (int32 length, value); a row's int16 field count is added when the COPY data is built.
_BOTH = struct.Struct(">i16siqiqi16si16si16si?")  # organization, start, end, id, user, team, automated
_HEAD = struct.Struct(">i16siqiqi16s")  # organization, start, end, id
_UUID_LENGTH, _NULL_FIELD = b"\x00\x00\x00\x10", b"\xff\xff\xff\xff"
_FLAGS = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}
_EIGHT_FIELDS = struct.pack(">h", 8)  # a row of the table
_NINE_FIELDS_AND_LINE = struct.Struct(">hii")  # a staging row: field count, then the line number field
_DEVICE_FIELD = struct.Struct(">iq")


def _uuid_bytes(value: str, cache: dict[str, bytes]) -> bytes:
    """A checked UUID's 16 bytes, remembered in ``cache``: organizations, users and teams repeat."""
    cache[value] = found = bytes.fromhex(value.replace("-", ""))
    return found


def _binary_fields(
    organization: str,
    start: datetime,
    end: datetime,
    ident: str,
    user: str | None,
    team: str | None,
    automated: bool,
    cache: dict[str, bytes],
) -> bytes:
    """A checked session's binary COPY fields, in ``_COPY_COLUMNS`` order but the device."""
    start_us, end_us = (start - _PG_EPOCH) // _MICROSECOND, (end - _PG_EPOCH) // _MICROSECOND
    organization_bytes = cache.get(organization) or _uuid_bytes(organization, cache)
    ident_bytes = bytes.fromhex(ident.replace("-", ""))
    if user is not None and team is not None:
        user_bytes = cache.get(user) or _uuid_bytes(user, cache)
        team_bytes = cache.get(team) or _uuid_bytes(team, cache)
        return _BOTH.pack(
            16, organization_bytes, 8, start_us, 8, end_us, 16, ident_bytes,
            16, user_bytes, 16, team_bytes, 1, automated,
        )  # fmt: skip
    return (
        _HEAD.pack(16, organization_bytes, 8, start_us, 8, end_us, 16, ident_bytes)
        + (_NULL_FIELD if user is None else _UUID_LENGTH + (cache.get(user) or _uuid_bytes(user, cache)))
        + (_NULL_FIELD if team is None else _UUID_LENGTH + (cache.get(team) or _uuid_bytes(team, cache)))
        + _FLAGS[automated]
    )


class UsageEventKind(EntityKind):
    """One device session; the hot path of a bulk import, so its checks stay cheap.

    A chunk item is (binary COPY fields of the row but its device, line number, device key); the
    writer turns device keys into device ids, sorts, and copies the rows straight into the table
    when they are new (``copy_in``), else stages them for the upsert.
    """

    name = "usage_event"
    model = UsageEvent
    scope, owner_field, owner_column = "organization", "organization", "organization_id"
    # The sessions' timelines (usage.timeline) are recomputed once, after the last chunk.
    bulk_begin = timeline.DEFER
    bulk_end = timeline.RESUME
    fields = {
        "id": required(uuid_value),
        "organization": required(uuid_value),
        "device": required(text(max_length(Device, "device_id") + 1 + max_length(Host, "hostname"), blank=False)),
        "user": optional(uuid_value),
        "team": optional(uuid_value),
        "start_time": required(instant),
        "end_time": required(instant),
        "automated": required(boolean),
    }
    staging = (
        ("organization", "uuid"),
        ("start_time", "timestamptz"),
        ("end_time", "timestamptz"),
        ("id", "uuid"),
        ("user_id", "uuid"),
        ("team_id", "uuid"),
        ("automated", "boolean"),
        ("device", "bigint"),
    )
    staging_key = ("id",)

    def key(self, values: dict[str, Any]) -> Hashable | None:
        return None  # nothing refers to a session

    def row(self, values: dict[str, Any], refs: References) -> tuple[bytes, tuple[str, str]]:
        start, end = values["start_time"], values["end_time"]
        if end < start:
            raise Invalid("end_time is before start_time")
        address = refs.memo.get(values["device"]) or _address(values["device"], refs.memo)
        organization, user, team = values["organization"], values["user"], values["team"]
        # No check of the organization itself: the device's, which must be the same, exists.
        refs.require("device", address[0], organization, "device")
        if user is not None:
            refs.require("user", user, organization, "user")
        if team is not None:
            refs.require("team", team, organization, "team")
        cache = refs.memo.setdefault(_uuid_bytes, {})
        fields = _binary_fields(organization, start, end, values["id"], user, team, values["automated"], cache)
        return fields, address[0]

    def item(self, position: int, row: tuple[bytes, tuple[str, str]]) -> tuple[bytes, int, tuple[str, str]]:
        return row[0], position, row[1]

    def shortcut(self, refs: References, allowed: frozenset | None) -> Callable[[dict[str, Any], int], Any]:
        """Checks a session with all nine fields, on a device seen earlier in the input, whose references
        are already known good: the general checks would accept it with the same item.

        Its ids need no pattern check but the session's own: the organization, user and team are
        compared with the owners of known entities (keys and owners are checked, lowercase UUIDs).
        What is found good is remembered for the import, so that a session costs about one
        dictionary lookup per reference.
        """
        memo, defined, stored = refs.memo, refs.defined, refs.stored
        uuids = memo.setdefault(_uuid_bytes, {})
        defined_devices, defined_users, defined_teams = defined["device"], defined["user"], defined["team"]
        # Entities found good, as (owner, key or bytes, whether found stored). An owner found defined
        # earlier in the input never changes (References.define refuses another); one found stored
        # holds until a later record defines the entity (for another owner: an error, which the
        # general checks report), so such a one is used only while it is not defined.
        devices: dict[str, tuple[str, tuple[str, str], bool, bytes]] = {}  # by address, with the owner's bytes
        users: dict[str, tuple[str, bytes, bool]] = {}
        teams: dict[str, tuple[str, bytes, bool]] = {}
        fromisoformat, fromhex, pack, matches = datetime.fromisoformat, bytes.fromhex, _BOTH.pack, _LOWER_UUID.fullmatch
        earliest, latest = EARLIEST_INSTANT, LATEST_INSTANT

        def owner(kind: str, key: Hashable) -> tuple[str | None, bool]:
            """(owner as References.require finds it, or None when that is not a plain owner; whether stored)."""
            found = defined[kind].get(key)
            if found is not None:
                return (found if type(found) is str else None), False
            found = stored[kind].get(key)
            return (found if type(found) is str else None), True

        def learn_device(text: str) -> tuple[str, tuple[str, str], bool, bytes] | None:
            address = memo.get(text)  # only addresses that passed the checks are remembered
            if address is None:
                return None
            found, in_stored = owner("device", address[0])
            if found is None:
                return None
            devices[text] = known = found, address[0], in_stored, uuids.get(found) or _uuid_bytes(found, uuids)
            return known

        def learn(kind: str, cache: dict, key: str) -> tuple[str, bytes, bool] | None:
            found, in_stored = owner(kind, key)
            if found is None:
                return None
            cache[key] = known = found, uuids.get(key) or _uuid_bytes(key, uuids), in_stored
            return known

        def check(record: dict[str, Any], position: int) -> tuple[bytes, int, tuple[str, str]] | None:
            if len(record) != 9:
                return None
            try:
                organization, user, team = record["organization"], record["user"], record["team"]
                device = devices.get(record["device"])
                if device is None or (device[2] and device[1] in defined_devices):
                    device = learn_device(record["device"])
                if device is None or device[0] != organization:
                    return None
                if allowed is not None and organization not in allowed:
                    return None
                ident, automated = record["id"], record["automated"]
                if (automated is not True and automated is not False) or not matches(ident):
                    return None
                start, end = fromisoformat(record["start_time"]), fromisoformat(record["end_time"])
                if start.tzinfo is None or end.tzinfo is None or end < start:
                    return None
                if not (earliest <= start and end < latest):
                    return None  # the general checks name the bad timestamp
                if user is not None and team is not None:
                    user_known = users.get(user)
                    if user_known is None or (user_known[2] and user in defined_users):
                        user_known = learn("user", users, user)
                    team_known = teams.get(team)
                    if team_known is None or (team_known[2] and team in defined_teams):
                        team_known = learn("team", teams, team)
                    if user_known is None or user_known[0] != organization:
                        return None
                    if team_known is None or team_known[0] != organization:
                        return None
                    fields = pack(
                        16, device[3],
                        8, (start - _PG_EPOCH) // _MICROSECOND, 8, (end - _PG_EPOCH) // _MICROSECOND,
                        16, fromhex(ident.replace("-", "")), 16, user_known[1], 16, team_known[1], 1, automated,
                    )  # fmt: skip
                    return fields, position, device[1]
                for kind, cache, key in (("user", users, user), ("team", teams, team)):
                    if key is not None:
                        known = cache.get(key)
                        if known is None or (known[2] and key in defined[kind]):
                            known = learn(kind, cache, key)
                        if known is None or known[0] != organization:
                            return None
            except (KeyError, TypeError, ValueError):
                return None
            return _binary_fields(organization, start, end, ident, user, team, automated, uuids), position, device[1]

        return check

    def _device_fields(self, cursor, items: list[tuple[bytes, int, tuple[str, str]]], memo: dict) -> dict:
        """Device keys to binary COPY fields of their ids, looked up once per import (the chunk's devices are
        written by now)."""
        ids = memo.setdefault("device_fields", {})
        missing = {key for _, _, key in items if key not in ids}
        if missing:
            cursor.execute(
                f"SELECT d.device_id, h.hostname, d.id FROM {DEVICE} d "
                f"JOIN {HOST} h ON h.id = d.host_id "
                f"JOIN unnest(%s::text[], %s::text[]) AS k(device_id, hostname) "
                f"ON k.device_id = d.device_id AND k.hostname = h.hostname",
                [[key[0] for key in missing], [key[1] for key in missing]],
            )
            ids.update(
                ((device_id, hostname), _DEVICE_FIELD.pack(8, pk)) for device_id, hostname, pk in cursor.fetchall()
            )
        return ids

    def copy_in(self, cursor, items: list[Any], memo: dict) -> tuple[str, bytes]:
        self._device_fields(cursor, items, memo)
        return self.copy_in_now(items, memo)

    def copy_in_now(self, items: list[Any], memo: dict) -> tuple[str, bytes] | None:
        devices = memo.get("device_fields", {})  # filled by the writer thread, read here
        items.sort(key=itemgetter(0))  # by the row bytes: (organization, start_time) order, for index locality
        try:
            rows = b"".join([_EIGHT_FIELDS + fields + devices[key] for fields, _, key in items])
        except KeyError:
            return None  # a device written with this chunk: the writer looks it up
        return f"COPY {EVENT} ({_COPY_COLUMNS}) FROM STDIN (FORMAT binary)", _COPY_HEADER + rows + _COPY_TRAILER

    def staging_data(self, cursor, items: list[Any], memo: dict) -> bytes:
        devices = self._device_fields(cursor, items, memo)
        head = _NINE_FIELDS_AND_LINE.pack
        rows = b"".join([head(9, 4, position) + fields + devices[key] for fields, position, key in items])
        return _COPY_HEADER + rows + _COPY_TRAILER

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {
            "id": "s.id",
            "organization_id": "s.organization",
            "device_id": "s.device",
            "user_id": "s.user_id",
            "team_id": "s.team_id",
            "start_time": "s.start_time",
            "end_time": "s.end_time",
            "automated": "s.automated",
        }
        return [upsert(EVENT, conflict=["id"], columns=columns, source=source, insert_only=insert_only)]

    export_tenant, export_time = "e.organization_id", "e.start_time"

    def export(self, where: str = "TRUE") -> str:
        return (
            f"SELECT e.id::text AS id, e.organization_id::text AS organization, d.device_id || '@' || h.hostname "
            f"AS device, e.user_id::text AS user, e.team_id::text AS team, e.start_time, e.end_time, e.automated "
            f"FROM {EVENT} e JOIN {DEVICE} d ON d.id = e.device_id JOIN {HOST} h ON h.id = d.host_id "
            f"WHERE {where} ORDER BY e.id"
        )


for kind in (OrganizationKind, TeamKind, UserKind, HostKind, DeviceKind, UsageEventKind):
    registry.register(kind())
