"""Custom fields as named, typed columns on ``tickets``, ``users`` and ``organizations``.

A *binding* ties a custom field (by id) to a column of its object's table. It is state kept in the output (the
``custom_field_columns`` table, one row per bound column), because a column name, once an analyst's query uses
it, must not move:

* a **new field** gets a column named after its title: lower case ASCII, every other run of characters one
  ``_``, at most 48 characters (``Order number`` → ``order_number``; a title with nothing usable left →
  ``field_<id>``; a leading digit → ``f_``). A name already taken -- by a fixed column of the table,
  ``raw_json`` or another field's column -- becomes ``<name>_<field id>``, so names stay unique and the same
  fields always get the same names, in whatever order a run meets them (no name is longer than 63 bytes);
* a **renamed field keeps its column** (only the title recorded beside the binding changes);
* a **changed type never loses a value**: a column's kind never changes. When a field's type asks for a kind
  that none of its columns has, the field gets one more column, ``<column>_text``, of kind TEXT, which holds
  any value (a number as its digits, a list as JSON text). The old column stays bound and is still filled
  where a value fits its kind; once a field has a TEXT column, later type changes need no new column.
* a field that disappears keeps its column (NULL in rows written after it is gone).

Kinds by field type: ``checkbox`` BOOLEAN, ``integer`` INTEGER, ``decimal`` NUMBER, ``multiselect`` JSON (a
list), everything else TEXT (``date`` as its ``YYYY-MM-DD`` text; ``tagger``/``dropdown`` the option's value;
``lookup`` the related object's id as text). A value that does not fit its column's kind is NULL there; the
raw JSON and the long form ``ticket_custom_field_values`` keep it as received.

Where values are found: a ticket's ``custom_fields`` list by field id; a user's ``user_fields`` and an
organization's ``organization_fields`` objects by the field's ``key``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from zendesk_export.exporter.analyst.ticket_rows import values_by_id
from zendesk_export.exporter.sinks._columns import Column, Kind

__all__ = [
    "BINDING_COLUMNS",
    "BINDING_KEY",
    "FIELD_STREAMS",
    "FieldColumn",
    "Rebinding",
    "Enricher",
    "column_value",
    "kind_of",
    "rebind",
]

#: The object table each field-definition stream describes.
FIELD_STREAMS: Mapping[str, str] = {
    "tickets": "ticket_fields", "users": "user_fields", "organizations": "organization_fields",
}
#: Where an object keeps its custom values: tickets a list of {id, value}, users/organizations an object by key.
_VALUES_KEY = {"tickets": "custom_fields", "users": "user_fields", "organizations": "organization_fields"}

#: Ticket fields that are the ticket's own attributes (they have columns already), not custom fields.
_SYSTEM_TICKET_TYPES = frozenset({
    "subject", "description", "status", "tickettype", "priority", "basic_priority", "group", "assignee",
    "custom_status", "brand", "requester", "ticket_form",
})
_KINDS = {"checkbox": Kind.BOOLEAN, "integer": Kind.INTEGER, "decimal": Kind.NUMBER, "multiselect": Kind.JSON}
#: Names no custom column may take, whatever the table: the raw object and the sinks' bookkeeping.
_ALWAYS_RESERVED = frozenset({"raw_json", "id"})
_MAX_NAME = 48
_MAX_IDENTIFIER = 63  # PostgreSQL cuts longer names, which could make two columns one

#: The binding table ``custom_field_columns``: one row per bound column; key (object, column).
BINDING_COLUMNS: tuple[Column, ...] = tuple(Column(name, kind, (name,)) for name, kind in (
    ("object", Kind.TEXT), ("field_id", Kind.INTEGER), ("field_key", Kind.TEXT), ("column", Kind.TEXT),
    ("kind", Kind.TEXT), ("title", Kind.TEXT),
))
BINDING_KEY: tuple[str, ...] = ("object", "column")


@dataclass(frozen=True)
class FieldColumn:
    """One bound column: custom field ``field_id`` of ``object`` (``tickets``, ``users``, ``organizations``)
    is stored in ``column`` as ``kind``. ``field_key`` is where users/organizations keep the value (None for
    tickets); ``title`` the field's title when last seen (information only: the column never follows it)."""

    object: str
    field_id: int
    field_key: str | None
    column: str
    kind: Kind
    title: str

    def as_column(self) -> Column:
        """The typed column the object's table gets (its value is read from the enriched object's key)."""
        return Column(self.column, self.kind, (self.column,))

    def row(self) -> dict[str, Any]:
        """The binding as a row of ``custom_field_columns``."""
        return {"object": self.object, "field_id": self.field_id, "field_key": self.field_key,
                "column": self.column, "kind": self.kind.value, "title": self.title}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FieldColumn:
        return cls(row["object"], int(row["field_id"]), row["field_key"], row["column"], Kind(row["kind"]),
                   row["title"] or "")


@dataclass(frozen=True)
class Rebinding:
    """What :func:`rebind` decided: every binding of the object (stored ones first, in column order), the
    columns its table must add, and the binding rows to write (new ones and retitled ones)."""

    bindings: tuple[FieldColumn, ...]
    added: tuple[Column, ...]
    changed: tuple[FieldColumn, ...]


def kind_of(field_type: str | None) -> Kind:
    """The column kind for a custom field type (unknown and future types: TEXT, which holds anything)."""
    return _KINDS.get(field_type or "", Kind.TEXT)


def _is_custom(obj: str, field: Mapping[str, Any]) -> bool:
    if type(field.get("id")) is not int or field.get("system") is True:
        return False
    if obj == "tickets":
        return field.get("type") not in _SYSTEM_TICKET_TYPES
    return isinstance(field.get("key"), str)  # users/organizations find values by key: no key, nothing to read


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:_MAX_NAME].rstrip("_")
    return f"f_{name}" if name[:1].isdigit() else name


def _unique(base: str, field_id: int, taken: set[str]) -> str:
    """``base``, or ``base_<field id>`` (then ``…_2``, …) if taken; never longer than PostgreSQL's 63-byte
    identifiers (the base is cut to make room for the suffix)."""
    name, n = base[:_MAX_IDENTIFIER], 1
    while name in taken:
        n += 1
        suffix = f"_{field_id}" if n == 2 else f"_{field_id}_{n - 1}"
        name = base[:_MAX_IDENTIFIER - len(suffix)].rstrip("_") + suffix
    taken.add(name)
    return name


def rebind(obj: str, stored: Iterable[FieldColumn], fields: Iterable[Mapping[str, Any]],
           reserved: Collection[str]) -> Rebinding:
    """The binding of ``obj``'s custom fields after this run's field definitions (``fields``, as the
    ``ticket_fields``/``user_fields``/``organization_fields`` lists return them), given the ``stored``
    binding and the table's fixed column names (``reserved``). Rules: the module docstring."""
    bindings = [b for b in stored if b.object == obj]
    taken = {*(name.lower() for name in reserved), *_ALWAYS_RESERVED, *(b.column for b in bindings)}
    added: list[FieldColumn] = []
    retitled: list[FieldColumn] = []
    for field in sorted((f for f in fields if _is_custom(obj, f)), key=lambda f: int(f["id"])):
        mine = [b for b in bindings if b.field_id == field["id"]]
        title, kind, key = str(field.get("title") or ""), kind_of(field.get("type")), field.get("key")
        if not mine:
            name = _unique(_slug(title) or f"field_{field['id']}", field["id"], taken)
            added.append(FieldColumn(obj, field["id"], key, name, kind, title))
        elif not {kind, Kind.TEXT} & {b.kind for b in mine}:
            added.append(FieldColumn(obj, field["id"], key, _unique(f"{mine[0].column}_text", field["id"], taken),
                                     Kind.TEXT, title))
        retitled += [replace(b, title=title) for b in mine if b.title != title]
    retitled_by_column = {b.column: b for b in retitled}
    current = [retitled_by_column.get(b.column, b) for b in bindings]
    return Rebinding(tuple(current + added), tuple(b.as_column() for b in added), tuple(retitled + added))


# -- values ------------------------------------------------------------------------------------------
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")


def _boolean(value: Any) -> bool | None:
    return value if type(value) is bool else None


def _integer(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if type(value) in (int, float):
        return float(value)
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return orjson.dumps(value).decode()


def _json(value: Any) -> Any:
    return value if isinstance(value, list | dict) else None


#: Kind → how a raw custom value becomes that column's value (what ``_columns.extract`` expects to read: JSON
#: kinds as Python lists, which the sink serialises).
_CONVERT: Mapping[Kind, Callable[[Any], Any]] = {
    Kind.BOOLEAN: _boolean, Kind.INTEGER: _integer, Kind.NUMBER: _number, Kind.TEXT: _text, Kind.JSON: _json,
    Kind.TIMESTAMP: _text,
}


def column_value(kind: Kind, value: Any) -> Any:
    """A raw custom-field value as a column of ``kind`` holds it; None where it does not fit."""
    return _CONVERT[kind](value)


class Enricher:
    """``enricher(obj)`` → the object with one extra top-level key per bound column, holding the field's value
    converted to the column's kind; the table's typed columns read them, ``raw_json`` keeps the object as
    received. Built once per binding: it runs on every object of every page."""

    def __init__(self, obj: str, bindings: Sequence[FieldColumn]) -> None:
        mine = [b for b in bindings if b.object == obj]
        self.values_key = _VALUES_KEY[obj]
        self.by_id = obj == "tickets"
        self.plan = [(b.column, b.field_id if self.by_id else b.field_key, _CONVERT[b.kind]) for b in mine]

    def values(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The bound columns' values for one object (every bound column, None where the object has no value)."""
        found = self._raw_values(obj.get(self.values_key))
        return {column: convert(found.get(source)) for column, source, convert in self.plan}

    def __call__(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, **self.values(obj)} if self.plan else obj

    def _raw_values(self, raw: Any) -> Mapping[Any, Any]:
        if self.by_id:
            return values_by_id(raw) if isinstance(raw, list) else {}
        return raw if isinstance(raw, dict) else {}
