"""The file sinks' upsert index: what every table of the output holds, in a small SQLite file in the output.

JSONL and Parquet outputs are logs of versions; to append only newer versions a sink must know, for each id of
a page, the version already stored. Kept in memory that index grows with the account (about 100 bytes a
ticket: a gigabyte at ten million tickets); kept here it costs a few megabytes of page cache whatever the
account's size, and each page reads and writes only its own ids (O(page)). Per table it keeps:

* a stream's table (``v_<table>``): each id's stored version, deleted flag, content digest (0 for a version
  written without one: the sink reads its bytes back when it must compare) and where its latest version sits
  in the log (``at``: a JSONL byte offset, a Parquet page number), so a row a refresh no longer sees can be
  read back and written again marked deleted;
* a child table (``c_<table>``): one row per parent id holding its live child rows (a JSON list of
  objects by column name), so a new parent version writes only the child rows that changed and a deletion
  mark for those that are gone. One index row per parent, not one per child row: a ticket has a dozen child
  rows (tags, custom values), and inserting them one by one into the index cost more than the download;
* a reference list's sightings (``s_<table>``): the refresh that last saw each id. Not rebuilt from the logs
  (they only hold what changed): a refresh interrupted by a crash walks its list again from the start, so
  whatever the next walk does not see is gone from the account.

Rows are stored in the order they are written (``seq``, the rowid) and found by a unique index on the id (the
parent, for a child table), as the SQLite sink keeps its tickets: a page's ids are scattered over the id range,
so with the id as the rowid each commit rewrote up to a page of the table per row (~1,000 of them), where now
it appends the rows and updates the much smaller id index (the ticket export with its analyst tables into JSON
Lines: 0.85 times as long).

The index is a cache of what the committed logs say, never the truth: each table records the position up to
which it covers its log, updated in the same transaction as its rows, after the output's own commit. On open
the sink replays the log from that position (normally nothing; after a crash between the two commits, one
page), and an index that is missing, damaged, from another version, or ahead of the log (which no crash of
ours produces) is rebuilt from the logs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from ._sql import transaction
from ._upsert import Stored

__all__ = ["ChildRows", "IndexedRow", "VersionIndex"]

_APPLICATION_ID = 0x5A445834  # "ZDX4": rows in write order (an older index is rebuilt from the logs)
_CHUNK = 500  # ids per "IN (…)"
_SIGN = 1 << 63


def _signed(digest: int) -> int:
    """SQLite integers are signed 64-bit: store a 64-bit digest in that range."""
    return digest - (1 << 64) if digest >= _SIGN else digest


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class IndexedRow(NamedTuple):
    """A stored version and where it sits in its log (a tuple: a page makes a thousand of them)."""

    stored: Stored
    at: int


#: A child table's live rows under one parent: each row an object by column name.
ChildRows = list[dict[str, Any]]


class VersionIndex:
    """The index of one output (module doc). Used under the sink's lock, from any of its threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError:
            self._conn = self._fresh()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
                conn.close()
                return self._fresh()
            self._tune(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _fresh(self) -> sqlite3.Connection:
        """A new, empty index in place of whatever was there (another version's, a damaged file)."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE covered (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        self._tune(conn)
        return conn

    @staticmethod
    def _tune(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # a cache: a power failure costs at most a replay
        # A checkpoint runs in the COMMIT that crosses the threshold, on the writing thread, and syncs the file:
        # ~40 MB of log between them instead of 4 MB (the default) copies each hot page once instead of ten
        # times and syncs a tenth as often (the ticket export with its child tables: 6% faster end to end).
        conn.execute("PRAGMA wal_autocheckpoint = 10000")

    def covered(self, name: str) -> int:
        """The log position up to which table ``name`` is indexed (0: nothing yet)."""
        row = self._conn.execute("SELECT position FROM covered WHERE name = ?", [name]).fetchone()
        return 0 if row is None else int(row[0])

    def open_table(self, name: str, committed: int, child: bool) -> int:
        """Make sure table ``name`` exists and does not run ahead of a log committed up to ``committed``;
        the position from which the log must be replayed into it."""
        covered = self.covered(name)
        table = _table(name, child)
        with transaction(self._conn):
            if covered > committed:  # not from a crash of ours (the index commits after the log): rebuild
                self._conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                self._conn.execute("DELETE FROM covered WHERE name = ?", [name])
                covered = 0
            if child:
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (seq INTEGER PRIMARY KEY, '
                                   "parent INTEGER NOT NULL UNIQUE, rows BLOB NOT NULL)")
            else:
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (seq INTEGER PRIMARY KEY, '
                                   "id INTEGER NOT NULL UNIQUE, version INTEGER NOT NULL, deleted INTEGER NOT NULL, "
                                   "digest INTEGER NOT NULL, at INTEGER NOT NULL)")
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "s_{name}" (id INTEGER PRIMARY KEY, '
                                   "refresh INTEGER NOT NULL)")
        return covered

    def _select(self, sql: str, values: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
        """``sql`` (with ``{marks}`` for an ``IN`` list) over ``values`` in chunks."""
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            yield from self._conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    def stored(self, name: str, ids: Iterable[Any]) -> dict[int, Stored]:
        """The stored versions of ``ids`` (non-integer ids are skipped) in table ``name``."""
        sql = f'SELECT id, version, deleted, digest FROM "v_{name}" WHERE id IN ({{marks}})'
        return {obj_id: Stored(version, bool(deleted), _unsigned(digest)) for obj_id, version, deleted, digest
                in self._select(sql, (i for i in ids if type(i) is int))}

    def places(self, name: str, ids: Iterable[int]) -> list[tuple[int, int]]:
        """(id, at) of ``ids`` in table ``name``: where each one's stored version sits in the log."""
        return list(self._select(f'SELECT id, at FROM "v_{name}" WHERE id IN ({{marks}})', ids))

    def update(self, name: str, rows: Mapping[int, IndexedRow], position: int) -> None:
        """Record the ``rows`` written and that table ``name`` now covers its log up to ``position``."""
        with transaction(self._conn):
            self._conn.executemany(
                f'INSERT OR REPLACE INTO "v_{name}" (id, version, deleted, digest, at) VALUES (?, ?, ?, ?, ?)',
                [(i, version, int(deleted), _signed(digest), at)
                 for i, ((version, deleted, digest), at) in rows.items()])
            self._cover(name, position)

    def _cover(self, name: str, position: int) -> None:
        self._conn.execute("INSERT OR REPLACE INTO covered VALUES (?, ?)", [name, position])

    def children(self, name: str, parents: Iterable[int]) -> dict[int, ChildRows]:
        """parent id → the live rows of child table ``name`` (parents without rows are absent)."""
        sql = f'SELECT parent, rows FROM "c_{name}" WHERE parent IN ({{marks}})'
        return {parent: orjson.loads(rows) for parent, rows in self._select(sql, parents)}

    def update_children(self, name: str, rows: Mapping[int, ChildRows], position: int) -> None:
        """Record each parent's live ``rows`` in child table ``name`` (none: the parent's entry goes), now
        covered up to ``position``."""
        with transaction(self._conn):
            self._conn.executemany(f'DELETE FROM "c_{name}" WHERE parent = ?',
                                   [(parent,) for parent, live in rows.items() if not live])
            # one row's JSON at a time, bound and dropped: orjson's bytes each keep its whole working buffer
            self._conn.executemany(f'INSERT OR REPLACE INTO "c_{name}" (parent, rows) VALUES (?, ?)',
                                   ((parent, orjson.dumps(live)) for parent, live in rows.items() if live))
            self._cover(name, position)

    def see(self, name: str, ids: Iterable[int], refresh: int) -> None:
        """Record that refresh ``refresh`` of reference table ``name`` saw ``ids``."""
        with transaction(self._conn):
            self._conn.executemany(f'INSERT OR REPLACE INTO "s_{name}" VALUES (?, ?)',
                                   [(obj_id, refresh) for obj_id in dict.fromkeys(ids)])

    def unseen(self, name: str, refresh: int) -> list[tuple[int, int]]:
        """(id, at) of the rows of ``name`` not marked deleted that refresh ``refresh`` did not see."""
        return list(self._conn.execute(
            f'SELECT id, at FROM "v_{name}" WHERE deleted = 0 AND id NOT IN '
            f'(SELECT id FROM "s_{name}" WHERE refresh = ?) ORDER BY id', [refresh]))

    def count(self, name: str) -> tuple[int, int]:
        """(rows, rows deleted) of stream table ``name``."""
        rows, deleted = self._conn.execute(f'SELECT count(*), coalesce(sum(deleted), 0) FROM "v_{name}"').fetchone()
        return int(rows), int(deleted)

    def close(self) -> None:
        self._conn.close()


def _table(name: str, child: bool) -> str:
    return ("c_" if child else "v_") + name
