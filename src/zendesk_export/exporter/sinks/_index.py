"""The file sinks' upsert index: what every table of the output holds, in a small SQLite file in the output.

JSONL and Parquet outputs are logs of versions; to append only newer versions a sink must know, for each id of
a page, the version already stored. Kept in memory that index grows with the account (about 100 bytes a
ticket: a gigabyte at ten million tickets); kept here it costs a few megabytes of page cache whatever the
account's size, and each page reads and writes only its own ids (O(page)). Per table it keeps:

* a stream's table (``v_<table>``): each id's stored version, deleted flag, content digest and where its
  latest version sits in the log (``at``: a JSONL byte offset, a Parquet page number), so a row a refresh no
  longer sees can be read back and written again marked deleted;
* a child table (``c_<table>``): each live child row's key (JSON text of its key columns) under its parent's
  id, with a digest of its content, so a new parent version writes only the child rows that changed and a
  deletion mark for those that are gone;
* a reference list's sightings (``s_<table>``): the refresh that last saw each id. Not rebuilt from the logs
  (they only hold what changed): a refresh interrupted by a crash walks its list again from the start, so
  whatever the next walk does not see is gone from the account.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._upsert import Stored

__all__ = ["ChildChanges", "IndexedRow", "VersionIndex"]

_APPLICATION_ID = 0x5A445832  # "ZDX2": the index of the per-table layout
_CHUNK = 500  # ids per "IN (…)"
_SIGN = 1 << 63


def _signed(digest: int) -> int:
    """SQLite integers are signed 64-bit: store a 64-bit digest in that range."""
    return digest - (1 << 64) if digest >= _SIGN else digest


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


@dataclass(frozen=True)
class IndexedRow:
    """A stored version and where it sits in its log."""

    stored: Stored
    at: int


@dataclass
class ChildChanges:
    """What a write did to a child table's live rows: keys (re)written with their digest, keys removed."""

    written: dict[tuple[int, str], int] = field(default_factory=dict)
    removed: set[tuple[int, str]] = field(default_factory=set)

    def write(self, parent: int, key: str, digest: int) -> None:
        self.removed.discard((parent, key))
        self.written[parent, key] = digest

    def remove(self, parent: int, key: str) -> None:
        self.written.pop((parent, key), None)
        self.removed.add((parent, key))


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

    def covered(self, name: str) -> int:
        """The log position up to which table ``name`` is indexed (0: nothing yet)."""
        row = self._conn.execute("SELECT position FROM covered WHERE name = ?", [name]).fetchone()
        return 0 if row is None else int(row[0])

    def open_table(self, name: str, committed: int, child: bool) -> int:
        """Make sure table ``name`` exists and does not run ahead of a log committed up to ``committed``;
        the position from which the log must be replayed into it."""
        covered = self.covered(name)
        table = _table(name, child)
        with self._transaction():
            if covered > committed:  # not from a crash of ours (the index commits after the log): rebuild
                self._conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                self._conn.execute("DELETE FROM covered WHERE name = ?", [name])
                covered = 0
            if child:
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (parent INTEGER NOT NULL, '
                                   "key TEXT NOT NULL, digest INTEGER NOT NULL, PRIMARY KEY (parent, key))")
            else:
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id INTEGER PRIMARY KEY, '
                                   "version INTEGER NOT NULL, deleted INTEGER NOT NULL, digest INTEGER NOT NULL, "
                                   "at INTEGER NOT NULL)")
                self._conn.execute(f'CREATE TABLE IF NOT EXISTS "s_{name}" (id INTEGER PRIMARY KEY, '
                                   "refresh INTEGER NOT NULL)")
        return covered

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        self._conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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

    def update(self, name: str, rows: Mapping[int, IndexedRow], position: int) -> None:
        """Record the ``rows`` written and that table ``name`` now covers its log up to ``position``."""
        with self._transaction():
            self._conn.executemany(
                f'INSERT OR REPLACE INTO "v_{name}" VALUES (?, ?, ?, ?, ?)',
                [(i, r.stored.version, int(r.stored.deleted), _signed(r.stored.digest), r.at)
                 for i, r in rows.items()])
            self._cover(name, position)

    def _cover(self, name: str, position: int) -> None:
        self._conn.execute("INSERT OR REPLACE INTO covered VALUES (?, ?)", [name, position])

    def children(self, name: str, parents: Iterable[int]) -> dict[int, dict[str, int]]:
        """parent id → {child key: digest} of the live rows of child table ``name``."""
        found: dict[int, dict[str, int]] = {}
        sql = f'SELECT parent, key, digest FROM "c_{name}" WHERE parent IN ({{marks}})'
        for parent, key, digest in self._select(sql, parents):
            found.setdefault(parent, {})[key] = _unsigned(digest)
        return found

    def update_children(self, name: str, changes: ChildChanges, position: int) -> None:
        """Apply a write's ``changes`` to child table ``name``, now covered up to ``position``."""
        with self._transaction():
            self._conn.executemany(f'DELETE FROM "c_{name}" WHERE parent = ? AND key = ?', list(changes.removed))
            self._conn.executemany(f'INSERT OR REPLACE INTO "c_{name}" VALUES (?, ?, ?)',
                                   [(p, k, _signed(d)) for (p, k), d in changes.written.items()])
            self._cover(name, position)

    def see(self, name: str, ids: Iterable[int], refresh: int) -> None:
        """Record that refresh ``refresh`` of reference table ``name`` saw ``ids``."""
        with self._transaction():
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
