"""What the file outputs (JSONL, Parquet) share: a directory with one folder per table, logs of versions, one
state file that commits every stream's pages, and the upsert index.

Layout (``DIR`` is ``DIR.jsonl`` or ``DIR.parquet``)::

    DIR/_state.json      every stream's checkpoint, every table's committed length, the custom-field binding
    DIR/_index.db        the upsert index (``_index``): a cache of what the logs say
    DIR/<table>/…        one folder per table: the stream tables (tickets, users, groups, …) and the analyst
                         tables derived from them (ticket_tags, ticket_field_history, …)

The tables are those of ``_tables.TABLES`` with the children a caller plugs in (``Table.children``, e.g. the
analyst tables of ``warehouse.stream_table``): the file and SQL outputs follow the same declarations.

Every table is a **log of versions**: a write appends only what changed, and a reader takes the *last* row of
each key (``id``; a child table's key columns). The rules:

* upserts keep the newest version (``_upsert``: a page's version is appended only when newer than the stored
  one), so re-delivered pages add nothing;
* a reference list's rows that a complete refresh did not see are appended once more with ``"_deleted": true``
  (kept, never dropped); seen again later, they are appended without it;
* a child table follows its parent's newest version: a new parent version appends its child rows that are new
  or changed, and for each child row it no longer has a *deletion mark* (its key columns, its parent's id and
  ``"_deleted": true``). Readers drop the keys whose last row is a deletion mark.

Crash safety, the same ordering as always: a write appends its rows to every table it touches and fsyncs them,
*then* replaces ``_state.json`` atomically (the commit point: the page's rows, the stream's checkpoint and the
tables' new lengths at once). Rows past a table's committed length are a write that never finished and are
removed on open, as are the files of table folders the state does not name (a folder that is not ours stays;
a symbolic link in the output is refused). Streams write from their own threads through one
sink per output: its lock makes each write whole, so the streams' pages interleave, never mix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from ._columns import Column, Kind, sideload_columns
from ._errors import ForeignOutputError
from ._files import atomic_write, checkpoint_from_json, checkpoint_to_json, lock_exclusively, read_state
from ._index import ChildRows, IndexedRow, VersionIndex
from ._tables import DELETED, TABLES, Child, Table
from ._upsert import NOTHING_PREPARED, Plan, Prepared, Stored, compact_json, content_digest, plan_writes
from .base import Checkpoint, ClosingSink, Page, StreamState, StreamStatus, WriteResult

__all__ = ["STATE", "FileOutput", "TableWrite", "child_info", "key_text"]

STATE = "_state.json"
_INDEX = "_index.db"
_REPLAY_BATCH = 10_000


def key_text(key: Sequence[str], row: Mapping[str, Any]) -> str:
    """A child row's key as the index keeps it: the JSON list of its key columns' values."""
    return orjson.dumps([row.get(column) for column in key]).decode()


def child_info(child: Child) -> dict[str, Any]:
    """How the state file describes a child table: its parent column and key (enough to replay its log)."""
    return {"position": 0, "parent": child.parent_column, "key": list(child.key)}


@dataclass
class TableWrite:
    """One table's part of a commit: the rows to append (object for the typed columns, bytes as stored; a child
    row's bytes are empty, JSON Lines serialises it as it writes it) and what the index learns once they are
    committed."""

    name: str
    items: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    rows: dict[int, Stored] = field(default_factory=dict)  # a stream table: the versions written, by id
    children: dict[int, ChildRows] | None = None  # a child table: each written parent's live rows
    table: Table | None = None
    child: Child | None = None
    prepared: Prepared = NOTHING_PREPARED  # the ticket export's: what the sink made of the page beforehand


class FileOutput(ClosingSink):
    """The shared half of the file sinks (module doc); a subclass stores the rows (``_append``, ``_scan``,
    ``_read_at``, ``_discard_uncommitted``)."""

    FORMAT = ""
    VERSION = 0
    #: Whether ``_append`` reads a stream row's typed columns from its object (Parquet), which must then carry
    #: the custom-field columns (``Table.enrich``), or stores only its bytes (JSON Lines, which has no typed
    #: columns: its ticket export with the analyst tables takes 0.88 as long without enriching them)
    TYPED_COLUMNS = True

    def __init__(self, path: str | Path, *, include: Sequence[str] = ()) -> None:
        for name in include:
            sideload_columns(name)
        self.path = Path(path)
        self._lock = threading.RLock()
        self._index: VersionIndex | None = None
        self._indexed: set[str] = set()  # the tables the index has opened
        self._dir_fd = -1
        self._tickets = TABLES["tickets"]  # what ticket pages derive (children, custom columns): use_table
        self._refuse_other_layouts()
        self._dir_fd = self._open_directory()
        try:
            lock_exclusively(self._dir_fd, self.path)
            self._state = self._load_or_create_state()
            self._discard_uncommitted()
            self._index = VersionIndex(self.path / _INDEX)
            for name in self._state["tables"]:
                self._open_table(name)
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------------------------
    def _refuse_other_layouts(self) -> None:
        """Raise for an output of another layout at ``self.path`` (nothing by default)."""

    def _open_directory(self) -> int:
        if self.path.exists() and not self.path.is_dir():
            raise ForeignOutputError(f"{self.path} exists and is not a directory; refusing to touch it")
        self.path.mkdir(exist_ok=True)
        return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)

    def _load_or_create_state(self) -> dict[str, Any]:
        """The state document; a new output gets one before any table, so tables without one are not ours."""
        state = read_state(self.path / STATE, self.FORMAT)
        if state is not None:
            return self._upgrade(state)
        if any(p.name != STATE + ".tmp" for p in self.path.iterdir()):
            raise ForeignOutputError(f"{self.path} is a non-empty directory without zendesk-export state")
        state = {"format": self.FORMAT, "version": self.VERSION, "checkpoint": None, "pages": 0, "tables": {},
                 "streams": {}, "rows": {}}
        atomic_write(self.path / STATE, orjson.dumps(state))
        return state

    def _upgrade(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state of an output this version reads (refusing others)."""
        if state.get("version") != self.VERSION:
            raise ForeignOutputError(f"{self.path} has format version {state.get('version')}; this version "
                                     f"reads {self.VERSION}")
        return state

    def _table_folders(self) -> Iterator[Path]:
        """The folders in the output. A symbolic link is refused: a table written through it would land
        outside the output, and discarding an uncommitted one would delete files there."""
        for entry in self.path.iterdir():
            if entry.is_symlink():
                raise ForeignOutputError(f"{entry} is a symbolic link; an output holds only its own folders "
                                         f"and files: move what it points to into {self.path} or remove it")
            if entry.is_dir():
                yield entry

    def _owns(self, folder: Path, entry: Path) -> bool:
        """Whether ``entry`` in a table's ``folder`` is a file this output writes (its subclass says)."""
        raise NotImplementedError

    def _discard_uncommitted(self) -> None:
        """Remove what the first write of a table that never committed left (a subclass cuts the rest). Only
        our own files go: a folder someone else keeps in the output, and whatever is in it, stays."""
        for folder in list(self._table_folders()):
            if folder.name not in self._state["tables"]:
                for entry in folder.iterdir():
                    if entry.is_file() and not entry.is_symlink() and self._owns(folder, entry):
                        entry.unlink()
                if not any(folder.iterdir()):
                    folder.rmdir()

    def _open_table(self, name: str) -> None:
        """Bring table ``name`` of the index up to its committed length (replaying what it lacks)."""
        assert self._index is not None
        info = self._state["tables"][name]
        start = self._index.open_table(name, info["position"], "key" in info)
        if start < info["position"]:
            self._replay(name, info, start)
        self._indexed.add(name)

    def _index_table(self, name: str, child: bool) -> VersionIndex:
        """The index, with table ``name`` opened (a table never written: empty, covered from 0)."""
        assert self._index is not None
        if name not in self._indexed:
            self._index.open_table(name, 0, child)
            self._indexed.add(name)
        return self._index

    def _replay(self, name: str, info: Mapping[str, Any], start: int) -> None:
        """Apply the committed rows from ``start`` to the index in batches (flat memory); the table stays
        covered at ``start`` until the end, so an interrupted replay starts again from there."""
        assert self._index is not None
        rows: dict[int, IndexedRow] = {}
        changes: dict[int, list[dict[str, Any]]] = {}  # a child table: each parent's rows and marks, in order
        count = 0
        for at, obj, raw in self._scan(name, start):
            if "key" in info:
                changes.setdefault(int(obj[info["parent"]]), []).append(obj)
            else:
                obj_id, version, _deleted = TABLES[name].key(obj)
                rows[obj_id] = IndexedRow(Stored(version, _is_deleted(TABLES[name], obj), content_digest(raw)), at)
            count += 1
            if count >= _REPLAY_BATCH:
                self._apply(name, info, rows, changes, start)
                rows, changes, count = {}, {}, 0
        self._apply(name, info, rows, changes, info["position"])

    def _apply(self, name: str, info: Mapping[str, Any], rows: Mapping[int, IndexedRow],
               changes: Mapping[int, list[dict[str, Any]]], position: int) -> None:
        assert self._index is not None
        if "key" not in info:
            self._index.update(name, rows, position)
            return
        key = info["key"]
        live = {parent: {_key(key, row): row for row in found}
                for parent, found in self._index.children(name, changes).items()}
        for parent, logged in changes.items():
            mine = live.setdefault(parent, {})
            for row in logged:
                if row.get(DELETED) is True:
                    mine.pop(_key(key, row), None)
                else:
                    mine[_key(key, row)] = {k: v for k, v in row.items() if k != DELETED}
        self._index.update_children(name, {parent: list(mine.values()) for parent, mine in live.items()}, position)

    # -- what a subclass stores ---------------------------------------------------------------------------
    def _append(self, write: TableWrite, columns: tuple[Column, ...], seq: int) -> tuple[int, list[int]]:
        """Store ``write.items`` durably after table ``write.name``'s committed rows (not committed yet); the
        table's new length and where each item sits."""
        raise NotImplementedError

    def _scan(self, name: str, start: int) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        """(where, object, bytes as stored) of table ``name``'s committed rows after ``start``, in order."""
        raise NotImplementedError

    def _read_at(self, name: str, places: Sequence[tuple[int, int]]) -> dict[int, bytes]:
        """The bytes as stored of ``(id, where)`` pairs of table ``name``."""
        raise NotImplementedError

    def _committed(self) -> None:
        """Called after a commit that wrote a table's first rows (Parquet rewrites its views)."""

    # -- writing ------------------------------------------------------------------------------------------
    def load_checkpoint(self) -> Checkpoint | None:
        """The ticket export's checkpoint committed with its last page, or None."""
        return checkpoint_from_json(self._state["checkpoint"])

    def prepare(self, tickets: list[dict[str, Any]]) -> Prepared:
        """The tickets' bytes and, where the output reads typed columns, enriched objects (``Table.enrich``:
        the custom-field columns), made before ``write`` (``base.PreparingSink``): on the thread that fetched
        the page, while the previous one is written."""
        return self._prepare(self._tickets, tickets)

    def _prepare(self, table: Table, tickets: list[dict[str, Any]]) -> Prepared:
        """:meth:`prepare` for ``table`` (the ``tickets`` table of the moment, read once)."""
        enrich = self._enrich(table)
        return Prepared(table, tickets, make=None if enrich is None else lambda obj, _raw: enrich(obj))

    def _enrich(self, table: Table) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """``table.enrich`` where this output reads typed columns (``TYPED_COLUMNS``); else None."""
        return table.enrich if self.TYPED_COLUMNS else None

    def write(self, page: Page) -> WriteResult:
        """A page of the ticket export: its tickets (with their child tables), its sideloads (into the
        ``users``, ``groups``, ``organizations`` tables) and its checkpoint, in one commit."""
        with self._lock:
            for name in page.sideloads:
                sideload_columns(name)
            prepared = Prepared.current(page.prepared, self._tickets)
            writes, result = self._plan(self._tickets, page.tickets, prepared)
            for name, objects in page.sideloads.items():
                writes += self._plan(TABLES[name], objects)[0]
            self._commit(writes, checkpoint=page.checkpoint)
            return result

    def write_stream(self, table: Table, objects: list[dict[str, Any]], state: StreamState, *,
                     finish: bool = False) -> WriteResult:
        """A page of ``table``'s stream and the stream's ``state``, in one commit; ``finish`` (a reference
        list's last page) also marks the rows this refresh did not see as deleted."""
        with self._lock:
            writes, result = self._plan(table, objects)
            if table.snapshot:
                assert self._index is not None
                self._index.see(table.name, (table.key(obj)[0] for obj in objects), state.refresh)
                if finish:
                    result.deleted += self._mark_unseen(writes[0], state.refresh)
            self._commit(writes, stream=state)
            return result

    def _plan(self, table: Table, objects: list[dict[str, Any]],
              prepared: Prepared = NOTHING_PREPARED) -> tuple[list[TableWrite], WriteResult]:
        """What a page of ``table`` appends: its newer versions, then its child tables' changes.

        Digests are made only where the rule may compare two versions of the same number (most versions never
        are: hashing every one cost ~10% of a page of JSON Lines): the index keeps digest 0, unknown, for most
        versions written (``_remembered``), and a stored version's is read back from its log when a page brings
        the same version again (``_digests_to_compare``)."""
        stored = self._index_table(table.name, False).stored(table.name, (obj.get("id") for obj in objects))
        stored.update(self._digests_to_compare(table, objects, stored))
        plan = plan_writes(objects, stored, table.key, prepared=prepared)
        winners = list(plan.writes.values())
        enrich = self._enrich(table)
        items = [(prepared.value(obj, raw) or enrich(obj), raw) for obj, raw in winners] if enrich else winners
        main = TableWrite(table.name, items, _remembered(table, plan), table=table, prepared=prepared)
        return [main, *(self._child_write(child, winners, stored.keys()) for child in table.children)], plan.result

    def _digests_to_compare(self, table: Table, objects: list[dict[str, Any]],
                            stored: Mapping[int, Stored]) -> dict[int, Stored]:
        """The stored versions that ``objects`` bring again (the same version number) and whose digest the
        index does not hold (0), with the digest of their bytes as stored."""
        unknown = [obj_id for obj in objects
                   if type(obj_id := obj.get("id")) is int and (found := stored.get(obj_id)) is not None
                   and not found.digest and table.key(obj)[1] == found.version]
        if not unknown:
            return {}
        assert self._index is not None
        read = self._read_at(table.name, self._index.places(table.name, unknown))
        return {obj_id: stored[obj_id]._replace(digest=content_digest(raw)) for obj_id, raw in read.items()}

    def _child_write(self, child: Child, winners: list[tuple[dict[str, Any], bytes]],
                     known: Collection[Any]) -> TableWrite:
        """The rows of ``child`` that the parents' new versions add or change, and deletion marks for those
        they no longer have. Rows are compared as objects by column name (what the index keeps); a parent
        never written before (not in ``known``, the parent ids the index holds: every parent of a first
        export) has no rows to compare with and just appends its rows."""
        index = self._index_table(child.name, True)
        current = index.children(child.name, [parent["id"] for parent, _raw in winners if parent["id"] in known])
        write = TableWrite(child.name, children={}, child=child)
        assert write.children is not None
        names = tuple(column.name for column in child.columns)
        by_key = _rows_by_key(child.key)
        for parent, _raw in winners:
            derived = child.derive(parent)
            if not all(map(names.__eq__, map(tuple, derived))):  # rows by column name, in column order
                derived = [{n: row.get(n) for n in names} for row in derived]
            rows = by_key(derived)
            stored = current.get(parent["id"])
            if stored is None:  # no rows stored for this parent (every parent of a first export): all are new
                write.items += [(row, b"") for row in rows.values()]
            else:
                before = by_key(stored)
                write.items += [(row, b"") for key, row in rows.items() if before.get(key) != row]
                for key in before.keys() - rows.keys():
                    gone = before[key]
                    mark = {child.parent_column: parent["id"], **{c: gone.get(c) for c in child.key}, DELETED: True}
                    write.items.append((mark, b""))
            write.children[parent["id"]] = list(rows.values())
        return write

    def _mark_unseen(self, write: TableWrite, refresh: int) -> int:
        """Add to ``write`` the rows its refresh did not see, marked deleted; how many."""
        assert self._index is not None and write.table is not None
        places = self._index.unseen(write.name, refresh)
        if not places:
            return 0
        for obj_id, stored in self._read_at(write.name, places).items():
            obj = orjson.loads(stored)
            marked = {**obj, DELETED: True}
            raw = compact_json(marked)
            write.items.append((marked, raw))
            write.rows[obj_id] = Stored(write.table.key(obj)[1], True, content_digest(raw))
        return len(places)

    def _commit(self, writes: list[TableWrite], *, checkpoint: Checkpoint | None = None,
                stream: StreamState | None = None) -> None:
        """Append every write's rows durably, replace the state file (the commit), then update the index."""
        state = orjson.loads(orjson.dumps(self._state))
        state["pages"] += 1
        tables, places = state["tables"], {}
        for write in (w for w in writes if w.items):
            info = tables.setdefault(write.name, child_info(write.child) if write.child else {"position": 0})
            info["position"], places[write.name] = self._append(write, self._columns(write, info), state["pages"])
        if checkpoint is not None:
            state["checkpoint"] = checkpoint_to_json(checkpoint)
        if stream is not None:
            state["streams"][stream.stream] = _state_json(stream)
        atomic_write(self.path / STATE, orjson.dumps(state))
        before = self._state["tables"]
        self._state = state
        self._index_writes(writes, places)
        if any(info["position"] and not before.get(name, {}).get("position") for name, info in tables.items()):
            self._committed()

    def _index_writes(self, writes: list[TableWrite], places: Mapping[str, list[int]]) -> None:
        assert self._index is not None
        for write in writes:
            if write.name not in self._state["tables"]:
                continue  # a table's first write that appended nothing: nothing to index yet
            position = self._state["tables"][write.name]["position"]
            if write.children is not None:
                self._index.update_children(write.name, write.children, position)
            else:
                at = dict(zip((obj["id"] for obj, _raw in write.items), places.get(write.name, ()), strict=True))
                self._index.update(write.name, {i: IndexedRow(s, at[i]) for i, s in write.rows.items()}, position)

    def _columns(self, write: TableWrite, info: Mapping[str, Any]) -> tuple[Column, ...]:
        """The typed columns of a write's table: a child's, or a stream table's declared and added ones."""
        if write.child is not None:  # a child row is a dict by column name
            return tuple(Column(c.name, c.kind, (c.name,)) for c in write.child.columns)
        assert write.table is not None
        added = tuple(Column(name, Kind(kind), (name,)) for name, kind in info.get("columns", ()))
        return (*TABLES[write.name].columns, *added)

    # -- the whole-account streams' bookkeeping -----------------------------------------------------------
    def load_stream_state(self, stream: str) -> StreamState | None:
        """The checkpoint of ``stream`` committed with its last page, or None."""
        found = self._state["streams"].get(stream)
        return None if found is None else StreamState(stream, **found)

    def save_stream_state(self, state: StreamState) -> None:
        """Save a stream's state alone (the tickets stream's status row; its resume point is the checkpoint)."""
        with self._lock:
            self._save({**self._state, "streams": {**self._state["streams"], state.stream: _state_json(state)}})

    def _save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path / STATE, orjson.dumps(state))
        self._state = state

    def stream_status(self, tables: Iterable[Table]) -> list[StreamStatus]:
        """Every stream's checkpoint and row counts (rows: distinct ids; deleted: marked or status deleted)."""
        assert self._index is not None
        report = []
        for table in tables:
            rows, deleted = self._index.count(table.name) if table.name in self._state["tables"] else (0, 0)
            report.append(StreamStatus(table.name, self.load_stream_state(table.name), rows, deleted))
        return report

    def add_columns(self, table: Table, columns: Sequence[Column]) -> list[Column]:
        """Add the columns ``table`` lacks (recorded in the state; rows written from now on fill them)."""
        with self._lock:
            info = self._state["tables"].get(table.name, {"position": 0})
            have = {c.name for c in table.columns} | {name for name, _kind in info.get("columns", ())}
            added = [c for c in columns if c.name not in have]
            if added:
                info = {**info, "columns": [*info.get("columns", ()), *([c.name, c.kind.value] for c in added)]}
                self._save({**self._state, "tables": {**self._state["tables"], table.name: info}})
                self._open_table(table.name)
            return added

    def use_table(self, table: Table) -> None:
        """The ``tickets`` table (children, enrichment) the ticket pages follow from now on."""
        self._tickets = table

    def load_rows(self, name: str, columns: Sequence[Column]) -> list[dict[str, Any]]:
        """Every row of the export's state table ``name`` (kept in the state file)."""
        return [{c.name: row.get(c.name) for c in columns} for row in self._state["rows"].get(name, ())]

    def save_rows(self, name: str, columns: Sequence[Column], key: Sequence[str],
                  rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert rows of the export's state table ``name`` by ``key``, committed at once."""
        with self._lock:
            kept = {tuple(row.get(k) for k in key): row for row in self._state["rows"].get(name, ())}
            kept.update((tuple(row.get(k) for k in key), {c.name: row.get(c.name) for c in columns}) for row in rows)
            self._save({**self._state, "rows": {**self._state["rows"], name: list(kept.values())}})

    def close(self) -> None:
        """Release the index and the directory lock; nothing is pending (a write is committed when it returns)."""
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1


def _remembered(table: Table, plan: Plan) -> dict[int, Stored]:
    """What the index keeps of the versions ``plan`` writes: the digest the rule made (0 where it made none),
    except for the versions of the page's newest number, which are hashed now: a time-based export starts its
    next page at that number, so they come again at once (read back, they would cost a read of the log a page;
    hashed, a few microseconds each)."""
    newest = max((found.version for found in plan.stored.values()), default=None)
    remembered = {}
    for obj_id, found in plan.stored.items():
        obj, raw = plan.writes[obj_id]
        digest = found.digest or (content_digest(raw) if found.version == newest else 0)
        remembered[obj_id] = Stored(found.version, _is_deleted(table, obj), digest)
    return remembered


def _is_deleted(table: Table, obj: Mapping[str, Any]) -> bool:
    """Whether a stored version counts as deleted: marked by a refresh, or marked by Zendesk itself."""
    return obj.get(DELETED) is True or (table.deleted_when is not None and table.deleted_when(obj))


def _state_json(state: StreamState) -> dict[str, Any]:
    return {"mode": state.mode, "position": state.position, "source": state.source, "refresh": state.refresh,
            "complete": state.complete, "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _rows_by_key(columns: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[tuple[Any, ...], Any]]:
    """Rows by their :func:`_key`, the last of a key winning. The keys of all the rows are read by one C-level
    getter (this runs for every child row); rows that lack a key column or hold a value that cannot be hashed
    take ``_key`` row by row."""
    getter = itemgetter(*columns)
    single = len(columns) == 1

    def by_key(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Any]:
        try:
            return dict(zip(zip(map(getter, rows)) if single else map(getter, rows), rows, strict=True))
        except (KeyError, TypeError):
            return {_key(columns, row): row for row in rows}

    return by_key


def _key(columns: Sequence[str], row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A child row's key in memory: the values of its key columns (their JSON text if one cannot be hashed)."""
    key = tuple([row.get(column) for column in columns])
    try:
        hash(key)
    except TypeError:
        return (key_text(columns, row),)
    return key
