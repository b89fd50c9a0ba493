"""The interchange format (SPEC §10): JSON Lines, one record a line, ``kind`` first.

This module is the machinery; the kinds themselves are declared next to their models, in
``usage/interchange.py`` and ``apps_analytics/interchange.py``, and found by autodiscovery (as
``admin.py`` modules are). The registry's order, INSTALLED_APPS order then declaration order, is the
dependency order: it is the order of export and of writing.

Import, for one file or one request, in one transaction:

1. every record is parsed (orjson) and checked in Python with cheap checks: its fields (a table of
   field checks), the tenant the caller may write into, and its references. A record may refer only
   to entities defined earlier in the same input or already stored; stored ones are looked up in
   bulk, once per chunk, and cached.
2. chunk by chunk (CHUNK_ROWS records), in dependency order, the valid rows of each kind are
   streamed with COPY into a temporary staging table, checked against other tenants' stored rows in
   one query, and written with ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``. So an import is
   idempotent: a record whose key exists updates the stored row (the record is the entity's whole
   state: absent optional fields take their defaults). A large input is written by a second thread
   on the same connection, so that PostgreSQL writes chunk n while Python checks chunk n + 1.

The bulk of a large import is sessions, so two shortcuts serve them (``UsageEventKind``): a
session in the plain shape whose references are already known good skips the general checks
(``RecordKind.shortcut``), and new sessions are copied straight into their table, sorted for index
locality, without staging (``RecordKind.copy_in``; a chunk holding a stored key falls back to the
staging table and the upsert).

Any bad record rolls the transaction back: nothing is written, and the errors name the line (or the
record index) and the reason.
"""

from __future__ import annotations

import queue
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar

import orjson
import psycopg.errors
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Model
from django.utils.module_loading import autodiscover_modules
from psycopg.adapt import Loader
from psycopg.pq import Format

MAX_ERRORS = 20
CHUNK_ROWS = 20_000
FIRST_CHUNK_ROWS = 5_000
EXPORT_FETCH = 10_000


class Invalid(Exception):
    """A record is wrong; the message says why in words a user can act on."""

    def __init__(self, message: str, *, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True, order=True)
class RecordError:
    """One bad record: where (line number or record index), which kind, and why."""

    position: int
    kind: str = field(default="", compare=False)
    message: str = field(default="", compare=False)
    forbidden: bool = field(default=False, compare=False)  # writes into another tenant's data

    def describe(self, label: str = "line") -> str:
        return f"{label} {self.position}: {self.kind + ': ' if self.kind else ''}{self.message}"


class ImportFailed(Exception):
    """The input was refused as a whole; ``errors`` are the first bad records, in input order."""

    def __init__(self, errors: Sequence[RecordError], *, label: str = "line", truncated: bool = False):
        self.errors = list(errors)
        self.label = label
        self.truncated = truncated
        super().__init__("\n".join(self.lines()))

    @property
    def forbidden(self) -> bool:
        return any(error.forbidden for error in self.errors)

    def lines(self) -> list[str]:
        lines = [error.describe(self.label) for error in self.errors]
        if self.truncated:
            lines.append(f"(stopped after {len(self.errors)} errors)")
        return lines


# ---------------------------------------------------------------------------------------------
# Field checks: each takes the JSON value (never None) and returns the value to store, or raises.


def show(value: Any) -> str:
    """A short rendering of a bad value for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def uuid_value(value: Any) -> str:
    if type(value) is str and _UUID.fullmatch(value):
        return value.lower()
    raise Invalid(f"{show(value)} is not a UUID (expected 8-4-4-4-12 hexadecimal digits)")


def uuid_list(value: Any) -> list[str]:
    if type(value) is not list:
        raise Invalid(f"{show(value)} is not a list of UUIDs")
    return list(dict.fromkeys(uuid_value(each) for each in value))


def text(max_length: int, *, blank: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if type(value) is not str:
            raise Invalid(f"{show(value)} is not a string")
        if len(value) > max_length:
            raise Invalid(f"is longer than {max_length} characters")
        if not blank and not value.strip():
            raise Invalid("must not be empty")
        if "\x00" in value:
            raise Invalid("contains a NUL character")
        return value

    return check


def email(max_length: int) -> Callable[[Any], str]:
    as_text = text(max_length, blank=False)

    def check(value: Any) -> str:
        value = as_text(value)
        try:
            validate_email(value)
        except ValidationError:
            raise Invalid(f"{show(value)} is not an email address")
        return value

    return check


def boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise Invalid(f"{show(value)} is not true or false")


def count(maximum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if type(value) is not int:
            raise Invalid(f"{show(value)} is not an integer")
        if value < 0:
            raise Invalid(f"must not be negative (got {value})")
        if value > maximum:
            raise Invalid(f"is larger than {maximum}")
        return value

    return check


def day(value: Any) -> date:
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"{show(value)} is not a date (YYYY-MM-DD)")


# Stored timestamps stay readable by every reader (Python's datetime included): an instant outside
# these bounds (UTC) is refused, so that one record can never break listing or export.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive


def instant(value: Any) -> datetime:
    """An ISO 8601 timestamp with offset, from 1900-01-01 to 2999-12-31 UTC."""
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                raise Invalid(f"{show(value)} has no UTC offset (ISO 8601 with offset, e.g. 2026-08-01T09:30:00+00:00)")
            if not EARLIEST_INSTANT <= moment < LATEST_INSTANT:
                raise Invalid(f"{show(value)} is outside the accepted range 1900-01-01 to 2999-12-31 (UTC)")
            return moment
    raise Invalid(f"{show(value)} is not an ISO 8601 timestamp with offset (e.g. 2026-08-01T09:30:00+00:00)")


@dataclass(frozen=True)
class Field:
    """A record field: its check, and whether it may be absent (or null), taking ``default``."""

    check: Callable[[Any], Any]
    required: bool = True
    default: Any = None


def required(check: Callable[[Any], Any]) -> Field:
    return Field(check)


def optional(check: Callable[[Any], Any], default: Any = None) -> Field:
    return Field(check, required=False, default=default)


def max_length(model: type[Model], name: str) -> int:
    return model._meta.get_field(name).max_length


# ---------------------------------------------------------------------------------------------
# COPY text format encoding of staging values.

NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def copy_uuid_array(values: Sequence[str]) -> str:
    return "{" + ",".join(values) + "}"  # validated UUIDs need no quoting


# ---------------------------------------------------------------------------------------------
# Kinds.

TENANT_SCOPES = ("organization", "client")


class RecordKind:
    """How one kind of record is checked, staged, written and exported.

    Subclasses set the class attributes and implement ``row``, ``write`` and ``export``; kinds
    stored under a uuid ``id`` use ``EntityKind`` which does the rest.
    """

    name: ClassVar[str]
    fields: ClassVar[Mapping[str, Field]]
    # The tenant a record writes into ("organization" or "client") and the record field naming it.
    scope: ClassVar[str | None] = None
    owner_field: ClassVar[str | None] = None
    # Staging table columns (name, SQL type), after the implicit ``line`` column, in ``row`` order.
    staging: ClassVar[Sequence[tuple[str, str]]]
    # Staging columns identifying one stored row: within one input, the last record for a key wins.
    staging_key: ClassVar[Sequence[str]]
    # SQL run when an import's transaction begins and after its last write: derived data the kind's
    # table keeps (its triggers' work) done once for the whole import rather than per chunk.
    bulk_begin: ClassVar[str] = ""
    bulk_end: ClassVar[str] = ""

    def __init__(self) -> None:
        # Plain tuples: the per-record loop below is the hot path of a bulk import.
        self._specs = tuple((name, spec.check, spec.required, spec.default) for name, spec in self.fields.items())

    def parse(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record's values, checked and with defaults; raises Invalid naming the field."""
        values: dict[str, Any] = {}
        for name, check, is_required, default in self._specs:
            raw = record.get(name)
            if raw is None:
                if is_required:
                    raise Invalid(f"{name} must not be null" if name in record else f"missing field '{name}'")
                values[name] = default
                continue
            try:
                values[name] = check(raw)
            except Invalid as exc:
                raise Invalid(f"{name}: {exc}") from None
        if len(record) > len(values) + 1 or "kind" not in record:
            unknown = sorted(set(record) - set(self.fields) - {"kind"})
            if unknown:
                raise Invalid(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(self.fields)}")
        return values

    def key(self, values: dict[str, Any]) -> Hashable | None:
        """How other records refer to this one (None: nothing refers to it)."""
        return None

    def loose_key(self, record: dict[str, Any]) -> Hashable | None:
        """The key of a record that failed its checks, if it has one, so that references to it do not fail too."""
        try:
            key = self.key(record)
        except (KeyError, TypeError):
            return None
        return key if isinstance(key, Hashable) else None

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        """The COPY-encoded staging row; checks references through ``refs``."""
        raise NotImplementedError

    def item(self, position: int, row: Any) -> Any:
        """What a chunk keeps of a checked record until it is written: by default its staging line."""
        return f"{position}\t" + "\t".join(row)

    def shortcut(self, refs: References, allowed: frozenset | None) -> Callable[[dict[str, Any], int], Any] | None:
        """For one import: a function giving the chunk item of a record (and its line number) in the common,
        plainly valid shape, or None to run the general checks; None: no shortcut.

        A shortcut for a kind imported by the million: it must accept only records the general
        checks accept with the same item, and leave everything else (errors included) to them.
        """
        return None

    def staging_data(self, cursor, items: list[Any], memo: dict[Any, Any]) -> str | bytes:
        """The COPY data of a chunk's items for the staging table: text, or bytes in the binary format
        (``memo``: the writer's per-import cache)."""
        return "\n".join(items) + "\n"

    def copy_in(self, cursor, items: list[Any], memo: dict[Any, Any]) -> tuple[str, str | bytes] | None:
        """A COPY statement and data writing the items straight into the kind's table, when they are all
        new rows (the writer tries it in a savepoint and stages instead on a unique violation); None: always stage."""
        return None

    def copy_in_now(self, items: list[Any], memo: dict[Any, Any]) -> tuple[str, str | bytes] | None:
        """``copy_in`` without the database, if it can be done so (None: the writer does it): called by the
        checking thread, which has time to spare, so that the writer thread only feeds PostgreSQL."""
        return None

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        """SQL statements that upsert the staged rows of ``source`` (a table or subquery, aliased s);
        ``insert_only``: plain inserts, for rows known to be new (see ``upsert``)."""
        raise NotImplementedError

    def stored(self, cursor, keys: list[Hashable]) -> dict[Hashable, str | None]:
        """The owners (tenant ids, None when the kind has none) of the stored rows among ``keys``."""
        raise NotImplementedError

    def conflicts(self, staging: str, scope: WriteScope) -> tuple[str, list[Any]] | None:
        """SQL (and params) selecting ``line, message`` of staged rows that would overwrite another tenant's row."""
        return None

    # What an export can be narrowed by (see ExportSelection): SQL expressions, in the export query, of
    # a row's tenant id (a tenant of ``scope``) and of its time (sessions, reports); None: not narrowed.
    export_tenant: ClassVar[str | None] = None
    export_time: ClassVar[str | None] = None

    def export_tenant_condition(self) -> str:
        """SQL true for the rows of the selected tenants (``%(tenants)s``, a uuid array)."""
        return f"{self.export_tenant} = ANY(%(tenants)s::uuid[])"

    def export(self, where: str = "TRUE") -> str:
        """SQL selecting the stored rows for which ``where`` holds as the record's fields, in order (uuids as text)."""
        raise NotImplementedError


class EntityKind(RecordKind):
    """A kind stored in one table under its uuid ``id``, owned by a tenant column (``owner_column``)."""

    model: ClassVar[type[Model]]
    owner_column: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "export_tenant" not in cls.__dict__ and hasattr(cls, "owner_column"):
            cls.export_tenant = cls.owner_column  # exports read the table unaliased unless a kind says otherwise

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def key(self, values: dict[str, Any]) -> Hashable:
        return values["id"]

    def loose_key(self, record: dict[str, Any]) -> Hashable | None:
        return record["id"].lower() if type(record.get("id")) is str else None

    def stored(self, cursor, keys: list[Hashable]) -> dict[Hashable, str | None]:
        cursor.execute(
            f"SELECT id::text, {self.owner_column}::text FROM {self.table} WHERE id = ANY(%s::uuid[])", [keys]
        )
        return dict(cursor.fetchall())

    def conflicts(self, staging: str, scope: WriteScope) -> tuple[str, list[Any]] | None:
        if self.owner_column == "id":
            return None
        return (
            f"SELECT s.line, '{self.name} ' || s.id || ' is not yours: the id is taken' "
            f"FROM {staging} s JOIN {self.table} t ON t.id = s.id "
            f"WHERE t.{self.owner_column} <> s.{self.owner_field} ORDER BY s.line LIMIT {MAX_ERRORS}",
            [],
        )


def upsert(
    table: str, *, conflict: Sequence[str], columns: Mapping[str, str], source: str, insert_only: bool = False
) -> str:
    """INSERT ... SELECT ... ON CONFLICT DO UPDATE, touching only rows whose values change.

    ``columns`` maps target columns to expressions over the staging alias ``s``; ``source`` is the
    FROM clause (staging table or subquery aliased ``s``, with any joins). ``insert_only`` leaves the
    ON CONFLICT clause out: cheaper, for rows that are all new.
    """
    targets = ", ".join(columns)
    insert = f"INSERT INTO {table} ({targets}) SELECT {', '.join(columns.values())} FROM {source}"
    if insert_only:
        return insert
    updated = [name for name in columns if name not in conflict]
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in updated)
    current = ", ".join(f"{table}.{name}" for name in updated)
    incoming = ", ".join(f"EXCLUDED.{name}" for name in updated)
    return (
        f"{insert} ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {assignments} "
        f"WHERE ({current}) IS DISTINCT FROM ({incoming})"
    )


def replace_links(through: type[Model], *, owner: str, other: str, source: str, column: str) -> list[str]:
    """Make a many-to-many table hold exactly the ids listed in ``s.<column>`` for each staged ``s.id``."""
    table = through._meta.db_table
    # Each returns the owners whose links it changed: a record that changes only its links is an update.
    return [
        f"DELETE FROM {table} m USING {source} WHERE m.{owner} = s.id AND m.{other} <> ALL(s.{column}) "
        f"RETURNING m.{owner}",
        f"INSERT INTO {table} ({owner}, {other}) SELECT s.id, linked FROM {source}, unnest(s.{column}) linked "
        f"ON CONFLICT ({owner}, {other}) DO NOTHING RETURNING {owner}",
    ]


class NamedEntityKind(EntityKind):
    """An entity that is only an id, its tenant and a name (teams, departments, applications).

    Subclasses name ``model`` and the owner (``owner_field``, ``owner_column``, ``scope``); the
    fields, staging columns, row, write and export follow from them.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner = cls.owner_field
        cls.fields = {
            "id": required(uuid_value),
            owner: required(uuid_value),
            "name": required(text(max_length(cls.model, "name"), blank=False)),
        }
        cls.staging = (("id", "uuid"), (owner, "uuid"), ("name", "text"))
        cls.staging_key = ("id",)

    def row(self, values: dict[str, Any], refs: References) -> Sequence[str]:
        owner = values[self.owner_field]
        refs.require(self.scope, owner, owner, self.owner_field)
        return values["id"], owner, copy_text(values["name"])

    def write(self, source: str, *, insert_only: bool = False) -> list[str]:
        columns = {"id": "s.id", self.owner_column: f"s.{self.owner_field}", "name": "s.name"}
        return [upsert(self.table, conflict=["id"], columns=columns, source=source, insert_only=insert_only)]

    def export(self, where: str = "TRUE") -> str:
        return (
            f"SELECT id::text AS id, {self.owner_column}::text AS {self.owner_field}, name "
            f"FROM {self.table} WHERE {where} ORDER BY id"
        )


class Registry:
    """The record kinds by name, in dependency order."""

    def __init__(self) -> None:
        self._kinds: dict[str, RecordKind] = {}

    def register(self, kind: RecordKind) -> RecordKind:
        if kind.name in self._kinds:
            raise ValueError(f"record kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: Any) -> RecordKind | None:
        return self._kinds.get(name) if type(name) is str else None

    def __iter__(self) -> Iterator[RecordKind]:
        return iter(self._kinds.values())

    def names(self) -> list[str]:
        return list(self._kinds)


registry = Registry()
_discovered = False


def kinds() -> Registry:
    """The registry, with every app's ``interchange`` module imported."""
    global _discovered
    if not _discovered:
        autodiscover_modules("interchange")
        _discovered = True
    return registry


# ---------------------------------------------------------------------------------------------
# Import.


@dataclass(frozen=True)
class WriteScope:
    """The tenants a caller may write into; None means any (staff tokens, the command line)."""

    organizations: frozenset[str] | None = None
    clients: frozenset[str] | None = None

    def allowed(self, scope: str | None) -> frozenset[str] | None:
        """The tenants of ``scope`` (a kind's "organization" or "client") allowed; None: any."""
        return {"organization": self.organizations, "client": self.clients}.get(scope) if scope else None


UNRESTRICTED = WriteScope()
NO_SHORTCUTS: Mapping[str, Callable] = MappingProxyType({})
_ABSENT = object()  # not looked up yet
_MISSING = object()  # looked up: not stored
_BROKEN = object()  # defined by a record that failed its checks (already reported)

# A reference waiting for a bulk lookup: (position, record kind, referenced kind, key, owner, field).
PendingReference = tuple[int, str, str, Hashable, "str | None", str]


class References:
    """Checks that referenced entities were defined earlier in the input or are stored, in the right tenant.

    References to entities not defined earlier in the input are collected and looked up in bulk
    (``resolve``, one query per kind and chunk); what is found is cached for the rest of the input.
    """

    def __init__(self) -> None:
        names = kinds().names()
        # Created up front: the writer thread fills ``stored`` while the checking thread reads it.
        self.defined: dict[str, dict[Hashable, str | None]] = {name: {} for name in names}
        self.stored: dict[str, dict[Hashable, Any]] = {name: {} for name in names}
        self.pending: list[PendingReference] = []
        self.position = 0
        self.kind = ""
        self.memo: dict[Any, Any] = {}  # per-input scratch space of the kinds (e.g. parsed addresses)

    def require(self, kind: str, key: Hashable, owner: str | None, label: str) -> None:
        """``label`` (a field) refers to ``kind`` ``key``, which must belong to ``owner`` (None: any)."""
        found = self.defined[kind].get(key, _ABSENT)
        if found is _ABSENT:
            found = self.stored[kind].get(key, _ABSENT)
            if found is _ABSENT:
                self.pending.append((self.position, self.kind, kind, key, owner, label))
                return
        if found == owner or (owner is None and found is not _MISSING) or found is _BROKEN:
            return
        raise Invalid(f"{label} {_show_key(key)} {_reference_problem(kind, found, owner)}")

    def define(self, kind: str, key: Hashable, owner: str | None, scope: str | None) -> None:
        before = self.defined[kind].get(key, _ABSENT)
        if before is not _ABSENT and before != owner:
            raise Invalid(f"{kind} {_show_key(key)} was defined on an earlier line for another {scope}")
        self.defined[kind][key] = owner

    def define_broken(self, kind: RecordKind, record: dict[str, Any]) -> None:
        key = kind.loose_key(record)
        if key is not None:
            self.defined[kind.name].setdefault(key, _BROKEN)

    def take_pending(self) -> list[PendingReference]:
        pending, self.pending = self.pending, []
        return pending

    def resolve(self, cursor, pending: list[PendingReference]) -> list[RecordError]:
        """Look the pending references up (one query per referenced kind) and report the bad ones."""
        wanted: dict[str, set[Hashable]] = defaultdict(set)
        for _, _, kind, key, _, _ in pending:
            wanted[kind].add(key)
        for kind, keys in wanted.items():
            cache = self.stored[kind]
            keys = {key for key in keys if key not in cache}
            if keys:
                found = kinds().get(kind).stored(cursor, list(keys))
                cache.update({key: found.get(key, _MISSING) for key in keys})
        errors = []
        for position, record_kind, kind, key, owner, label in pending:
            problem = _reference_problem(kind, self.stored[kind][key], owner)
            if problem:
                message = f"{label} {_show_key(key)} {problem}"
                errors.append(RecordError(position, record_kind, message))
        return errors


# An id of another tenant reads exactly as one that does not exist (same words, same status): an
# error never confirms that another tenant's id exists.
UNKNOWN_OR_NOT_YOURS = "is unknown or not yours (neither defined earlier in the input nor stored for this tenant)"


def _reference_problem(kind: str, found: Any, owner: str | None) -> str | None:
    if found is _MISSING or (owner is not None and found != owner):
        return UNKNOWN_OR_NOT_YOURS
    return None


def _show_key(key: Hashable) -> str:
    return "'" + "@".join(key) + "'" if isinstance(key, tuple) else str(key)


@dataclass
class Chunk:
    """Checked records waiting to be written: items per kind (see ``RecordKind.item``), and references to look up."""

    items: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    ready: dict[str, tuple[str, str | bytes]] = field(default_factory=dict)  # copy_in, prepared beforehand
    pending: list[PendingReference] = field(default_factory=list)
    size: int = 0
    write: bool = True  # False once a bad record was seen: only the references are still checked


class Writer:
    """Writes chunks: straight into the table with COPY where the kind can and the rows are new, else
    through one temporary staging table per kind: COPY, tenant conflicts, upsert.

    It uses the psycopg cursor of the import's transaction directly, so that it can run in a
    thread of its own (see ``ThreadedWriter``) while the next chunk is being checked.
    """

    _serial = 0

    def __init__(self, cursor, refs: References, scope: WriteScope) -> None:
        Writer._serial += 1
        self.cursor = cursor
        self.refs = refs
        self.scope = scope
        self.suffix = Writer._serial
        self.tables: dict[str, str] = {}
        self.errors: list[RecordError] = []
        self.memo: dict[Any, Any] = {}  # per-import cache of the kinds (e.g. device ids)
        # Kinds for which a chunk held stored keys: later chunks (likely a re-import) go straight to the upsert.
        self.existing: set[str] = set()
        # Rows written per kind: [new, updated] (the records that changed nothing are the rest).
        self.changed: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def process(self, chunk: Chunk) -> None:
        self.errors += self.refs.resolve(self.cursor, chunk.pending)
        if not chunk.write or self.errors:
            return
        for kind in kinds():
            items = chunk.items.get(kind.name)
            if items:
                if kind.name not in self.existing:
                    direct = chunk.ready.get(kind.name) or kind.copy_in(self.cursor, items, self.memo)
                    if direct is not None:
                        if self._copy_new(*direct):
                            self.changed[kind.name][0] += len(items)
                            continue
                        self.existing.add(kind.name)
                self._stage(kind, kind.staging_data(self.cursor, items, self.memo))
                conflicts = self._write(kind)
                if conflicts:
                    self.errors += conflicts
                    return

    def _copy_new(self, statement: str, data: str | bytes) -> bool:
        """COPY rows believed new straight into their table, in a savepoint; False (rolled back) if a key exists."""
        self.cursor.execute("SAVEPOINT interchange_write")
        try:
            with self.cursor.copy(statement) as copy:
                copy.write(data)
        except psycopg.errors.UniqueViolation:
            self.cursor.execute("ROLLBACK TO SAVEPOINT interchange_write")
            self.cursor.execute("RELEASE SAVEPOINT interchange_write")
            return False
        self.cursor.execute("RELEASE SAVEPOINT interchange_write")
        return True

    def _stage(self, kind: RecordKind, data: str | bytes) -> None:
        table = self.tables.get(kind.name)
        if table is None:
            table = self.tables[kind.name] = f"interchange_{kind.name}_{self.suffix}"
            columns = ", ".join(f"{name} {sql_type}" for name, sql_type in kind.staging)
            self.cursor.execute(f"CREATE TEMPORARY TABLE {table} (line integer NOT NULL, {columns}) ON COMMIT DROP")
        else:
            self.cursor.execute(f"TRUNCATE {table}")
        binary = " (FORMAT binary)" if isinstance(data, bytes) else ""
        with self.cursor.copy(f"COPY {table} FROM STDIN{binary}") as copy:
            copy.write(data)

    def _conflicts(self, kind: RecordKind) -> list[RecordError]:
        query = kind.conflicts(self.tables[kind.name], self.scope)
        if query is None:
            return []
        self.cursor.execute(*query)
        return [RecordError(line, kind.name, message, True) for line, message in self.cursor.fetchall()]

    def _write(self, kind: RecordKind) -> list[RecordError]:
        """The staged rows into the kind's table, trying the cheapest statement that is right first.

        Returns the rows refused because they would overwrite another tenant's row (nothing is
        written then). Only rows that exist can conflict, so a chunk of new rows needs no check.
        """
        table = self.tables[kind.name]
        if kind.name not in self.existing:
            if self._attempt(kind, f"{table} s", insert_only=True, retry_on=psycopg.errors.UniqueViolation):
                return []  # all new: a plain INSERT, about a third cheaper than an upsert
            self.existing.add(kind.name)
        conflicts = self._conflicts(kind)
        if conflicts:
            return conflicts
        if not self._attempt(kind, f"{table} s", insert_only=False, retry_on=psycopg.errors.CardinalityViolation):
            # The same key twice in the chunk: the last record of each key wins.
            keys = ", ".join(kind.staging_key)
            latest = f"(SELECT DISTINCT ON ({keys}) * FROM {table} ORDER BY {keys}, line DESC) s"
            self._attempt(kind, latest, insert_only=False, retry_on=None)
        return []

    def _attempt(self, kind: RecordKind, source: str, *, insert_only: bool, retry_on: type | None) -> bool:
        """Run the kind's write statements in a savepoint; False (rolled back) if they raise ``retry_on``.

        The first statement writes the kind's rows, the others (if any) its links; the rows are counted
        as new or updated, a row whose links alone changed as updated.
        """
        rows, *links = kind.write(source, insert_only=insert_only)
        self.cursor.execute("SAVEPOINT interchange_write")
        try:
            if insert_only:
                self.cursor.execute(rows)
                new, updated = self.cursor.rowcount, 0
            elif links:
                self.cursor.execute(f"WITH w AS ({rows} RETURNING id, xmax = 0) SELECT * FROM w")
                written = self.cursor.fetchall()
                inserted = {key for key, is_new in written if is_new}
                changed = {key for key, is_new in written if not is_new}
            else:
                self.cursor.execute(
                    f"WITH w AS ({rows} RETURNING xmax = 0 AS is_new) "
                    "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM w"
                )
                new, updated = self.cursor.fetchone()
            for statement in links:
                self.cursor.execute(statement)
                if not insert_only:
                    changed.update(owner for (owner,) in self.cursor.fetchall())
        except psycopg.Error as exc:
            if retry_on is None or not isinstance(exc, retry_on):
                raise
            self.cursor.execute("ROLLBACK TO SAVEPOINT interchange_write")
            self.cursor.execute("RELEASE SAVEPOINT interchange_write")
            return False
        self.cursor.execute("RELEASE SAVEPOINT interchange_write")
        if links and not insert_only:
            new, updated = len(inserted), len(changed - inserted)
        self.changed[kind.name][0] += new
        self.changed[kind.name][1] += updated
        return True

    def drop(self) -> None:
        for table in self.tables.values():
            self.cursor.execute(f"DROP TABLE {table}")


class ThreadedWriter(threading.Thread):
    """Runs a Writer beside the checking thread: PostgreSQL writes chunk n while Python checks chunk n + 1.

    The queue holds one chunk, so memory stays bounded; the writer's failure, if any, is re-raised
    by ``finish``.
    """

    def __init__(self, writer: Writer) -> None:
        super().__init__(name="interchange-writer", daemon=True)
        self.writer = writer
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
        self.failure: BaseException | None = None

    def run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.failure is None:
                try:
                    self.writer.process(chunk)
                except BaseException as exc:  # handed to the checking thread by finish()
                    self.failure = exc

    def submit(self, chunk: Chunk) -> None:
        self.chunks.put(chunk)

    def finish(self) -> None:
        self.chunks.put(None)
        self.join()
        if self.failure is not None:
            raise self.failure


class Importer:
    """Imports records, all or nothing; ``run`` returns the number of records of each kind."""

    def __init__(
        self,
        *,
        scope: WriteScope = UNRESTRICTED,
        label: str = "line",
        chunk_rows: int = CHUNK_ROWS,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.scope = scope
        self.label = label
        self.chunk_rows = chunk_rows
        self.progress = progress  # called with (records checked, position reached) as each chunk is handed on
        self.outcome: dict[str, dict[str, int]] = {}  # after run: per kind, records new, updated, unchanged
        self.registry = kinds()
        self.by_name = {kind.name: kind for kind in self.registry}
        self.allowed = {kind.name: scope.allowed(kind.scope) for kind in self.registry}

    def run(self, records: Iterable[tuple[int, Any]]) -> dict[str, int]:
        """``records`` are (position, record) pairs; a record is a JSON text (bytes or str) or a parsed dict."""
        counts: dict[str, int] = defaultdict(int)  # of the records written: an import with errors has none
        errors: list[RecordError] = []
        with transaction.atomic(), connection.cursor() as cursor:
            # Foreign keys are checked as each chunk is written (by the writer thread, while the next
            # chunk is being checked) rather than all at commit time, after every other step.
            # An import is not a report: the statement limit of requests (see settings) does not cut it.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL statement_timeout = 0")
            for kind in self.registry:
                if kind.bulk_begin:
                    cursor.execute(kind.bulk_begin)
            refs = References()
            shortcuts = {
                kind.name: shortcut
                for kind in self.registry
                if (shortcut := kind.shortcut(refs, self.allowed[kind.name])) is not None
            }
            writer = Writer(cursor.cursor, refs, self.scope)
            thread: ThreadedWriter | None = None  # started after the first full chunk; small inputs need none
            chunk = Chunk()
            # A small first chunk, then chunks doubling up to chunk_rows: PostgreSQL idles until one is
            # checked.
            check, chunk_rows, pending = self._check, min(self.chunk_rows, FIRST_CHUNK_ROWS), refs.pending
            try:
                for position, raw in records:  # the hot loop of a bulk import: kept lean
                    outcome = check(position, raw, refs, shortcuts)
                    if type(outcome) is RecordError:
                        errors.append(outcome)
                        chunk.write = False
                        if len(errors) >= MAX_ERRORS:
                            break
                        continue
                    if chunk.write:
                        chunk.items[outcome[0]].append(outcome[1])
                        chunk.size += 1
                        if chunk.size < chunk_rows and len(pending) < chunk_rows:
                            continue
                    elif len(pending) < chunk_rows:
                        continue
                    self._close(chunk, refs, writer, counts)
                    if self.progress is not None:
                        self.progress(sum(counts.values()) + len(errors), position)
                    pending, chunk_rows = refs.pending, min(self.chunk_rows, 2 * chunk_rows)
                    if thread is None:
                        # The first chunk holds most entities: many short statements, which a writer
                        # thread would run slowly beside a busy checking thread (waiting for the GIL at
                        # each one), so it is written here. Its devices' ids are then known too.
                        writer.process(chunk)
                        thread = ThreadedWriter(writer)
                        thread.start()
                    else:
                        thread.submit(chunk)
                    chunk = Chunk(write=not errors and not writer.errors)
                    if len(writer.errors) >= MAX_ERRORS or thread.failure is not None:
                        break
                self._close(chunk, refs, writer, counts)
                if thread is None:
                    writer.process(chunk)
                else:
                    thread.submit(chunk)
            finally:
                if thread is not None:
                    thread.finish()
            errors += writer.errors
            if errors:
                raise ImportFailed(sorted(errors)[:MAX_ERRORS], label=self.label, truncated=len(errors) >= MAX_ERRORS)
            writer.drop()
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are INITIALLY DEFERRED
            for kind in self.registry:
                if kind.bulk_end:
                    cursor.execute(kind.bulk_end)
        self.outcome = {
            name: {"new": new, "updated": updated, "unchanged": counts[name] - new - updated}
            for name in counts
            for new, updated in [writer.changed[name]]
        }
        return dict(counts)

    def _close(self, chunk: Chunk, refs: References, writer: Writer, counts: dict[str, int]) -> None:
        """Make a chunk ready for the writer: its references to look up, and what can be prepared here."""
        chunk.pending = refs.take_pending()
        for name, items in chunk.items.items():
            counts[name] += len(items)
            if chunk.write and name not in writer.existing:
                ready = self.by_name[name].copy_in_now(items, writer.memo)
                if ready is not None:
                    chunk.ready[name] = ready

    def _check(
        self, position: int, raw: Any, refs: References, shortcuts: Mapping[str, Callable] = NO_SHORTCUTS
    ) -> tuple[str, Any] | RecordError:
        """The record's kind name and chunk item, or what is wrong with it (``shortcuts``: see RecordKind.shortcut)."""
        record = raw
        if isinstance(raw, (bytes, str)):  # a tuple: faster than a union
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return RecordError(position, "", f"not valid JSON ({exc.msg} at character {exc.pos})")
        if type(record) is not dict:
            return RecordError(position, "", "a record must be a JSON object with a 'kind'")
        name = record.get("kind")
        kind = self.by_name.get(name) if type(name) is str else None
        if kind is None:
            known = ", ".join(self.registry.names())
            if "kind" not in record:
                return RecordError(position, "", f"missing field 'kind' (one of {known})")
            return RecordError(position, "", f"unknown kind {show(record['kind'])} (known kinds: {known})")
        shortcut = shortcuts.get(name)
        if shortcut is not None and (item := shortcut(record, position)) is not None:
            return name, item
        try:
            values = kind.parse(record)
            owner = values[kind.owner_field] if kind.owner_field else None
            allowed = self.allowed[kind.name]
            if allowed is not None and owner not in allowed:
                raise Invalid(f"this token may not write into {kind.scope} {owner}", forbidden=True)
            refs.position, refs.kind = position, kind.name
            row = kind.row(values, refs)
            key = kind.key(values)
            if key is not None:
                refs.define(kind.name, key, owner, kind.scope)
        except Invalid as exc:
            refs.define_broken(kind, record)  # one error per mistake: references to it are not reported again
            return RecordError(position, kind.name, str(exc), exc.forbidden)
        return name, kind.item(position, row)


def read_lines(stream: Iterable[bytes | str]) -> Iterator[tuple[int, bytes | str]]:
    """(line number, line) for the non-blank lines of a JSON Lines stream."""
    for number, line in enumerate(stream, 1):
        if line and not line.isspace():  # as line.strip(), without copying the line
            yield number, line


# ---------------------------------------------------------------------------------------------
# Export.


class _TolerantTimestamptzLoader(Loader):
    """PostgreSQL's timestamptz loader, but a value Python's datetime cannot hold (before year 1 or
    after 9999: stored before imports refused them) is kept as PostgreSQL's text, so that one such
    row never stops an export."""

    def __init__(self, oid: int, context=None):
        super().__init__(oid, context)
        self._load = psycopg.adapters.get_loader(oid, Format.TEXT)(oid, context).load

    def load(self, data) -> Any:
        try:
            return self._load(data)
        except psycopg.DataError:
            return bytes(data).decode()


@dataclass(frozen=True)
class ExportSelection:
    """What an export holds. Tenants: the organizations' device usage kinds and the clients' app kinds
    (naming only organizations leaves the app kinds out, and the reverse); None: every tenant of both.
    ``since``/``until`` (inclusive dates, UTC) narrow the sessions by start and the reports by day;
    entities are exported whole, so that the export stays importable. ``kinds``: only those kinds."""

    organizations: tuple[str, ...] | None = None
    clients: tuple[str, ...] | None = None
    since: date | None = None
    until: date | None = None
    kinds: frozenset[str] | None = None

    def query(self, kind: RecordKind) -> tuple[str, dict[str, Any]] | None:
        """The kind's export SQL and parameters, or None when the selection holds none of its rows."""
        if self.kinds is not None and kind.name not in self.kinds:
            return None
        conditions, params = [], {}
        if self.organizations is not None or self.clients is not None:
            tenants = {"organization": self.organizations, "client": self.clients}.get(kind.scope or "organization")
            if not tenants:
                return None
            conditions.append(kind.export_tenant_condition())
            params["tenants"] = list(tenants)
        if kind.export_time is not None:
            if self.since is not None:
                conditions.append(f"{kind.export_time} >= %(since)s")
                params["since"] = self.since
            if self.until is not None:
                conditions.append(f"{kind.export_time} < %(until)s")
                params["until"] = self.until + timedelta(days=1)
        return kind.export(" AND ".join(conditions) or "TRUE"), params


EVERYTHING = ExportSelection()


def export_lines(selection: ExportSelection = EVERYTHING) -> Iterator[bytes]:
    """The selected stored rows as interchange records, kind by kind in dependency order, streaming."""
    for kind in kinds():
        query = selection.query(kind)
        if query is None:
            continue
        with connection.chunked_cursor() as cursor:
            cursor.cursor.adapters.register_loader("timestamptz", _TolerantTimestamptzLoader)
            cursor.execute(*query)
            names = ("kind", *(column.name for column in cursor.description))
            while rows := cursor.fetchmany(EXPORT_FETCH):
                for row in rows:
                    yield orjson.dumps(dict(zip(names, (kind.name, *row), strict=True))) + b"\n"
