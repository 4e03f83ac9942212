"""The tables of the whole-account export, declared once as data: every SQL sink builds its schema from these.

A :class:`Table` is what a stream writes: its typed columns (``id`` first, ``raw_json`` always added), how two
versions of a row compare (:class:`Versioning`), and whether it is a *snapshot* (a reference list fetched whole
every run, whose rows that disappeared get ``_deleted = true``, never dropped).

Where derived data plugs in (analyst tables), without touching the sinks:

* ``Table.children`` -- a :class:`Child` turns each *written* (winning) version of a parent row into rows of
  another table (``ticket_tags`` from a ticket, ``ticket_comments`` from a ticket event). The sink deletes the
  child rows of every written parent and inserts the derived ones, in the parent's transaction, so a child
  table is always in step with the newest stored parent version.
* ``Table.enrich`` -- a pure function that returns the object with extra top-level keys (e.g. custom-field
  values under column-safe names). Only the typed columns read it; ``raw_json`` keeps the object as received.
* Columns added later -- ``sink.add_columns(table, columns)`` adds the missing ones (``ALTER TABLE ADD
  COLUMN``; old rows hold NULL), and the table's writes fill them from then on. A table's columns are the
  declared ones plus those added, in the order they were added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ._columns import SIDELOAD_COLUMNS, TICKET_COLUMNS, Column, Kind
from ._upsert import Key, sideload_key, ticket_key

__all__ = [
    "DELETED",
    "NOT_NULL",
    "DeletedWhen",
    "REFRESH",
    "TABLES",
    "Child",
    "Table",
    "Versioning",
    "table",
]

#: Bookkeeping columns of snapshot tables: the refresh that last saw the row, and the deleted marker.
REFRESH = "_refresh"
DELETED = "_deleted"


class Versioning(Enum):
    """How a stored row and a newly received version compare (the SQL guard and the write plan agree)."""

    GENERATED = "generated_timestamp"  # tickets: the highest generated_timestamp wins
    UPDATED = "updated_at"  # users, organizations, reference objects: the latest updated_at wins
    IMMUTABLE = "immutable"  # events: written once, never changed by Zendesk


@dataclass(frozen=True)
class Child:
    """A table derived from each written version of a parent row: ``derive(parent)`` gives its rows (dicts
    keyed by column name). ``parent_column`` holds the parent's id in every child row; ``key`` is the child's
    primary key (several columns allowed)."""

    name: str
    columns: tuple[Column, ...]
    parent_column: str
    key: tuple[str, ...]
    derive: Callable[[Mapping[str, Any]], list[dict[str, Any]]]


#: ``DeletedWhen.value`` of a row whose column holds anything (is not null).
NOT_NULL = "not null"


@dataclass(frozen=True)
class DeletedWhen:
    """A row Zendesk itself marks deleted: its top-level ``column`` holds ``value`` (a text or a boolean), or
    anything when ``value`` is ``NOT_NULL``. One declaration, read as SQL by the SQL sinks and on the object by
    the file sinks, so both count the same rows."""

    column: str
    value: str | bool

    @property
    def sql(self) -> str:
        """The SQL condition (the column is quoted; booleans compare as TRUE/FALSE)."""
        name = '"' + self.column + '"'
        if self.value == NOT_NULL:
            return f"{name} IS NOT NULL"
        literal = str(self.value).upper() if isinstance(self.value, bool) else f"'{self.value}'"
        return f"{name} = {literal}"

    def __call__(self, obj: Mapping[str, Any]) -> bool:
        found = obj.get(self.column)
        if self.value == NOT_NULL:
            return found is not None
        return type(found) is type(self.value) and found == self.value


@dataclass(frozen=True)
class Table:
    """One stream's table (see the module docstring)."""

    name: str
    columns: tuple[Column, ...]
    versioning: Versioning
    snapshot: bool = False
    children: tuple[Child, ...] = ()
    enrich: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    deleted_when: DeletedWhen | None = None  # a row Zendesk itself marks deleted (snapshots: ``_deleted``)

    def key(self, obj: Mapping[str, Any]) -> Key:
        """(id, version, deleted) of ``obj`` for the upsert rule of ``_upsert``."""
        if self.versioning is Versioning.GENERATED:
            return ticket_key(obj)
        if self.versioning is Versioning.UPDATED:
            return sideload_key(obj)
        obj_id = obj.get("id")
        if not isinstance(obj_id, int) or isinstance(obj_id, bool):
            raise ValueError(f"{self.name}: object without an integer id: id={obj_id!r}")
        return obj_id, 0, False

    @property
    def guard(self) -> str:
        """The SQL condition under which a stored row is replaced (``{table}`` is the target)."""
        if self.versioning is Versioning.GENERATED:
            return 'excluded."generated_timestamp" >= {table}."generated_timestamp"'
        if self.versioning is Versioning.UPDATED:
            return ('excluded."updated_at" IS NULL OR {table}."updated_at" IS NULL '
                    'OR excluded."updated_at" >= {table}."updated_at"')
        return "1 = 1"  # the plan only writes an event whose content differs (never, from Zendesk)


def _col(name: str, kind: Kind, *path: str) -> Column:
    return Column(name, kind, path or (name,))


_I, _T, _B, _TS, _J = Kind.INTEGER, Kind.TEXT, Kind.BOOLEAN, Kind.TIMESTAMP, Kind.JSON
_STAMPS = (_col("created_at", _TS), _col("updated_at", _TS))


def _reference(name: str, *columns: Column) -> Table:
    return Table(name, (_col("id", _I), *columns, *_STAMPS), Versioning.UPDATED, snapshot=True)


TABLES: Mapping[str, Table] = {table.name: table for table in (
    Table("tickets", TICKET_COLUMNS, Versioning.GENERATED, deleted_when=DeletedWhen("status", "deleted")),
    Table("ticket_events", (
        _col("id", _I), _col("ticket_id", _I), _col("updater_id", _I), _col("event_type", _T),
        _col("timestamp", _I), _col("created_at", _TS), _col("via", _J), _col("child_events", _J),
    ), Versioning.IMMUTABLE),
    Table("ticket_metric_events", (
        _col("id", _I), _col("ticket_id", _I), _col("metric", _T), _col("instance_id", _I), _col("type", _T),
        _col("time", _TS), _col("deleted", _B),
    ), Versioning.IMMUTABLE, deleted_when=DeletedWhen("deleted", True)),
    Table("users", SIDELOAD_COLUMNS["users"], Versioning.UPDATED, deleted_when=DeletedWhen("active", False)),
    Table("organizations", SIDELOAD_COLUMNS["organizations"], Versioning.UPDATED,
          deleted_when=DeletedWhen("deleted_at", NOT_NULL)),
    Table("groups", SIDELOAD_COLUMNS["groups"], Versioning.UPDATED, snapshot=True),
    _reference("brands", _col("name", _T), _col("subdomain", _T), _col("active", _B), _col("default", _B)),
    _reference("ticket_fields", _col("type", _T), _col("title", _T), _col("key", _T), _col("active", _B),
               _col("position", _I)),
    _reference("ticket_forms", _col("name", _T), _col("active", _B), _col("default", _B),
               _col("ticket_field_ids", _J)),
    _reference("user_fields", _col("type", _T), _col("title", _T), _col("key", _T), _col("active", _B)),
    _reference("organization_fields", _col("type", _T), _col("title", _T), _col("key", _T), _col("active", _B)),
    _reference("group_memberships", _col("user_id", _I), _col("group_id", _I), _col("default", _B)),
    _reference("organization_memberships", _col("user_id", _I), _col("organization_id", _I),
               _col("default", _B)),
    _reference("satisfaction_ratings", _col("ticket_id", _I), _col("score", _T), _col("requester_id", _I),
               _col("assignee_id", _I), _col("group_id", _I), _col("comment", _T)),
    _reference("ticket_metrics", _col("ticket_id", _I), _col("replies", _I), _col("reopens", _I),
               _col("reply_time_in_minutes", _J), _col("first_resolution_time_in_minutes", _J),
               _col("full_resolution_time_in_minutes", _J), _col("solved_at", _TS)),
)}


def table(name: str) -> Table:
    """The table of stream ``name``; a clear ValueError for a name we do not export."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown stream {name!r}; known: {', '.join(TABLES)}") from None
