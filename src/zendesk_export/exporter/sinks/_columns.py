"""The typed columns every table-shaped sink stores, declared once from the documented ticket fields.

SQLite, PostgreSQL and Parquet all build their schema from these tuples, so the three agree on names, order
and meaning, and a field added here reaches every sink. Each column has a *kind*; ``extract`` turns an object
into canonical Python values per kind (JSON kinds as compact JSON text, timestamps as the ISO-8601 text
received) and each sink converts those to its own types. Values of an unexpected type become NULL in the
typed column -- never an error, because ``raw_json`` (always stored beside them) keeps the object exactly as
received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from operator import methodcaller
from typing import Any

import orjson

__all__ = [
    "SIDELOAD_COLUMNS",
    "SIDELOADS",
    "TICKET_COLUMNS",
    "WRITE_ONLY_FIELDS",
    "Column",
    "Kind",
    "TypeSignatures",
    "all_in_int64",
    "column_values",
    "extract",
    "in_int64",
    "extractor",
    "parse_timestamp",
    "sideload_columns",
    "top_level_scalar",
]


class Kind(Enum):
    """What a column holds; each sink maps a kind to its own type (the ``*_TYPES`` tables in the sinks)."""

    INTEGER = "integer"
    TEXT = "text"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    JSON = "json"
    NUMBER = "number"  # a decimal number (custom fields of type ``decimal``), stored as a double


@dataclass(frozen=True)
class Column:
    """One typed column: its name and kind, and where its value is found in the object (a key path)."""

    name: str
    kind: Kind
    path: tuple[str, ...]


def _col(name: str, kind: Kind, *path: str) -> Column:
    return Column(name, kind, path or (name,))


_I, _T, _B, _TS, _J = Kind.INTEGER, Kind.TEXT, Kind.BOOLEAN, Kind.TIMESTAMP, Kind.JSON

#: Every ticket field of the reference's §6.1, in the key order of a real export, then ``encoded_id`` (in
#: Zendesk's responses since late 2024: tests/recordings/fixtures/amp-labs/read_incremental_tickets.json).
#: Written out rather than built from ``zendesk_export.tickets.TICKET_FIELDS`` (the server's model, without
#: ``url``, ``fields`` and the rest): the sinks' stored schema is versioned and changes only with a schema version
#: bump; ``test_columns`` checks that every field of that model has a column of its kind here. The request-only
#: fields of ``WRITE_ONLY_FIELDS`` have no column: Zendesk never returns them, so the column would be NULL in
#: every row (``raw_json`` would still keep one if a source ever sent it).
TICKET_COLUMNS: tuple[Column, ...] = (
    _col("id", _I),
    _col("url", _T),
    _col("external_id", _T),
    _col("via_channel", _T, "via", "channel"),
    _col("via", _J),
    _col("created_at", _TS),
    _col("updated_at", _TS),
    _col("type", _T),
    _col("subject", _T),
    _col("raw_subject", _T),
    _col("description", _T),
    _col("priority", _T),
    _col("status", _T),
    _col("recipient", _T),
    _col("requester_id", _I),
    _col("submitter_id", _I),
    _col("assignee_id", _I),
    _col("organization_id", _I),
    _col("group_id", _I),
    _col("collaborator_ids", _J),
    _col("follower_ids", _J),
    _col("email_cc_ids", _J),
    _col("forum_topic_id", _I),
    _col("problem_id", _I),
    _col("has_incidents", _B),
    _col("is_public", _B),
    _col("due_at", _TS),
    _col("tags", _J),
    _col("custom_fields", _J),
    _col("satisfaction_rating", _J),
    _col("sharing_agreement_ids", _J),
    _col("custom_status_id", _I),
    _col("fields", _J),
    _col("followup_ids", _J),
    _col("ticket_form_id", _I),
    _col("brand_id", _I),
    _col("allow_channelback", _B),
    _col("allow_attachments", _B),
    _col("from_messaging_channel", _B),
    _col("generated_timestamp", _I),
    _col("encoded_id", _T),
)

#: Ticket fields a client may *send* (Zendesk documents them as write-only) but no response carries; the
#: first schema had a column for each, always NULL. Outputs of that schema keep them (and write NULL there).
WRITE_ONLY_FIELDS: tuple[str, ...] = (
    "collaborators",
    "assignee_email",
    "attribute_value_ids",
    "macro_id",
    "macro_ids",
    "safe_update",
    "updated_stamp",
    "via_followup_source_id",
    "via_id",
)

#: Sideloads the incremental ticket export can include, a few typed columns each (the rest is in raw_json).
SIDELOAD_COLUMNS: Mapping[str, tuple[Column, ...]] = {
    "users": (
        _col("id", _I),
        _col("url", _T),
        _col("name", _T),
        _col("email", _T),
        _col("role", _T),
        _col("organization_id", _I),
        _col("active", _B),
        _col("suspended", _B),
        _col("created_at", _TS),
        _col("updated_at", _TS),
    ),
    "groups": (
        _col("id", _I),
        _col("url", _T),
        _col("name", _T),
        _col("description", _T),
        _col("deleted", _B),
        _col("created_at", _TS),
        _col("updated_at", _TS),
    ),
    "organizations": (
        _col("id", _I),
        _col("url", _T),
        _col("name", _T),
        _col("external_id", _T),
        _col("domain_names", _J),
        _col("group_id", _I),
        _col("tags", _J),
        _col("created_at", _TS),
        _col("updated_at", _TS),
        _col("deleted_at", _TS),
    ),
}

SIDELOADS: tuple[str, ...] = tuple(SIDELOAD_COLUMNS)


def sideload_columns(name: str) -> tuple[Column, ...]:
    """The columns of sideload ``name``; a clear ValueError for a name we do not store."""
    try:
        return SIDELOAD_COLUMNS[name]
    except KeyError:
        raise ValueError(f"unknown sideload {name!r}; known: {', '.join(SIDELOADS)}") from None


#: The integers an INTEGER column holds (SQLite's, PostgreSQL's BIGINT, Arrow's int64). orjson reads a JSON
#: integer up to 2**64 - 1 as a Python int, so a hostile or broken source can send one outside: it becomes NULL
#: like any other unexpected value (``raw_json`` keeps it), where binding it failed the whole page.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def in_int64(value: int) -> bool:
    """Whether an integer fits a 64-bit signed column."""
    return _INT64_MIN <= value <= _INT64_MAX


def _int(value: Any) -> int | None:
    return value if type(value) is int and _INT64_MIN <= value <= _INT64_MAX else None


def _bool(value: Any) -> bool | None:
    return value if type(value) is bool else None


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def _text(value: Any) -> str | None:
    return value if type(value) is str or value is None else orjson.dumps(value).decode()


#: How a raw value becomes the canonical value of each scalar kind: None when absent or of an unexpected type.
#: (JSON columns are serialised by ``_Extractor`` itself, for every row.)
_CANONICAL: dict[Kind, Callable[[Any], Any]] = {
    Kind.INTEGER: _int,
    Kind.BOOLEAN: _bool,
    Kind.TIMESTAMP: _str,
    Kind.TEXT: _text,
    Kind.NUMBER: _number,
}


def all_in_int64(numbers: list[int]) -> bool:
    """Whether every integer of ``numbers`` fits int64 (two C-level passes, not a call per number)."""
    return not numbers or (in_int64(min(numbers)) and in_int64(max(numbers)))


def top_level_scalar(column: Column) -> bool:
    """Whether ``column`` is read from a top-level key and is not JSON, as every column of a child table is."""
    return len(column.path) == 1 and column.kind is not Kind.JSON


def column_values(column: Column, objects: Iterable[Mapping[str, Any]]) -> list[Any]:
    """What ``extract`` gives for one column of many objects, read column by column: one C-level pass reads the
    values and one checks their types; only a column holding another type (or an integer beyond 64 bits)
    converts value by value. For a :func:`top_level_scalar` column only: a child table's, whose rows are flat."""
    if not top_level_scalar(column):
        raise ValueError(f"column {column.name!r} is not a top-level scalar")
    values = list(map(methodcaller("get", column.path[0]), objects))
    if set(map(type, values)) <= _CANONICAL_TYPES[column.kind] and (
            column.kind is not Kind.INTEGER or all_in_int64([value for value in values if value is not None])):
        return values
    return list(map(_CANONICAL[column.kind], values))


def _nested(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    def get(obj: Mapping[str, Any]) -> Any:
        value: Any = obj
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


#: The types of a canonical scalar value (``_CANONICAL`` leaves such a value as it is), by kind.
_CANONICAL_TYPES: dict[Kind, frozenset[type]] = {
    Kind.INTEGER: frozenset({int, type(None)}),
    Kind.BOOLEAN: frozenset({bool, type(None)}),
    Kind.TIMESTAMP: frozenset({str, type(None)}),
    Kind.TEXT: frozenset({str, type(None)}),
    Kind.NUMBER: frozenset({float, type(None)}),
}


class TypeSignatures:
    """Whether a row's values all have allowed types, judged once per tuple of value types (its signature) and
    remembered: real pages hold only a handful of signatures, so most rows cost one ``map`` and a set lookup
    instead of a check per value. ``allowed`` gives each position's accepted types (None: any); the integers at
    the ``integers`` positions must also fit 64 bits (``in_int64``), checked on every row."""

    _MAX_REMEMBERED = 4096

    def __init__(self, allowed: Sequence[frozenset[type] | None], integers: Sequence[int] = ()) -> None:
        self._allowed = tuple(allowed)
        self._integers = tuple(integers)
        self._good: set[tuple[type, ...]] = set()

    def accepts(self, values: Sequence[Any]) -> bool:
        signature = tuple(map(type, values))
        if signature not in self._good:
            if not all(kinds is None or kind in kinds for kind, kinds in zip(signature, self._allowed, strict=True)):
                return False
            if len(self._good) < self._MAX_REMEMBERED:
                self._good.add(signature)
        for position in self._integers:  # an int or None here: the signature passed
            value = values[position]
            if value is not None and not _INT64_MIN <= value <= _INT64_MAX:
                return False
        return True


class _Extractor:
    """Canonical values for one column table, fast: extraction runs ~50 times per ticket, 1000 tickets a page.

    Top-level keys are fetched with one C-level ``map``; the per-value conversions are skipped for a row whose
    values already have canonical types (``TypeSignatures``).
    """

    def __init__(self, columns: tuple[Column, ...], json_prefix: bytes | None = None) -> None:
        self.columns = columns
        self.json_prefix = json_prefix
        self.keys = [column.path[0] for column in columns]
        self.nested = [(i, _nested(c.path)) for i, c in enumerate(columns) if len(c.path) > 1]
        self.json = [i for i, c in enumerate(columns) if c.kind is Kind.JSON]
        self.scalars = [(i, _CANONICAL[c.kind]) for i, c in enumerate(columns) if c.kind is not Kind.JSON]
        self.canonical = TypeSignatures([_CANONICAL_TYPES.get(c.kind) for c in columns],
                                        [i for i, c in enumerate(columns) if c.kind is Kind.INTEGER])

    def __call__(self, obj: Mapping[str, Any]) -> list[Any]:
        values = list(map(obj.get, self.keys))
        for position, get in self.nested:
            values[position] = get(obj)
        if not self.canonical.accepts(values):
            for position, canonical in self.scalars:
                values[position] = canonical(values[position])
        prefix = self.json_prefix
        for position in self.json:
            if values[position] is not None:
                dumped = orjson.dumps(values[position])
                values[position] = dumped.decode() if prefix is None else prefix + dumped
        return values


_EXTRACTORS: dict[int, _Extractor] = {}


def extract(columns: tuple[Column, ...], obj: Mapping[str, Any]) -> list[Any]:
    """The canonical values of ``columns`` for one object, in column order.

    Canonical forms: INTEGER int, BOOLEAN bool, TEXT str (a non-string value as JSON text), TIMESTAMP the
    ISO-8601 text as received, JSON compact JSON text; None when absent or of an unexpected type.
    """
    extractor = _EXTRACTORS.get(id(columns))
    if extractor is None or extractor.columns is not columns:
        extractor = _EXTRACTORS[id(columns)] = _Extractor(columns)
    return extractor(obj)


def extractor(columns: tuple[Column, ...], *,
              json_prefix: bytes | None = None) -> Callable[[Mapping[str, Any]], list[Any]]:
    """``extract`` for ``columns`` as a function of the object. With ``json_prefix``, a JSON value is that
    prefix and its compact JSON *bytes* instead of text: for a sink that hands bytes on as they are (PostgreSQL's
    binary ``jsonb`` is a version byte and the text)."""
    return _Extractor(columns, json_prefix)


def parse_timestamp(text: str | None) -> datetime | None:
    """An aware datetime from Zendesk's ISO-8601 text (UTC when it names no zone), or None if unparseable.

    Sinks with a real timestamp type need this; an odd value becomes NULL there (raw_json still has it) rather
    than failing a whole page.
    """
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
