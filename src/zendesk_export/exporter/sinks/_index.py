"""The file sinks' upsert index: the stored version of every id, in a small SQLite file beside the output.

JSONL and Parquet outputs are logs of versions; to append only newer versions a sink must know, for each id of
a page, the version already stored. Kept in memory that index grows with the account (about 100 bytes a
ticket: a gigabyte at ten million tickets); kept here it costs a few megabytes of page cache whatever the
account's size, and each page reads and writes only its own ids (O(page)).

The index is a cache of what the committed logs say, never the truth: each table records the position up to
which it covers its log (a byte length for JSONL, a page count for Parquet), updated in the same transaction
as its rows, after the output's own commit. On open the sink replays the log from that position (normally
nothing; after a crash between the two commits, one page), and an index that is missing, damaged, or ahead of
the log (which no crash of ours produces) is rebuilt from the logs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._upsert import Stored

__all__ = ["VersionIndex", "replay"]

_APPLICATION_ID = 0x5A445849  # "ZDXI"
_CHUNK = 500  # ids per "IN (…)"
_SIGN = 1 << 63


def _signed(digest: int) -> int:
    """SQLite integers are signed 64-bit: store a 64-bit digest in that range."""
    return digest - (1 << 64) if digest >= _SIGN else digest


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class VersionIndex:
    """``{table: {id: Stored}}`` and each table's covered log position, in a SQLite file (module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError:
            self._remove()
            self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            if conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("DROP TABLE IF EXISTS covered")
                conn.execute("CREATE TABLE covered (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
                conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # a cache: a power failure costs at most a replay
        except BaseException:
            conn.close()
            raise
        return conn

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()

    def covered(self, name: str) -> int:
        """The log position up to which table ``name`` is indexed (0: nothing yet)."""
        row = self._conn.execute("SELECT position FROM covered WHERE name = ?", [name]).fetchone()
        return 0 if row is None else int(row[0])

    def open_table(self, name: str, committed: int) -> int:
        """Make sure table ``name`` exists and does not run ahead of a log committed up to ``committed``;
        the position from which the log must be replayed into it."""
        covered = self.covered(name)
        self._conn.execute("BEGIN")
        if covered > committed:  # not from a crash of ours (the index commits after the log): rebuild
            self._conn.execute(f'DROP TABLE IF EXISTS "{_table(name)}"')
            self._conn.execute("DELETE FROM covered WHERE name = ?", [name])
            covered = 0
        self._conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{_table(name)}" '
            "(id INTEGER PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL, digest INTEGER NOT NULL)"
        )
        self._conn.execute("COMMIT")
        return covered

    def stored(self, name: str, ids: Iterable[Any]) -> dict[int, Stored]:
        """The stored versions of ``ids`` (non-integer ids are skipped) in table ``name``."""
        unique = [i for i in dict.fromkeys(ids) if type(i) is int]
        found: dict[int, Stored] = {}
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f'SELECT id, version, deleted, digest FROM "{_table(name)}" WHERE id IN ({marks})'
            for obj_id, version, deleted, digest in self._conn.execute(sql, chunk):
                found[obj_id] = Stored(version, bool(deleted), _unsigned(digest))
        return found

    def update(self, name: str, stored: Mapping[int, Stored], position: int) -> None:
        """Record ``stored`` versions and that table ``name`` now covers its log up to ``position``."""
        self._conn.execute("BEGIN")
        try:
            self._conn.executemany(
                f'INSERT OR REPLACE INTO "{_table(name)}" VALUES (?, ?, ?, ?)',
                [(i, s.version, int(s.deleted), _signed(s.digest)) for i, s in stored.items()],
            )
            self._conn.execute("INSERT OR REPLACE INTO covered VALUES (?, ?)", [name, position])
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def rows(self, name: str) -> int:
        """How many ids table ``name`` holds."""
        return int(self._conn.execute(f'SELECT count(*) FROM "{_table(name)}"').fetchone()[0])

    def close(self) -> None:
        self._conn.close()


def _table(name: str) -> str:
    return "v_" + name


def replay(index: VersionIndex, name: str, versions: Iterable[tuple[int, Stored]], position: int,
           batch: int = 10_000) -> None:
    """Apply ``(id, stored)`` pairs read from a log in batches (flat memory), ending covered at ``position``
    (until then the table stays covered where it was: an interrupted replay starts again from there)."""
    pending: dict[int, Stored] = {}
    start = index.covered(name)
    for obj_id, stored in versions:
        pending[obj_id] = stored
        if len(pending) >= batch:
            index.update(name, pending, start)  # rows in, position unchanged until the replay ends
            pending = {}
    index.update(name, pending, position)

