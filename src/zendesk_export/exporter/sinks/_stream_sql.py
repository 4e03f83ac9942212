"""The whole-account tables in SQL, once for SQLite and PostgreSQL: create, upsert, children, deletion marks,
per-stream checkpoints.

Each method runs on a cursor inside the caller's transaction, so a page's rows, its child rows, its deletion
marks and its stream's checkpoint commit together or not at all. The dialects differ only in what
:class:`Dialect` holds (types, placeholders, how a table is named and its columns listed).

Writes apply the rule of ``_upsert`` in Python (the stored versions of the page's ids are read first, O(page)),
so the counts are exact and only winning versions reach the child tables; the SQL guard repeats the rule so a
stale writer can never move a row backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

import orjson

from ._columns import Column, Kind, extract, extractor
from ._sql import RAW_JSON, quote
from ._tables import DELETED, REFRESH, Child, Table
from ._upsert import Stored, content_digest, plan_writes
from .base import StreamState, StreamStatus, WriteResult

__all__ = ["CHECKPOINTS", "Dialect", "StreamTables"]

#: The table of per-stream checkpoints (tickets keep their own ``checkpoint`` table as well).
CHECKPOINTS = "stream_checkpoints"
_STATE_COLUMNS = ("stream", "mode", "position", "source", "refresh", "complete")
_BOOKKEEPING = (REFRESH, DELETED)
_CHUNK = 500
#: ``raw_json`` as :meth:`StreamTables._insert_new` hands it to ``Dialect.insert_rows``: the JSON text.
_RAW_TEXT = Column(RAW_JSON, Kind.TEXT, (RAW_JSON,))


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL sinks."""

    param: Callable[[Kind | None], str]  # a parameter marker for a column kind (None: raw_json)
    types: Mapping[Kind, str]
    raw_type: str
    qualify: Callable[[str], str]  # a table name as the SQL refers to it (schema-qualified in PostgreSQL)
    rows: Callable[[tuple[Column, ...], Iterable[tuple[dict[str, Any], bytes]]], list[list[Any]]]
    columns_of: Callable[[Any, str], list[tuple[str, str]]]  # (name, type) of a table's columns; [] if none
    now: str  # SQL for the current time, stored in ``written_at``
    timestamp_type: str
    #: Insert many rows at once (``(cur, table, columns, rows)``, each row the values of ``columns`` in order):
    #: PostgreSQL's COPY, SQLite's multi-row INSERT. Never an ``executemany``: it steps row by row, handing the
    #: GIL back and forth with the thread that parses the next page at every row.
    insert_rows: Callable[[Any, str, tuple[Column, ...], Sequence[Sequence[Any]]], None]
    #: Whether a derived child row's values may be tried as they are (SQLite binds what Python gives it and
    #: refuses what it cannot bind), canonical values only when that fails; PostgreSQL needs them canonical.
    binds_derived: bool = False
    #: Whether a page's new rows go in by ``insert_rows`` first (in a savepoint, an upsert if that fails)
    inserts_new_rows: bool = False
    #: A parameter holding a list of ids, where the database takes arrays (``id = ANY(…)``): a page's stored
    #: rows are then read by one query, not one per ``_CHUNK`` ids
    id_array: str | None = None


def _kind_of(sql_type: str, types: Mapping[Kind, str]) -> Kind:
    """The kind of a column found in the database but not declared (added by ``add_columns`` earlier)."""
    return next((kind for kind, name in types.items() if name.lower() == sql_type.lower()), Kind.TEXT)


class StreamTables:
    """The whole-account tables of one connection; knows each table's current columns once ensured."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.columns: dict[str, tuple[Column, ...]] = {}
        self.added: dict[str, tuple[Column, ...]] = {}  # the columns given to add_columns, by table
        self._child_values: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = {}  # by child table

    # -- schema -------------------------------------------------------------------------------------------
    def ensure_checkpoints(self, cur: Any) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.d.qualify(CHECKPOINTS)} (stream TEXT PRIMARY KEY, "
            "mode TEXT NOT NULL, position TEXT NOT NULL, source TEXT NOT NULL, refresh INTEGER NOT NULL, "
            f"complete BOOLEAN NOT NULL, written_at {self.d.timestamp_type} NOT NULL)"
        )

    def ensure(self, cur: Any, table: Table) -> None:
        """Create ``table`` (and its children) if missing, add any declared column it lacks (a sideload table
        made before, an older schema), and learn the columns added to it later."""
        if table.name in self.columns:
            return
        found = dict(self.d.columns_of(cur, table.name))
        if not found:
            cur.execute(self._create_sql(table))
        else:
            for column in table.columns:
                if column.name not in found:
                    self._add_column(cur, table.name, column)
            if table.snapshot:
                self._add_bookkeeping(cur, table.name, set(found))
        declared = {c.name for c in table.columns} | {RAW_JSON, *_BOOKKEEPING}
        extra = tuple(Column(name, _kind_of(sql_type, self.d.types), (name,))
                      for name, sql_type in found.items() if name not in declared)
        self.columns[table.name] = (*table.columns, *extra)
        for child in table.children:
            self._ensure_child(cur, child)

    def forget(self, table: Table) -> None:
        """Drop what was learnt of ``table`` (after a rolled-back transaction that may have created it)."""
        self.columns.pop(table.name, None)
        self.added.pop(table.name, None)

    def add_columns(self, cur: Any, table: Table, columns: Sequence[Column]) -> list[Column]:
        """Add the ``columns`` that ``table`` does not have yet; return those added. The kinds given here are
        the truth for columns found in the database (SQLite cannot tell a JSON column from a TEXT one), and
        these are the columns the sink fills from the enriched object on every write."""
        self.ensure(cur, table)
        given = {c.name: c for c in columns}
        have = {c.name for c in self.columns[table.name]}
        added = [c for c in columns if c.name not in have]
        for column in added:
            self._add_column(cur, table.name, column)
        self.columns[table.name] = (*(given.get(c.name, c) for c in self.columns[table.name]), *added)
        self.added[table.name] = tuple(columns)
        return added

    def _create_sql(self, table: Table) -> str:
        defs = [f"{quote(c.name)} {self.d.types[c.kind]}{' PRIMARY KEY' if c.name == 'id' else ''}"
                for c in table.columns]
        defs.append(f"{quote(RAW_JSON)} {self.d.raw_type} NOT NULL")
        if table.snapshot:
            defs += [f"{quote(REFRESH)} INTEGER", f"{quote(DELETED)} BOOLEAN NOT NULL DEFAULT FALSE"]
        return f"CREATE TABLE IF NOT EXISTS {self.d.qualify(table.name)} ({', '.join(defs)})"

    def _ensure_child(self, cur: Any, child: Child) -> None:
        """Create ``child`` if missing, with an index on its parent column when its key does not lead with it:
        refreshing a parent deletes its child rows by that column, which must not scan the table."""
        cur.execute(self._create_keyed_sql(child.name, child.columns, child.key))
        if child.key[0] != child.parent_column:
            index = quote(f"{child.name}_{child.parent_column}")
            cur.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {self.d.qualify(child.name)} "
                        f"({quote(child.parent_column)})")

    def _create_keyed_sql(self, name: str, columns: Sequence[Column], key: Sequence[str]) -> str:
        defs = [f"{quote(c.name)} {self.d.types[c.kind]}" for c in columns]
        keys = ", ".join(quote(column) for column in key)
        return f"CREATE TABLE IF NOT EXISTS {self.d.qualify(name)} ({', '.join(defs)}, PRIMARY KEY ({keys}))"

    def _add_column(self, cur: Any, name: str, column: Column) -> None:
        cur.execute(f"ALTER TABLE {self.d.qualify(name)} ADD COLUMN {quote(column.name)} "
                    f"{self.d.types[column.kind]}")

    def _add_bookkeeping(self, cur: Any, name: str, found: set[str]) -> None:
        if REFRESH not in found:
            cur.execute(f"ALTER TABLE {self.d.qualify(name)} ADD COLUMN {quote(REFRESH)} INTEGER")
        if DELETED not in found:
            cur.execute(f"ALTER TABLE {self.d.qualify(name)} ADD COLUMN {quote(DELETED)} BOOLEAN NOT NULL "
                        "DEFAULT FALSE")

    # -- rows ---------------------------------------------------------------------------------------------
    def write(self, cur: Any, table: Table, objects: list[dict[str, Any]], refresh: int | None) -> WriteResult:
        """Upsert a page of ``table`` (newest version wins), refresh the children of every written row, and
        for a snapshot table mark every row of the page as seen by ``refresh`` and not deleted."""
        self.ensure(cur, table)
        stored = self._stored(cur, table, objects)
        plan = plan_writes(objects, stored, table.key)
        winners = list(plan.writes.values())
        self._upsert(cur, table, plan.writes, stored)
        self.write_children(cur, table, winners, stored=stored.keys())
        if table.snapshot and refresh is not None:
            self._mark_seen(cur, table, [table.key(obj)[0] for obj in objects], refresh)
        return plan.result

    def _stored(self, cur: Any, table: Table, objects: list[dict[str, Any]]) -> dict[int, Stored]:
        """The stored versions of the page's ids, judged from the stored JSON by the table's own key."""
        ids = list(dict.fromkeys(table.key(obj)[0] for obj in objects))
        stored: dict[int, Stored] = {}
        raw_text = f"{quote(RAW_JSON)}{'::text' if self.d.raw_type == 'JSON' else ''}"
        for (raw,) in self._by_id(cur, f"SELECT {raw_text} FROM {self.d.qualify(table.name)}", ids):
            raw_bytes = raw.encode()
            obj_id, version, deleted = table.key(orjson.loads(raw_bytes))
            stored[obj_id] = Stored(version, deleted, content_digest(raw_bytes))
        return stored

    def _by_id(self, cur: Any, select: str, ids: list[int]) -> Iterator[tuple[Any, ...]]:
        """The rows of ``select`` whose id is one of ``ids``: one query with an array where the dialect takes
        them (a page of metric events is ~9,000 ids: 18 round trips in chunks), else ``IN (…)`` by chunks."""
        if self.d.id_array is not None:
            cur.execute(f"{select} WHERE id = ANY({self.d.id_array})", [ids])
            yield from cur.fetchall()
            return
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join(self.d.param(Kind.INTEGER) for _ in chunk)
            cur.execute(f"{select} WHERE id IN ({marks})", chunk)
            yield from cur.fetchall()

    def _upsert(self, cur: Any, table: Table, writes: Mapping[int, tuple[dict[str, Any], bytes]],
                stored: Mapping[int, Stored]) -> None:
        """The written versions: those of ids not stored yet inserted in bulk (``Dialect.insert_rows``: most rows
        of a first export), the others (and all of them if that fails) upserted one statement each."""
        columns = self.columns[table.name]
        enrich = table.enrich
        winners = [(enrich(obj), raw) if enrich else (obj, raw) for obj, raw in writes.values()]
        if self.d.inserts_new_rows:
            fresh = [item for obj_id, item in zip(writes, winners, strict=True) if obj_id not in stored]
            if fresh and self._insert_new(cur, table, columns, fresh):
                winners = [item for obj_id, item in zip(writes, winners, strict=True) if obj_id in stored]
        if not winners:
            return
        names = [quote(c.name) for c in columns] + [quote(RAW_JSON)]
        marks = [self.d.param(c.kind) for c in columns] + [self.d.param(None)]
        updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != quote("id"))
        target = self.d.qualify(table.name)
        sql = (f"INSERT INTO {target} ({', '.join(names)}) VALUES ({', '.join(marks)}) "
               f"ON CONFLICT (id) DO UPDATE SET {updates} WHERE {table.guard.format(table=target)}")
        cur.executemany(sql, self.d.rows(columns, winners))

    def _insert_new(self, cur: Any, table: Table, columns: tuple[Column, ...],
                    items: list[tuple[dict[str, Any], bytes]]) -> bool:
        """Rows of ids not stored when the page's stored versions were read, in one bulk insert; False, with
        nothing written, when it fails (another writer into the same table inserted one of those ids since):
        the caller upserts them instead."""
        rows = [[*extract(columns, obj), raw.decode()] for obj, raw in items]
        cur.execute("SAVEPOINT new_rows")
        try:
            self.d.insert_rows(cur, self.d.qualify(table.name), (*columns, _RAW_TEXT), rows)
        except Exception:
            cur.execute("ROLLBACK TO SAVEPOINT new_rows")
            return False
        cur.execute("RELEASE SAVEPOINT new_rows")
        return True

    def write_children(self, cur: Any, table: Table, winners: list[tuple[dict[str, Any], bytes]],
                       stored: Collection[Any] | None = None) -> None:
        """Refresh every child table of ``table`` for the written versions ``winners``. ``stored``: the ids
        of ``table`` stored before this write, when the caller knows them (a parent not stored has no child
        rows to delete: a first export then only inserts)."""
        for child in table.children:
            self._ensure_child(cur, child)
            self._write_child(cur, child, winners, stored)

    def _write_child(self, cur: Any, child: Child, winners: list[tuple[dict[str, Any], bytes]],
                     stored: Collection[Any] | None) -> None:
        """Replace the child rows of every written parent with those derived from its new version: one DELETE
        per chunk of stored parents, then every new row at once (``Dialect.insert_rows``, e.g. a COPY), in a
        savepoint. A key another parent's row holds (ticket events whose child ids a source reused) would
        fail that insert: the rows then go in again after the stored rows of their keys are deleted, so the
        newest row of a key wins, as in the file outputs."""
        target = self.d.qualify(child.name)
        parent_ids = [obj.get("id") for obj, _raw in winners if stored is None or obj.get("id") in stored]
        for start in range(0, len(parent_ids), _CHUNK):
            chunk = parent_ids[start : start + _CHUNK]
            marks = ", ".join(self.d.param(Kind.INTEGER) for _ in chunk)
            cur.execute(f"DELETE FROM {target} WHERE {quote(child.parent_column)} IN ({marks})", chunk)
        rows = [row for obj, _raw in winners for row in child.derive(obj)]
        if not rows:
            return
        values = self._values_of(child)
        names = [c.name for c in child.columns]
        key = itemgetter(*(names.index(column) for column in child.key))
        cur.execute("SAVEPOINT child_rows")
        try:  # SQLite: the values as derived, read by one C-level getter per row (most pages bind as they are)
            first = list(map(itemgetter(*names), rows)) if self.d.binds_derived else list(map(values, rows))
            self.d.insert_rows(cur, target, child.columns, _last_of_each_key(first, key))
        except Exception:  # a value that would not bind (an integer beyond 64 bits, a missing key), or a key
            # that another parent's row holds (a source that reused an id): canonical values, newest row wins
            cur.execute("ROLLBACK TO SAVEPOINT child_rows")
            canonical = _last_of_each_key(list(map(values, rows)), key)
            self._delete_keys(cur, child, canonical)
            self.d.insert_rows(cur, target, child.columns, canonical)
        cur.execute("RELEASE SAVEPOINT child_rows")

    def _delete_keys(self, cur: Any, child: Child, rows: Sequence[Sequence[Any]]) -> None:
        """Delete the stored rows of ``child`` whose key one of ``rows`` (canonical values) has, whichever
        parent they came with. Only when a page's child rows failed to go in: a statement per key, each a
        primary-key lookup."""
        names = [c.name for c in child.columns]
        positions = [names.index(column) for column in child.key]
        where = " AND ".join(f"{quote(child.columns[p].name)} = {self.d.param(child.columns[p].kind)}"
                             for p in positions)
        cur.executemany(f"DELETE FROM {self.d.qualify(child.name)} WHERE {where}",
                        [[row[p] for p in positions] for row in rows])

    def _values_of(self, child: Child) -> Callable[[Mapping[str, Any]], list[Any]]:
        """The canonical values of a derived row (a dict keyed by column name), in column order: an odd value
        (an integer beyond 64 bits, a number where text goes) is NULL or text, never a failed page."""
        values = self._child_values.get(child.name)
        if values is None:
            keyed = tuple(replace(column, path=(column.name,)) for column in child.columns)
            values = self._child_values[child.name] = extractor(keyed)
        return values

    def _mark_seen(self, cur: Any, table: Table, ids: list[int], refresh: int) -> None:
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ", ".join(self.d.param(Kind.INTEGER) for _ in chunk)
            cur.execute(f"UPDATE {self.d.qualify(table.name)} SET {quote(REFRESH)} = {self.d.param(Kind.INTEGER)}, "
                        f"{quote(DELETED)} = {self.d.param(Kind.BOOLEAN)} WHERE id IN ({marks})",
                        [refresh, False, *chunk])

    def mark_deleted(self, cur: Any, table: Table, refresh: int) -> int:
        """At the end of a complete refresh: every row it did not see is marked deleted (kept, never
        dropped). Returns how many rows were newly marked."""
        self.ensure(cur, table)
        mark = self.d.param(Kind.INTEGER)
        flag = self.d.param(Kind.BOOLEAN)
        cur.execute(f"UPDATE {self.d.qualify(table.name)} SET {quote(DELETED)} = {flag} "
                    f"WHERE ({quote(REFRESH)} IS NULL OR {quote(REFRESH)} <> {mark}) AND {quote(DELETED)} = {flag}",
                    [True, refresh, False])
        return int(cur.rowcount or 0)

    # -- state tables (keyed rows the export keeps for itself, e.g. the custom-field binding) ---------------
    def load_rows(self, cur: Any, name: str, columns: Sequence[Column]) -> list[dict[str, Any]]:
        """Every row of state table ``name`` as dicts ([] when the table does not exist yet)."""
        if not self.d.columns_of(cur, name):
            return []
        cur.execute(f"SELECT {', '.join(quote(c.name) for c in columns)} FROM {self.d.qualify(name)}")
        return [dict(zip((c.name for c in columns), row, strict=True)) for row in cur.fetchall()]

    def save_rows(self, cur: Any, name: str, columns: Sequence[Column], key: Sequence[str],
                  rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert ``rows`` (dicts by column name) into state table ``name``, created if missing."""
        cur.execute(self._create_keyed_sql(name, columns, key))
        if not rows:
            return
        names = ", ".join(quote(c.name) for c in columns)
        marks = ", ".join(self.d.param(c.kind) for c in columns)
        keys = ", ".join(quote(column) for column in key)
        updates = ", ".join(f"{quote(c.name)} = excluded.{quote(c.name)}" for c in columns if c.name not in key)
        cur.executemany(f"INSERT INTO {self.d.qualify(name)} ({names}) VALUES ({marks}) "
                        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}",
                        [[row.get(c.name) for c in columns] for row in rows])

    # -- checkpoints --------------------------------------------------------------------------------------
    def write_page(self, cur: Any, table: Table, objects: list[dict[str, Any]], state: StreamState, *,
                   finish: bool) -> WriteResult:
        """A page of ``table`` and the stream's ``state``, in the caller's transaction; ``finish`` (a snapshot
        table's last page) also marks the rows this refresh did not see as deleted."""
        result = self.write(cur, table, objects, state.refresh)
        if finish and table.snapshot:
            result.deleted += self.mark_deleted(cur, table, state.refresh)
        self.save_state(cur, state)
        return result

    def save_state(self, cur: Any, state: StreamState) -> None:
        marks = ", ".join([self.d.param(Kind.TEXT)] * 4 + [self.d.param(Kind.INTEGER), self.d.param(Kind.BOOLEAN)])
        updates = ", ".join(f"{name} = excluded.{name}" for name in (*_STATE_COLUMNS[1:], "written_at"))
        cur.execute(
            f"INSERT INTO {self.d.qualify(CHECKPOINTS)} ({', '.join(_STATE_COLUMNS)}, written_at) "
            f"VALUES ({marks}, {self.d.now}) ON CONFLICT (stream) DO UPDATE SET {updates}",
            [state.stream, state.mode, state.position, state.source, state.refresh, state.complete],
        )

    def load_states(self, cur: Any) -> dict[str, StreamState]:
        if not self.d.columns_of(cur, CHECKPOINTS):
            return {}
        cur.execute(f"SELECT {', '.join(_STATE_COLUMNS)}, written_at FROM {self.d.qualify(CHECKPOINTS)}")
        return {row[0]: StreamState(row[0], row[1], row[2], row[3], int(row[4]), bool(row[5]), _text(row[6]))
                for row in cur.fetchall()}

    def status(self, cur: Any, tables: Iterable[Table]) -> list[StreamStatus]:
        """Each table's checkpoint and row counts (a table never written has no rows and no state)."""
        states = self.load_states(cur)
        report = []
        for table in tables:
            found = {name for name, _type in self.d.columns_of(cur, table.name)}
            rows = deleted = 0
            if found:
                cur.execute(f"SELECT count(*) FROM {self.d.qualify(table.name)}")
                rows = int(cur.fetchone()[0])
                deleted_when = quote(DELETED) if DELETED in found else (
                    table.deleted_when.sql if table.deleted_when is not None else None)
                if deleted_when is not None:
                    cur.execute(f"SELECT count(*) FROM {self.d.qualify(table.name)} WHERE {deleted_when}")
                    deleted = int(cur.fetchone()[0])
            report.append(StreamStatus(table.name, states.get(table.name), rows, deleted))
        return report


def _text(value: Any) -> str | None:
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if isoformat is not None else str(value)


def _last_of_each_key(rows: list[Sequence[Any]], key: Callable[[Sequence[Any]], Any]) -> list[Sequence[Any]]:
    """``rows`` with one row per ``key``, the last one, as the file outputs keep it: a derivation may give a key
    twice (an audit naming one custom field both in its ``custom_fields`` list and by its id), which the child
    table's primary key would refuse, failing the page and stopping the stream there. A TypeError for a key
    that cannot be hashed (a value as derived: canonical values always can)."""
    by_key = dict(zip(map(key, rows), rows, strict=True))
    return rows if len(by_key) == len(rows) else list(by_key.values())
