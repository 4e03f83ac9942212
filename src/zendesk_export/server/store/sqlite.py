"""The embedded store: SQLite (stdlib) in WAL mode, one connection per thread.

Ticket columns derive from ``tickets.TICKET_FIELDS``; beside them each row keeps ``body``, the ticket's export
JSON rendered when it was written, so an export page is an index range scan plus a join of stored bytes.
Writers take ``BEGIN IMMEDIATE`` so read-modify-write of a ticket is serialised, also across processes sharing
the file.

SQLite has one write lock per file, so nothing that every request writes may share the file with a long write:
the rate-limit counters (bumped by every API request) live in a side file, ``PATH-ratelimits``, with its own
lock, still shared by every process serving ``PATH``; and seeding writes in chunks of short transactions, so an
API write waits for one chunk at most, never for a whole seed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import orjson

from zendesk_export.server.store import DEMO, DuplicateRecord, ExportRow, StoreUnavailable, User, demo_users
from zendesk_export.server.store.sql import (
    AUDIT_COLUMNS,
    CREDENTIAL_COLUMNS,
    EXPORT_COVERED,
    JOURNAL_TRIM_EVERY,
    RECORD_COLUMNS,
    SQLITE,
    BaseWriter,
    Queries,
    Sequences,
    audit_values,
    changed_settings,
    covering_export_index,
    credential_rows,
    export_rows_sql,
    hit_rate_counters_sql,
    insert_batches,
    insert_sql,
    journal_sql,
    migrations,
    prepare_token_key,
    record_from_row,
    row_values,
    seed_batches,
    shared_tables,
    split_record,
    ticket_columns,
    upsert_sql,
)
from zendesk_export.tickets import TICKET_FIELDS

__all__ = ["SQLiteStore", "MIGRATIONS", "row_to_ticket", "counters_path"]

MIGRATIONS: tuple[str, ...] = migrations(SQLITE)
_JOURNAL = journal_sql(SQLITE)
_CHUNK = 2000  # seeded tickets per transaction: bounded memory, and the longest an API write waits
_MMAP_SIZE = 0x7FFF0000
_BULK_CACHE = -262_144  # KiB (256 MiB) of page cache while seeding
_SORT_HELPERS = max((os.cpu_count() or 1) - 1, 0)  # threads that sort an index's keys beside the statement's own
_DEFAULT_CACHE = -2000  # SQLite's default
# A new database's page size: a ticket row (~2.4 KB) and its export index entry (~1.9 KB, ``EXPORT_COVERED``)
# fit several to a 16 KB page where a 4 KB page held one row and ~1.6 KB of nothing, and an index entry stays
# whole in its page (at 4 KB all but ~500 bytes of it would go to an overflow page of its own).
_PAGE_SIZE = 16384
_COUNTERS = """CREATE TABLE IF NOT EXISTS rate_counters (
    account_id INTEGER NOT NULL, bucket TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket))"""


def counters_path(path: str) -> str:
    """The side file of a database's rate-limit counters."""
    return f"{path}-ratelimits"


def _connect(path: str, *, page_size: int | None = None) -> sqlite3.Connection:
    """A connection in WAL mode; ``page_size`` is the page size of the database if this creates it."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if page_size:  # before WAL mode, which writes the file's first page (ignored for an existing database)
        conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    # Read the file through a memory map (up to SQLite's 2 GB cap): a page of 1000 tickets touches about as many
    # database pages, and mapped pages cost no read() call each; the OS page cache is shared by every connection.
    conn.execute(f"PRAGMA mmap_size={_MMAP_SIZE}")
    return conn


def _write_in_place(conn: sqlite3.Connection) -> bool:
    """Leave WAL mode for a bulk load that no other connection shares: every page is written once, into the
    file, where WAL mode writes it to the log and copies it again at each checkpoint. The rollback journal is
    kept in memory, so a failed batch still rolls back; a process killed in the middle of a commit can leave
    the file torn (as a machine crash already could, with ``synchronous=OFF``), and it held nothing but the
    seed being made: ``_load_in_place`` marks the file so that the next store refuses it. Another connection
    that holds the file open (a server on it) keeps it in WAL mode: then False, and the load goes through the
    WAL as usual."""
    try:
        mode = conn.execute("PRAGMA journal_mode=MEMORY").fetchone()[0]
    except sqlite3.OperationalError:  # the file is busy: another connection holds it
        return False
    return str(mode).lower() == "memory"


def _load_in_place(conn: sqlite3.Connection) -> bool:
    """``_write_in_place``, first saying so in the file, durably (a commit in WAL mode): the mark (a table,
    ``_LOADING``) is dropped once the load is over and the file back in WAL mode. A process killed in between
    leaves it, and the next store opened on the file refuses the file: a commit cut short while writing in
    place can leave pages no table owns, which SQLite itself does not notice. False, with no mark, when the
    file stays in WAL mode."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {_LOADING} (since TEXT)")
    if _write_in_place(conn):
        return True
    conn.execute(f"DROP TABLE {_LOADING}")
    return False


def row_to_ticket(row: sqlite3.Row) -> dict[str, Any]:
    ticket: dict[str, Any] = {}
    for f in TICKET_FIELDS:
        value = row[f.name]
        if f.kind == "json":
            value = orjson.loads(value)
        elif f.kind == "bool":
            value = bool(value)
        ticket[f.name] = value
    ticket["generated_timestamp"] = row["generated_timestamp"]
    ticket["deleted_at"] = row["deleted_at"]
    return ticket


#: The table that marks a load writing straight into a new file (``_load_in_place``).
_LOADING = "seed_in_progress"
_INSERT_TICKET = insert_sql("tickets", ticket_columns(), SQLITE, verb="INSERT OR REPLACE")
_INSERT_AUDIT = insert_sql("audits", AUDIT_COLUMNS, SQLITE)
_INSERT_CREDENTIAL = insert_sql("credentials", CREDENTIAL_COLUMNS, SQLITE)
# OR IGNORE: seeding again with the same random seed reuses the same customers.
_INSERT_USER = insert_sql("users", RECORD_COLUMNS["users"], SQLITE, verb="INSERT OR IGNORE")


# The secondary indexes of tickets and audits whose keys a seed writes in random order (times, people): a bulk
# load into a new database builds them at its end, each sorted once, instead of placing every key in a tree that
# outgrows the cache. The others stay during the load: their keys come in id order (appended to the last page)
# or few rows have one (partial indexes), and building any index at the end reads the whole table once more.
_IN_RANDOM_ORDER = ("tickets_export", "tickets_created", "tickets_organization", "tickets_requester", "audits_time")


def _deferred_indexes(scripts: Sequence[str]) -> dict[str, str]:
    """Those indexes as ``scripts`` define them, each as a statement that creates it if it is missing."""
    return {
        statement.split()[2]: statement.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
        for statement in (" ".join(text.split()) for script in scripts for text in script.split(";"))
        if statement.startswith("CREATE INDEX ") and statement.split()[2] in _IN_RANDOM_ORDER
    }


_COVERING = covering_export_index(SQLITE)
_DEFERRED_INDEXES = _deferred_indexes(MIGRATIONS)
assert len(_DEFERRED_INDEXES) == len(_IN_RANDOM_ORDER)
# A database made with smaller pages (before 16 KB pages) keeps the narrow export index: there every covering
# entry would put most of a ticket's JSON in an overflow page of its own, +4 KB a ticket for no faster page.
_NARROW_INDEXES = _deferred_indexes([script for script in MIGRATIONS if script != _COVERING])


class _SQLiteLoader:
    """``TicketLoader`` on the store's connection: each call its own ``BEGIN IMMEDIATE`` transaction."""

    # A flag as SQLite stores it: an int binds as it is, where a bool goes through the sqlite3 module's adapter
    # lookup (two failed attribute lookups a value, five flags a row) to the same 0 or 1.
    flag: Callable[[bool], Any] = int

    def __init__(self, store: SQLiteStore, account_id: int) -> None:
        self.store, self.account_id = store, account_id

    def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        with self.store._transaction() as conn:
            numbers = Sequences(conn, self.account_id, SQLITE)
            starts = {name: numbers.take(name, count) for name, count in counts.items()}
            numbers.save()
        return starts

    def insert(self, tickets: Sequence[Sequence[Any]], audits: Sequence[Sequence[Any]]) -> None:
        with self.store._transaction() as conn:
            conn.executemany(_INSERT_TICKET, tickets)
            conn.executemany(_INSERT_AUDIT, audits)


class _SQLiteWriter(BaseWriter[sqlite3.Connection]):
    dialect = SQLITE

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM tickets WHERE account_id = ? AND id = ?", (self.account_id, ticket_id)
        ).fetchone()
        return row_to_ticket(row) if row else None

    def put_ticket(self, ticket: dict[str, Any]) -> None:
        self.conn.execute(_INSERT_TICKET, row_values(self.account_id, ticket))

    def add_audit(self, audit: dict[str, Any]) -> None:
        self.conn.execute(_INSERT_AUDIT, audit_values(self.account_id, audit))

    def get_record(self, table: str, record_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT * FROM {table} WHERE account_id = ? AND id = ?", (self.account_id, record_id)
        ).fetchone()
        return record_from_row(row) if row else None

    def put_record(self, table: str, record: dict[str, Any]) -> None:
        """Insert or update a users/organizations/groups record; a taken unique value → DuplicateRecord."""
        values, data = split_record(table, record)
        sql = upsert_sql(table, (*RECORD_COLUMNS[table], "data"), SQLITE)
        try:
            self.conn.execute(sql, (self.account_id, *values, data))
        except sqlite3.IntegrityError as error:
            raise DuplicateRecord(str(error)) from None


def _refuse_foreign(path: str) -> None:
    """A database with tables but none of our migrations is another application's: adding our tables (and the
    demo credentials) to it would damage it, so it is refused — looked at before anything is written, even the
    switch to WAL mode."""
    conn = sqlite3.connect(path)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0]:
            return
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        conn.close()
    if tables:
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreUnavailable(f"{path} is not a zendesk-export server database (it has other tables: {shown}); "
                               "refusing to change it: give a new or empty file")


class SQLiteStore(Queries):
    """SQLite implementation of ``Store``. Safe to share between threads and between processes."""

    dialect = SQLITE
    _deferred: dict[str, str]  # the indexes a bulk load builds at its end, by name

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        try:
            _refuse_foreign(path)
            self._migrate()
            # The counters' side file made now, before threads share the store: connections that open a new
            # file at the same moment race to switch it to WAL mode, and SQLite answers the losers "database is
            # locked" without waiting. The main file is made by ``_migrate`` above for the same reason.
            self._counters()
        except sqlite3.DatabaseError as error:  # unopenable path, a file that is not a database, …
            self.close()
            raise StoreUnavailable(f"cannot use {path} as the server's SQLite database: {error}") from None
        except StoreUnavailable:
            self.close()
            raise

    # -- connections and transactions -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path, page_size=_PAGE_SIZE)
        return conn

    def _counters(self) -> sqlite3.Connection:
        """This thread's connection to the counters' side file (created with its table on first use)."""
        conn = getattr(self._local, "counters", None)
        if conn is None:
            conn = self._local.counters = _connect(counters_path(self.path))
            conn.execute(_COUNTERS)
            conn.executescript(shared_tables(SQLITE, if_missing=True))
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _locked(self, account_id: int) -> AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` already serialises every writer of the file, whatever the account."""
        return self._transaction()

    def _rows(self, query: str, args: Sequence[Any]) -> list[Any]:
        """Plain tuples, as PostgreSQL's rows: a page reads thousands, and ``sqlite3.Row`` costs more per value."""
        cursor = self._conn().cursor()
        cursor.row_factory = None
        return cursor.execute(query, args).fetchall()

    def _dicts(self, query: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn().execute(query, args).fetchall()]

    @contextmanager
    def write(self, account_id: int) -> Iterator[_SQLiteWriter]:
        with self._transaction() as conn:
            yield _SQLiteWriter(conn, account_id)

    def close(self) -> None:
        for name in ("conn", "counters"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                conn.close()
                setattr(self._local, name, None)

    # -- schema -----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (_LOADING,)).fetchone():
                raise StoreUnavailable(f"{self.path}: a seed that wrote straight into this new file was cut short "
                                       "and may have torn it; delete the file and seed again")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            small = conn.execute("PRAGMA page_size").fetchone()[0] < _PAGE_SIZE
            self._deferred = _NARROW_INDEXES if small else _DEFERRED_INDEXES
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, () if small and script == _COVERING else script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            for definition in self._deferred.values():  # a bulk load cut short left them dropped
                conn.execute(definition)
            self._fit_export_index(conn, small)
            self.token_key = prepare_token_key(conn, SQLITE)
            if conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0:
                self._create_demo(conn)

    def _fit_export_index(self, conn: sqlite3.Connection, small: bool) -> None:
        """The export index the page size calls for: a database of small pages vacuumed into 16 KB pages
        (``PRAGMA page_size=16384; VACUUM`` out of WAL mode) gets the covering one when it is next opened."""
        wanted = 3 + (0 if small else len(EXPORT_COVERED))
        if len(conn.execute("PRAGMA index_info(tickets_export)").fetchall()) != wanted:
            conn.execute("DROP INDEX IF EXISTS tickets_export")
            conn.execute(self._deferred["tickets_export"])

    def _create_demo(self, conn: sqlite3.Connection) -> None:
        cur = conn.execute("INSERT INTO accounts (subdomain) VALUES (?)", (DEMO["subdomain"],))
        account_id = int(cur.lastrowid or 0)
        self._insert_users(conn, account_id, demo_users())

    def _insert_users(self, conn: sqlite3.Connection, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        writer = _SQLiteWriter(conn, account_id)
        created = []
        for spec in users:
            user_id = spec.get("id") or writer.next_id("users")
            now = int(spec.get("created_at", 0))
            inserted = conn.execute(
                _INSERT_USER,
                (account_id, user_id, spec["name"], spec["email"].lower(), spec["role"],
                 spec.get("organization_id"), now, now),
            )
            if not inserted.rowcount:
                continue
            conn.executemany(_INSERT_CREDENTIAL, credential_rows(account_id, [{**spec, "id": user_id}], self.token_key))
            created.append(User(user_id, account_id, spec["name"], spec["email"].lower(), spec["role"],
                                spec.get("organization_id")))
        return created

    # -- accounts, users, credentials ---------------------------------------------------------------
    def set_account_setting(self, account_id: int, key: str, value: Any) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT settings FROM accounts WHERE id = ?", (account_id,)).fetchone()
            settings = changed_settings(row[0] if row else None, key, value)
            conn.execute("UPDATE accounts SET settings = ? WHERE id = ?", (settings, account_id))

    # -- rate-limit counters: one autocommitted statement per request in the side file, see edge/ratelimit.py --
    def hit_rate_counters(self, account_id: int, hits: Sequence[tuple[str, int]]) -> dict[str, int]:
        if not hits:
            return {}
        rows = self._counters().execute(
            hit_rate_counters_sql(SQLITE, len(hits)),
            [value for bucket, start in hits for value in (account_id, bucket, start)],
        ).fetchall()
        return {bucket: count for bucket, count in rows}

    def clear_rate_counters(self, account_id: int) -> None:
        self._counters().execute("DELETE FROM rate_counters WHERE account_id = ?", (account_id,))

    def delete_account(self, account_id: int) -> None:
        """The account's rows, and its counters, journal and shared state in the side file (a later account
        could be given its id)."""
        super().delete_account(account_id)
        self.clear_rate_counters(account_id)
        self.clear_journal(account_id)
        self._counters().execute("DELETE FROM shared_state WHERE account_id = ?", (account_id,))

    # -- serve --workers: the journal and shared state, in the side file (one short write each) ------------
    def append_journal(self, account_id: int, entry: str, keep: int) -> int:
        conn = self._counters()
        seq = int(conn.execute(_JOURNAL["append"], (account_id, entry)).fetchone()[0])
        if seq % JOURNAL_TRIM_EVERY == 0:
            conn.execute(_JOURNAL["trim"], (account_id, account_id, keep))
        return seq

    def journal(self, account_id: int, limit: int) -> list[tuple[int, str]]:
        rows = self._counters().execute(_JOURNAL["newest"], (account_id, limit)).fetchall()
        return [(int(seq), entry) for seq, entry in reversed(rows)]

    def clear_journal(self, account_id: int) -> None:
        self._counters().execute(_JOURNAL["clear"], (account_id,))

    def change_shared_state(self, account_id: int, name: str, change: Callable[[str | None], str]) -> str:
        conn = self._counters()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value FROM shared_state WHERE account_id = ? AND name = ?",
                               (account_id, name)).fetchone()
            value = change(row[0] if row else None)
            conn.execute("INSERT OR REPLACE INTO shared_state (account_id, name, value) VALUES (?, ?, ?)",
                         (account_id, name, value))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return value

    def rate_counters(self, account_id: int) -> dict[str, tuple[int, int]]:
        rows = self._counters().execute(
            "SELECT bucket, window_start, count FROM rate_counters WHERE account_id = ?", (account_id,)).fetchall()
        return {bucket: (start, count) for bucket, start, count in rows}

    def _user(self, where: str, args: tuple[Any, ...]) -> User | None:
        row = self._conn().execute(
            f"SELECT id, account_id, name, email, role, organization_id FROM users WHERE {where}", args
        ).fetchone()
        return User(*row) if row else None

    def user_by_email(self, account_id: int, email: str) -> User | None:
        return self._user("account_id = ? AND email = ?", (account_id, email.lower()))

    def user(self, account_id: int, user_id: int) -> User | None:
        return self._user("account_id = ? AND id = ?", (account_id, user_id))

    def add_users(self, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        with self._transaction() as conn:
            return self._insert_users(conn, account_id, users)

    # -- tickets --------------------------------------------------------------------------------------
    def get_ticket(self, account_id: int, ticket_id: int) -> dict[str, Any] | None:
        return _SQLiteWriter(self._conn(), account_id).get_ticket(ticket_id)

    def export_rows(
        self, account_id: int, start: int, cutoff: int, limit: int, exclude_deleted: bool
    ) -> list[ExportRow]:
        rows = self._conn().execute(
            export_rows_sql(SQLITE, exclude_deleted), (account_id, start, cutoff, limit)
        ).fetchall()
        return [ExportRow(*r) for r in rows]

    def export_group(self, account_id: int, timestamp: int, exclude_deleted: bool) -> list[ExportRow]:
        return self.export_rows(account_id, timestamp, timestamp, -1, exclude_deleted)

    def insert_tickets(self, account_id: int, tickets: Iterable[dict[str, Any]]) -> int:
        """Seeding in batches of ``_CHUNK``, each one short transaction: other writers get their turn in between."""
        with self.ticket_loader(account_id) as loader:
            return insert_batches(loader, account_id, seed_batches(tickets, _CHUNK))

    @contextmanager
    def ticket_loader(self, account_id: int, *, alone: bool = False) -> Iterator[_SQLiteLoader]:
        """Seeding: this connection keeps a large page cache (the tickets' and audits' indexes take rows in
        random order: a small cache would read their pages again and again). A database that holds no ticket
        yet is also written without syncing (``synchronous=OFF``): a crash of the machine mid-seed may leave an
        unusable file, which held nothing but the seed being made; a database with data keeps its syncs. The
        tickets' and audits' indexes whose keys come in random order (``_IN_RANDOM_ORDER``) are dropped for the
        load and built at the end: sorting a million keys once costs a fraction of placing each in a tree (a
        store opened after a crash mid-load builds them). ``alone``: no other connection uses the file during
        the load (``zendesk-export seed``), so a new database is written straight into the file, not through
        the WAL (see ``_write_in_place``)."""
        conn = self._conn()
        fresh = conn.execute("SELECT 1 FROM tickets LIMIT 1").fetchone() is None
        conn.execute(f"PRAGMA cache_size={_BULK_CACHE}")
        in_place = fresh and alone and _load_in_place(conn)
        if fresh:
            conn.execute("PRAGMA synchronous=OFF")
            with self._transaction():
                for name in self._deferred:
                    conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield _SQLiteLoader(self, account_id)
        finally:
            self._build_deferred_indexes()
            if in_place:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"DROP TABLE {_LOADING}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA cache_size={_DEFAULT_CACHE}")

    def _build_deferred_indexes(self) -> None:
        """Each a transaction of its own: a writer waiting meanwhile waits for one index, not for all. SQLite
        sorts each index's keys on every core: the statement's own thread reads the table while helper threads
        (``PRAGMA threads``, one per other core) sort and write out the runs of keys that do not fit in memory
        (a seed's drawing process has finished by then). One helper more than the cores made them take turns:
        on two cores, building a million tickets' export index with two helpers took the same wall time as
        with one and 4-8 CPU-seconds more, each helper's run buffer new memory for the kernel to hand out."""
        conn = self._conn()
        conn.execute(f"PRAGMA threads={_SORT_HELPERS}")
        try:
            for definition in self._deferred.values():
                with self._transaction():
                    conn.execute(definition)
        finally:
            conn.execute("PRAGMA threads=0")

    def insert_records(self, account_id: int, table: str, records: Iterable[dict[str, Any]]) -> int:
        """Bulk insert (seeding); records whose id or unique name exists are kept as they are."""
        sql = insert_sql(table, (*RECORD_COLUMNS[table], "data"), SQLITE, verb="INSERT OR IGNORE")
        def rows() -> Iterable[tuple[Any, ...]]:
            for record in records:
                values, data = split_record(table, record)
                yield (account_id, *values, data)

        with self._transaction() as conn:
            return conn.executemany(sql, rows()).rowcount
