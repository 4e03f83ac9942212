"""The default sink: one SQLite file (``tickets.db``) holding tickets, sideloads and the checkpoint.

A page's rows and its checkpoint are committed in one transaction (WAL), so a process killed at any instant
leaves the file at the previous page or the new one, never between. ``synchronous=NORMAL``: a commit is not
fsynced, so a *power failure* may undo the last pages -- always together with their checkpoint, so the next run
fetches them again (nothing lost, nothing doubled); the WAL is fsynced at each checkpoint of the log, which a
thread of the sink runs beside the writer (``_wal``). The file is marked as ours with ``PRAGMA application_id``
and versioned with ``PRAGMA user_version``; any other SQLite database, or a file that is not SQLite at all, is
refused before anything is written.

Tables: ``tickets`` (one typed column per returned field, see ``_columns.TICKET_COLUMNS``, plus ``raw_json``
with the object as received), ``users``/``groups``/``organizations`` (created when first included or written),
and ``checkpoint`` (one row).

Speed: Python binds each object's JSON text and SQLite derives the typed columns from it, a page in one
statement that runs without the GIL (``_sqlite_json``). ``tickets.id`` is ``NOT NULL UNIQUE`` rather than the
rowid, so rows are stored in the order they are written (appended to the table's B-tree) while the small id
index takes the random inserts; with the id as rowid a page of 1000 tickets scattered over the id range
dirtied about twice as many pages and the write cost doubled. The child tables of the tickets (``ticket_tags``,
``ticket_custom_field_values``) take a page's rows in id order, so their keys' B-trees are swept once a page
rather than probed at random, and a connection that writes them keeps a 16 MB page cache instead of 2 MB: with
the default, the freshly written rows pushed the keys' leaves out between two pages and each was read back
(a system call a miss). The command's ticket export into SQLite: 0.88-0.91 as long, 12 MB more; the cache alone
0.94, and nothing for a ticket table without children nor for the other streams (docs/benchmarks.md).

Schema 1 files (id as rowid, plus the ``WRITE_ONLY_FIELDS`` columns, left NULL) are still read and written as
they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ._columns import SIDELOAD_COLUMNS, TICKET_COLUMNS, Column, Kind, extract, sideload_columns
from ._errors import ForeignOutputError
from ._sql import SIDELOAD_GUARD, TICKET_GUARD, checkpoint_from_row, create_table_sql, quote, transaction
from ._sqlite_json import upsert_from_json
from ._stream_sql import Dialect, StreamTables
from ._tables import TABLES, Table
from ._upsert import Stored, content_digest, oldest_version, plan_writes
from ._wal import WRITER_CHECKPOINT_FRAMES, SharedFile
from .base import Checkpoint, ClosingSink, Page, StreamState, StreamStatus, WriteResult

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SQLiteSink"]

#: ``PRAGMA application_id`` of our files ("ZDXP"): how we recognise a file we may write to.
APPLICATION_ID = 0x5A445850
#: ``PRAGMA user_version`` of the schema this code creates, and of every schema it reads and writes.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
_PAGE_SIZE = 8192  # rows are ~2 KB: fewer page splits and overflow chains than with 4 KB pages
#: The page cache (``PRAGMA cache_size``, KiB) of a connection that writes tickets with their child tables
#: (SQLite's default, 2,000 KiB, for every other): module doc, "Speed".
_CHILDREN_CACHE_KIB = 16384

SQLITE_TYPES = {
    Kind.INTEGER: "INTEGER",
    Kind.TEXT: "TEXT",
    Kind.BOOLEAN: "BOOLEAN",
    Kind.TIMESTAMP: "TEXT",
    Kind.JSON: "TEXT",
    Kind.NUMBER: "REAL",
}
_HEADER = b"SQLite format 3\x00"
_CHUNK = 500  # ids per "IN (…)": well under SQLite's host-parameter limit on every version
_MAX_INSERT_VALUES = 4096  # bound values of one multi-row INSERT (``_insert_rows``)
_CHECKPOINT_DDL = (
    'CREATE TABLE IF NOT EXISTS "checkpoint" ("singleton" INTEGER PRIMARY KEY CHECK ("singleton" = 1), '
    '"mode" TEXT NOT NULL, "position" TEXT NOT NULL, "source" TEXT NOT NULL, "written_at" TEXT NOT NULL)'
)
_CHECKPOINT_UPSERT = (
    'INSERT INTO "checkpoint" ("singleton", "mode", "position", "source", "written_at") '
    "VALUES (1, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) ON CONFLICT (\"singleton\") DO UPDATE SET "
    '"mode" = excluded."mode", "position" = excluded."position", "source" = excluded."source", '
    '"written_at" = excluded."written_at"'
)


def _placeholder(kind: Kind | None) -> str:
    return "?"


def _rows(columns: tuple[Column, ...], items: Iterable[tuple[dict[str, Any], bytes]]) -> list[list[Any]]:
    return [[*extract(columns, obj), raw.decode()] for obj, raw in items]


def _columns_of(cur: Any, table: str) -> list[tuple[str, str]]:
    cur.execute("SELECT name, type FROM pragma_table_info(?)", [table])
    return [(str(name), str(kind)) for name, kind in cur.fetchall()]


def _insert_rows(cur: sqlite3.Cursor, table: str, columns: tuple[Column, ...],
                 rows: Sequence[Sequence[Any]]) -> None:
    """``rows`` in a few ``INSERT … VALUES (…), (…), …``, each run in one step without the GIL, where an
    ``executemany`` steps (and trades the GIL with the thread parsing the next page) once a row.

    Each statement writes a power of two of rows with at most ``_MAX_INSERT_VALUES`` bound values: a table's
    statements are then a dozen texts, compiled once and kept in the connection's statement cache, where
    statements sized to each page would be compiled anew for every page and fill the cache with programs of
    thousands of rows. 50 pages of ~9,000 three-column rows (a throwaway script): row by row 0.53 s, and 117 s
    beside a thread that kept the GIL busy; one statement sized to each page 0.62 s (1.5 s beside it) and
    125 MB more memory; powers of two up to 1024 rows 0.28 s (4.0 s beside it). Larger statements did as well
    here but cost the whole-account export (a connection per stream, tables of forty columns) 40 MB."""
    width = len(columns)
    values = min(_MAX_INSERT_VALUES, cur.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    largest = max(1, values // width)
    names = ", ".join(quote(c.name) for c in columns)
    row = "(" + ", ".join("?" * width) + ")"
    start = 0
    while start < len(rows):
        size = 1 << (min(largest, len(rows) - start).bit_length() - 1)
        chunk = rows[start : start + size]
        cur.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * size)}",
                    [value for values in chunk for value in values])
        start += size


DIALECT = Dialect(_placeholder, SQLITE_TYPES, "TEXT", quote, _rows, _columns_of,
                  "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", "TEXT", _insert_rows, binds_derived=True)


def _refuse_foreign_file(path: Path) -> None:
    """Refuse a directory or a non-empty file without the SQLite header, before sqlite3 touches it."""
    if path.is_dir():
        raise ForeignOutputError(f"{path} is a directory, not a SQLite file")
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as handle:
            if handle.read(len(_HEADER)) != _HEADER:
                raise ForeignOutputError(f"{path} exists and is not a SQLite database; refusing to touch it")


class SQLiteSink(ClosingSink):
    """Tickets, sideloads and checkpoint in one SQLite file; see the module docstring."""

    def __init__(self, path: str | Path, *, include: Sequence[str] = ()) -> None:
        self.path = Path(path)
        _refuse_foreign_file(self.path)
        # check_same_thread off: a whole-account run opens every stream's connection first, in one thread (no
        # file is opened by Python while another connection holds SQLite's locks), then one thread uses each
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._tables = StreamTables(DIALECT)
        self._tickets = TABLES["tickets"]  # what ticket writes derive (children, custom columns): use_table
        self._shared = SharedFile.of(self.path)  # the writers' turns and the log's checkpoints (``_wal``)
        self._closed = False
        try:
            self._open(include)
        except BaseException:
            self._shared.close()
            self._conn.close()
            raise

    def _open(self, include: Sequence[str]) -> None:
        self._conn.execute("PRAGMA busy_timeout = 10000")
        created = self._check_ownership()
        if created:
            self._conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_FRAMES}")  # see _wal
        with self._transaction():
            if created:
                self._create_schema()
            self._sideloads = self._existing_sideloads()
            self._tables.ensure_checkpoints(self._conn.cursor())
            for name in include:
                self._ensure_sideload(name)
        self._sideloads.update(include)

    def _check_ownership(self) -> bool:
        """True for a new (empty) database; raises for one that is not ours or is from a newer version."""
        try:
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ForeignOutputError(f"{self.path} is not a usable SQLite database: {exc}") from None
        if app_id == 0 and tables == 0:
            return True
        if app_id != APPLICATION_ID:
            raise ForeignOutputError(f"{self.path} is a SQLite database not made by zendesk-export; refused")
        if version not in READABLE_VERSIONS:
            raise ForeignOutputError(f"{self.path} has schema {version}; this version reads {SCHEMA_VERSION}")
        return False

    def _create_schema(self) -> None:
        ddl = create_table_sql(quote("tickets"), TICKET_COLUMNS, SQLITE_TYPES, "TEXT", key="NOT NULL UNIQUE")
        self._conn.execute(ddl)
        self._conn.execute('CREATE INDEX "tickets_generated_timestamp" ON "tickets" ("generated_timestamp")')
        self._conn.execute(_CHECKPOINT_DDL)
        self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _ensure_sideload(self, name: str) -> None:
        """Create a sideload table if missing. ``_sideloads`` learns of it only once the transaction commits:
        a rolled-back page takes its new table with it."""
        if name not in self._sideloads:
            self._conn.execute(create_table_sql(quote(name), sideload_columns(name), SQLITE_TYPES, "TEXT"))

    def _existing_sideloads(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {name for (name,) in rows if name in SIDELOAD_COLUMNS}

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, ``IMMEDIATE`` so the stored versions we read cannot change under us."""
        with self._shared.turn, transaction(self._conn, "BEGIN IMMEDIATE"):
            yield
        self._shared.committed()

    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint committed with the last page, or None for a new file."""
        row = self._conn.execute('SELECT "mode", "position", "source" FROM "checkpoint"').fetchone()
        return checkpoint_from_row(row)

    def write(self, page: Page) -> WriteResult:
        """Upsert the page's tickets and sideloads and save its checkpoint, in one transaction."""
        with self._transaction():
            stored = self._stored(page.tickets)
            plan = plan_writes(page.tickets, stored)
            self._write_tickets(list(plan.writes.values()))
            if self._tickets.children:
                in_id_order = [plan.writes[ticket_id] for ticket_id in sorted(plan.writes)]  # module doc, "Speed"
                self._tables.write_children(self._conn.cursor(), self._tickets, in_id_order, stored=stored.keys())
            for name, objects in page.sideloads.items():
                self._write_sideload(name, objects)
            cp = page.checkpoint
            self._conn.execute(_CHECKPOINT_UPSERT, (cp.mode, cp.position, cp.source))
        self._sideloads.update(page.sideloads)
        return plan.result

    def _stored(self, tickets: list[dict[str, Any]]) -> dict[int, Stored]:
        """The stored versions of the page's ids, read in chunks (O(page), one query per 500 ids).

        The content digest only decides between two versions with the same ``generated_timestamp``, so the
        stored JSON is read (and hashed) only for rows at least as new as the page's oldest ticket."""
        ids = list(dict.fromkeys(t.get("id") for t in tickets))
        oldest = oldest_version(tickets)
        stored: dict[int, Stored] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            sql = (
                'SELECT "id", "generated_timestamp", "status", '
                'CASE WHEN "generated_timestamp" >= ? THEN "raw_json" END FROM "tickets" '
                f'WHERE "id" IN ({", ".join("?" * len(chunk))})'
            )
            for row_id, version, status, raw in self._conn.execute(sql, [oldest, *chunk]):
                digest = 0 if raw is None else content_digest(raw.encode())
                stored[row_id] = Stored(version, status == "deleted", digest)
        return stored

    def _write_sideload(self, name: str, objects: list[dict[str, Any]]) -> None:
        self._ensure_sideload(name)
        rows = [(orjson.dumps(obj).decode(),) for obj in objects]
        upsert_from_json(self._conn, quote(name), sideload_columns(name), objects, rows, SIDELOAD_GUARD)

    def _write_tickets(self, winners: list[tuple[dict[str, Any], bytes]]) -> None:
        """Upsert the written ticket versions; SQLite derives the typed columns from the JSON (``_sqlite_json``).
        The custom-field columns bound to ``tickets`` go in the same INSERT (an UPDATE afterwards would write
        every row twice)."""
        added, enrich = self._tables.added.get("tickets", ()), self._tickets.enrich
        if not added or enrich is None:
            rows: list[tuple[Any, ...]] = [(raw.decode(),) for _, raw in winners]
            added = ()
        else:
            rows = [(raw.decode(), *extract(added, enrich(t))) for t, raw in winners]
        tickets = [ticket for ticket, _ in winners]
        upsert_from_json(self._conn, quote("tickets"), TICKET_COLUMNS, tickets, rows, TICKET_GUARD, bound=added)

    # -- the whole-account streams (see ``_tables`` and ``_stream_sql``) ---------------------------------------
    def load_stream_state(self, stream: str) -> StreamState | None:
        """The checkpoint of ``stream`` committed with its last page, or None."""
        return self._tables.load_states(self._conn.cursor()).get(stream)

    def write_stream(self, table: Table, objects: list[dict[str, Any]], state: StreamState, *,
                     finish: bool = False) -> WriteResult:
        """Upsert a page of ``table`` and save ``state``, in one transaction; ``finish`` (a snapshot table's
        last page) also marks the rows this refresh did not see as deleted."""
        try:
            with self._transaction():
                cur = self._conn.cursor()
                self._tables.ensure_checkpoints(cur)
                result = self._tables.write_page(cur, table, objects, state, finish=finish)
        except BaseException:
            self._tables.forget(table)
            raise
        return result

    def save_stream_state(self, state: StreamState) -> None:
        """Save a stream's state alone (the tickets stream's status row; its resume point is ``checkpoint``)."""
        with self._transaction():
            cur = self._conn.cursor()
            self._tables.ensure_checkpoints(cur)
            self._tables.save_state(cur, state)

    def add_columns(self, table: Table, columns: Sequence[Column]) -> list[Column]:
        """Add the columns ``table`` lacks (``ALTER TABLE ADD COLUMN``); its writes fill them from then on."""
        try:
            with self._transaction():
                return self._tables.add_columns(self._conn.cursor(), table, columns)
        except BaseException:
            self._tables.forget(table)
            raise

    def use_table(self, table: Table) -> None:
        """The ``tickets`` table (children, enrichment) the ticket writes follow from now on; its added
        columns are those given to :meth:`add_columns` on this sink."""
        self._tickets = table
        if table.children:
            self._conn.execute(f"PRAGMA cache_size = -{_CHILDREN_CACHE_KIB}")

    def load_rows(self, name: str, columns: Sequence[Column]) -> list[dict[str, Any]]:
        """Every row of the export's state table ``name`` ([] when it does not exist yet)."""
        return self._tables.load_rows(self._conn.cursor(), name, columns)

    def save_rows(self, name: str, columns: Sequence[Column], key: Sequence[str],
                  rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert rows of the export's state table ``name`` (created if missing), in one transaction."""
        with self._transaction():
            self._tables.save_rows(self._conn.cursor(), name, columns, key, rows)

    def stream_status(self, tables: Iterable[Table]) -> list[StreamStatus]:
        """Every stream's checkpoint and row counts."""
        return self._tables.status(self._conn.cursor(), tables)

    def close(self) -> None:
        """Close the connection (an uncommitted page, if any, is rolled back by SQLite), after letting go of the
        file's background checkpoints (``_wal``); the connection's close makes the last one. Twice is once."""
        if not self._closed:
            self._closed = True
            self._shared.close()
        self._conn.close()
