"""SQLite upserts whose typed columns SQLite derives from each object's JSON text, a chunk of rows per statement.

Why: building forty-odd Python values per ticket and binding them one at a time held the GIL for most of a
page's write (~25 ms of ~50 for 1000 tickets), and ``executemany`` steps row by row, handing the GIL back and
forth with the look-ahead thread that parses the next page (each hand-back can wait for a whole parse). Here
Python binds one string per object (its JSON text, which ``raw_json`` keeps anyway) and, where a table has
columns only Python can fill (a ticket's custom-field columns), those values; one ``INSERT … SELECT`` over a
``VALUES`` list then extracts, types and upserts the whole chunk inside a single ``sqlite3_step``, which runs
without the GIL, beside the next page's download and parse.

The expressions apply ``_columns.extract``'s canonical rules (test_sqlite_json holds the two side by side):
INTEGER only a JSON integer that fits 64 bits, BOOLEAN only ``true``/``false`` (stored as 1/0, as Python's bool
binds), TIMESTAMP only a string, TEXT a string as is and any other value as JSON text, JSON the value as compact
JSON text, NUMBER an integer or decimal as a double; anything else, and a missing key, NULL. Objects and arrays
come back as SQLite renders them from the parse: the original text with whitespace removed, so exactly the
compact JSON ``orjson`` writes. One difference is left on purpose: a decimal number in a TEXT column is written
by SQLite (``1.0e+20`` where Python writes ``1e20``), a value Zendesk never sends in a text field.

Those ``exact`` expressions cost two JSON calls a column. An object whose values all have their kind's JSON
type (every real one: Python checks the tuple of value types, ``_Shapes``) takes ``expected`` instead, one
``json_extract`` a column, which gives the same values for such an object at about half the cost. SQLite's JSON
functions cut a string at an escaped NUL (``\\u0000``, which e-mail bodies do contain), so an object whose text
holds one has its columns extracted by Python and bound, as every object had before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ._columns import Column, Kind, TypeSignatures, extract, in_int64
from ._sql import RAW_JSON, quote

__all__ = ["upsert_from_json"]

_SOURCE = "column1"  # the JSON text: first column of each VALUES row
_MAX_ROWS = 1000  # rows per statement: a page of tickets is one statement
_NUL_ESCAPE = "\\u0000"


def _path(column: Column) -> str:
    """The column's JSON path as an SQL string literal (``'$."via"."channel"'``)."""
    if any('"' in key or "'" in key for key in column.path):
        raise ValueError(f"column {column.name!r} has a path SQLite cannot address: {column.path!r}")
    return "'$" + "".join(f'."{key}"' for key in column.path) + "'"


def exact(column: Column, source: str = _SOURCE) -> str:
    """The SQL expression of ``column``'s canonical value from the JSON text ``source``, whatever the value's
    JSON type (two JSON calls: ``json_type`` decides, ``json_extract`` fetches)."""
    path = _path(column)
    kind, value = f"json_type({source}, {path})", f"json_extract({source}, {path})"
    if column.kind is Kind.INTEGER:  # an integer beyond 64 bits is 'integer' to json_type, a REAL when extracted
        return f"CASE {kind} WHEN 'integer' THEN CASE typeof({value}) WHEN 'integer' THEN {value} END END"
    if column.kind is Kind.BOOLEAN:
        return f"CASE {kind} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
    if column.kind is Kind.TIMESTAMP:
        return f"CASE {kind} WHEN 'text' THEN {value} END"
    if column.kind is Kind.NUMBER:
        return f"CASE {kind} WHEN 'integer' THEN CAST({value} AS REAL) WHEN 'real' THEN {value} END"
    if column.kind is Kind.TEXT:
        return (f"CASE {kind} WHEN 'text' THEN {value} WHEN 'null' THEN NULL WHEN 'true' THEN 'true' "
                f"WHEN 'false' THEN 'false' ELSE CAST({value} AS TEXT) END")
    return (f"CASE {kind} WHEN 'object' THEN {value} WHEN 'array' THEN {value} WHEN 'null' THEN NULL "
            f"WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE json_quote({value}) END")


def expected(column: Column, source: str = _SOURCE) -> str:
    """The same value in one JSON call, right only when the value has its kind's JSON type (or is null or
    absent): ``json_extract`` gives integers, strings and (``true``/``false``) 1/0 as they are, and objects and
    arrays as their compact JSON text."""
    value = f"json_extract({source}, {_path(column)})"
    return f"CAST({value} AS REAL)" if column.kind is Kind.NUMBER else value


#: The Python types of a value ``expected`` gets right, by column kind.
_EXPECTED_TYPES: dict[Kind, frozenset[type]] = {
    Kind.INTEGER: frozenset({int, type(None)}),
    Kind.BOOLEAN: frozenset({bool, type(None)}),
    Kind.TIMESTAMP: frozenset({str, type(None)}),
    Kind.TEXT: frozenset({str, type(None)}),
    Kind.JSON: frozenset({list, dict, type(None)}),
    Kind.NUMBER: frozenset({int, float, type(None)}),
}


class _Shapes:
    """Tells, per object, whether every column's value has its expected type (so ``expected`` is exact)."""

    def __init__(self, columns: tuple[Column, ...]) -> None:
        self.keys = [column.path[0] for column in columns]
        self.nested = [c for c in columns if len(c.path) > 1]
        # a nested column's top-level value is judged by the path walk below, not by its type
        self.top = TypeSignatures([None if len(c.path) > 1 else _EXPECTED_TYPES[c.kind] for c in columns],
                                  [i for i, c in enumerate(columns) if c.kind is Kind.INTEGER and len(c.path) == 1])

    def huge_integer(self, obj: Mapping[str, Any]) -> bool:
        """Whether a top-level value of the columns is an integer beyond 64 bits."""
        return any(type(value) is int and not in_int64(value) for value in map(obj.get, self.keys))

    def fit(self, obj: Mapping[str, Any]) -> bool:
        return self.top.accepts(list(map(obj.get, self.keys))) and all(_nested_expected(obj, c) for c in self.nested)


def _nested_expected(obj: Mapping[str, Any], column: Column) -> bool:
    value: Any = obj
    for key in column.path:
        if not isinstance(value, dict):
            return True  # the path ends early: NULL both ways
        value = value.get(key)
    if column.kind is Kind.INTEGER and type(value) is int:
        return in_int64(value)
    return type(value) in _EXPECTED_TYPES[column.kind]


@lru_cache(maxsize=64)
def _shapes(columns: tuple[Column, ...]) -> _Shapes:
    return _Shapes(columns)


@lru_cache(maxsize=64)
def _sql(table: str, columns: tuple[Column, ...], bound: tuple[Column, ...], guard: str, rows: int,
         one_call: bool) -> str:
    names = [quote(c.name) for c in (*columns, *bound)] + [quote(RAW_JSON)]
    derive = expected if one_call else exact
    values = [derive(c) for c in columns] + [f"column{i + 2}" for i in range(len(bound))] + [_SOURCE]
    row = "(" + ", ".join("?" * (1 + len(bound))) + ")"
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != quote("id"))
    # "WHERE true": without it SQLite would read ON CONFLICT as part of the SELECT's join
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} "
        f"FROM (VALUES {', '.join([row] * rows)}) WHERE true "
        f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} WHERE {guard.format(table=table)}"
    )


def upsert_from_json(conn: sqlite3.Connection, table: str, columns: tuple[Column, ...],
                     objects: Sequence[Mapping[str, Any]], rows: Sequence[Sequence[Any]], guard: str,
                     bound: tuple[Column, ...] = ()) -> None:
    """Upsert into ``table`` (a quoted name) one row per object of ``objects``: ``rows`` holds, for each, its
    JSON text, then the values of the ``bound`` columns, canonical already (see ``_columns.extract``);
    ``columns`` are derived from the text (module doc: one JSON call a column, two, or none where the text
    holds an escaped NUL)."""
    shapes = _shapes(columns)
    one_call: list[Sequence[Any]] = []
    two_calls: list[Sequence[Any]] = []
    by_python: list[Sequence[Any]] = []
    for obj, row in zip(objects, rows, strict=True):
        fit = shapes.fit(obj)
        # SQLite reads an integer beyond 64 bits as a real: such a row, too, is derived in Python
        if _NUL_ESCAPE in row[0] or (not fit and shapes.huge_integer(obj)):
            by_python.append((row[0], *extract(columns, obj), *row[1:]))
        else:
            (one_call if fit else two_calls).append(row)
    _insert(conn, table, columns, bound, guard, one_call, True)
    _insert(conn, table, columns, bound, guard, two_calls, False)
    _insert(conn, table, (), (*columns, *bound), guard, by_python, False)


def _insert(conn: sqlite3.Connection, table: str, columns: tuple[Column, ...], bound: tuple[Column, ...],
            guard: str, rows: Sequence[Sequence[Any]], one_call: bool) -> None:
    """Each statement writes as many rows as SQLite's limit on bound parameters allows, up to a page."""
    width = 1 + len(bound)
    per_statement = max(1, min(_MAX_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = _sql(table, columns, bound, guard, len(chunk), one_call)
        conn.execute(sql, [value for row in chunk for value in row])
