"""SQL text shared by the SQLite and PostgreSQL sinks, built from the column table so both stay in step.

Both dialects accept double-quoted identifiers and ``INSERT … ON CONFLICT (id) DO UPDATE … WHERE``; they
differ in column types and placeholders, which the callers pass in. Also the explicit transaction of the
SQLite files the sinks open in autocommit mode (``transaction``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ._columns import Column, Kind
from .base import Checkpoint

__all__ = [
    "RAW_JSON",
    "SIDELOAD_GUARD",
    "TICKET_GUARD",
    "checkpoint_from_row",
    "create_table_sql",
    "quote",
    "transaction",
    "upsert_sql",
]

#: The column that keeps each object exactly as received (every table has it, last).
RAW_JSON = "raw_json"

#: Never move a ticket backwards: the one rule a concurrent or stale writer must not break.
TICKET_GUARD = 'excluded."generated_timestamp" >= {table}."generated_timestamp"'


#: Replace a user/group/organization unless the stored one was updated later (NULLs always replace).
SIDELOAD_GUARD = (
    'excluded."updated_at" IS NULL OR {table}."updated_at" IS NULL OR excluded."updated_at" >= {table}."updated_at"'
)


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier (names like ``type`` and ``groups`` are keywords somewhere)."""
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(table: str, columns: Sequence[Column], types: Mapping[Kind, str], raw_type: str,
                     key: str = "PRIMARY KEY") -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``columns`` plus ``raw_json``; ``id`` gets the constraint ``key``
    (the primary key, or ``NOT NULL UNIQUE`` where the storage order should not follow the id)."""
    defs = [f"{quote(c.name)} {types[c.kind]}{' ' + key if c.name == 'id' else ''}" for c in columns]
    defs.append(f"{quote(RAW_JSON)} {raw_type} NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(defs)})"


def upsert_sql(table: str, columns: Sequence[Column], placeholder: Callable[[Kind | None], str], guard: str) -> str:
    """An upsert of one row of ``columns`` + ``raw_json`` that only replaces a row when ``guard`` holds.

    ``placeholder(kind)`` gives the parameter marker for a column kind (``None`` for raw_json), so PostgreSQL
    can add casts; ``guard`` may refer to the target table as ``{table}``.
    """
    names = [quote(c.name) for c in columns] + [quote(RAW_JSON)]
    marks = [placeholder(c.kind) for c in columns] + [placeholder(None)]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != quote("id"))
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)}) "
        f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} WHERE {guard.format(table=table)}"
    )


def checkpoint_from_row(row: Sequence[Any] | None) -> Checkpoint | None:
    """The checkpoint of a ``SELECT "mode", "position", "source" FROM "checkpoint"`` row (None: no row)."""
    return None if row is None else Checkpoint(mode=row[0], position=row[1], source=row[2])


@contextmanager
def transaction(conn: Any, begin: str = "BEGIN") -> Iterator[None]:
    """One transaction on a connection in autocommit mode (``isolation_level=None``): ``begin``, then COMMIT,
    or ROLLBACK if the block raises anything at all."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
