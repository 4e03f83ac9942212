"""The shared store: PostgreSQL (psycopg 3), for several server processes on one database.

The same contract and the same table design as ``sqlite.py``, with real types (BIGINT, BOOLEAN, BYTEA for the
pre-rendered ``body``). JSON columns are TEXT holding orjson's output, not JSONB: JSONB would reorder keys and
re-space values, and every byte we hand back must be the one SQLite hands back (contract tests compare JSON).

Connections: a bounded pool (``psycopg_pool``, at most ``POOL_SIZE`` per server process, idle ones closed after a
minute), autocommit off; every operation borrows one for an explicit transaction that ends, and gives it back,
before the method returns (an idle open transaction would hold locks). The bound holds however many worker
threads come and go: connections belong to the pool, not to threads, so none is left behind by a retired thread,
and a burst of requests waits for a connection instead of exhausting the database's ``max_connections``.
``write(account_id)`` starts by locking the account's row (``SELECT … FOR UPDATE``), which serialises writers of
one account across processes as SQLite's ``BEGIN IMMEDIATE`` does; it runs in pipeline mode and numbers ids from
the sequences read with the lock, so that the lock is held for two round trips (the first read, the commit), not
for one per statement. ``?schema=NAME`` in the
URL keeps several servers apart in one database.

PostgreSQL text cannot hold NUL, which a ticket's subject or comment may contain: text columns store U+FFFD in
its place (they are only queried), and a ticket is read back from its stored ``body``, which keeps ``\\u0000``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

try:
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as error:  # pragma: no cover - the extra is installed wherever this module is used
    raise ImportError("the PostgreSQL store needs psycopg and psycopg-pool: pip install 'zendesk-export[postgres]'"
                      ) from error

from zendesk_export.redaction import redact_secrets
from zendesk_export.server.store import DEMO, DuplicateRecord, ExportRow, StoreUnavailable, User, demo_users
from zendesk_export.server.store.sql import (
    AUDIT_COLUMNS,
    CREDENTIAL_COLUMNS,
    JOURNAL_TRIM_EVERY,
    POSTGRES,
    RECORD_COLUMNS,
    BaseWriter,
    Queries,
    Sequences,
    audit_values,
    changed_settings,
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
    split_record,
    ticket_columns,
    upsert_sql,
)
from zendesk_export.tickets import TICKET_FIELDS, parse_time

__all__ = ["PostgresStore", "MIGRATIONS", "POOL_SIZE", "split_url"]

_Conn = psycopg.Connection[Any]
_CHUNK = 2000  # tickets per COPY while seeding: bounded memory
POOL_SIZE = 10  # connections per server process at most: a handful serve hundreds of requests a second
_POOL_WAIT = 30.0  # seconds a request waits for a free connection before it fails
_MAX_IDLE = 60.0  # seconds an idle connection above the minimum is kept

# The SQLite migrations in PostgreSQL types (one numbering: a later change lands in both as the same version).
MIGRATIONS: tuple[str, ...] = migrations(POSTGRES)
_JOURNAL = journal_sql(POSTGRES)


def split_url(url: str) -> tuple[str, str]:
    """``(dsn, schema)`` from a URL that may carry ``?schema=NAME``, a key libpq itself would reject."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), "") or "public"
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


# -- values ---------------------------------------------------------------------------------------------
def _text(value: Any) -> Any:
    """A value for a text column: NUL (which PostgreSQL text refuses) becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _row_values(account_id: int, ticket: dict[str, Any]) -> tuple[Any, ...]:
    """``row_values`` with PostgreSQL booleans and NUL-free text."""
    return tuple(map(_text, row_values(account_id, ticket, boolean=bool)))


def _ticket_from_body(body: bytes, generated_timestamp: int, deleted_at: int | None) -> dict[str, Any]:
    """The ticket as written, from its stored body (exact even where a text column had to drop a NUL)."""
    rendered = orjson.loads(b"{" + bytes(body) + b"}")
    ticket: dict[str, Any] = {}
    for f in TICKET_FIELDS:
        value = rendered[f.name]
        ticket[f.name] = parse_time(value) if f.kind == "time" and value is not None else value
    ticket["generated_timestamp"] = generated_timestamp
    ticket["deleted_at"] = deleted_at
    return ticket


def _split(table: str, record: dict[str, Any]) -> tuple[list[Any], str]:
    values, data = split_record(table, record)
    return [_text(value) for value in values], data


_LOCK_ACCOUNT = "SELECT id FROM accounts WHERE id = %s FOR UPDATE"
_SEQUENCES = "SELECT name, value FROM sequences WHERE account_id = %s"
_SAVE_SEQUENCES = "INSERT INTO sequences (account_id, name, value) VALUES "
_SAVE_SEQUENCES_CONFLICT = " ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value"
_TICKET_COLUMNS = ticket_columns()
_UPSERT_TICKET = upsert_sql("tickets", _TICKET_COLUMNS, POSTGRES)
_INSERT_AUDIT = insert_sql("audits", AUDIT_COLUMNS, POSTGRES)
_INSERT_CREDENTIAL = insert_sql("credentials", CREDENTIAL_COLUMNS, POSTGRES)
# DO NOTHING: seeding again with the same random seed reuses the same customers.
_INSERT_USER = insert_sql("users", RECORD_COLUMNS["users"], POSTGRES) + " ON CONFLICT DO NOTHING RETURNING id"


# -- seeding --------------------------------------------------------------------------------------------
class _PostgresLoader:
    """``TicketLoader``: each call one transaction holding the account's write lock; rows go in with COPY."""

    flag: Callable[[bool], Any] = bool  # COPY writes a bool as a boolean

    def __init__(self, store: PostgresStore, account_id: int) -> None:
        self.store, self.account_id = store, account_id

    def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        with self.store._locked(self.account_id) as conn, conn.cursor() as cur:
            numbers = Sequences(cur, self.account_id, POSTGRES)
            starts = {name: numbers.take(name, count) for name, count in counts.items()}
            numbers.save()
        return starts

    def insert(self, tickets: Sequence[Sequence[Any]], audits: Sequence[Sequence[Any]]) -> None:
        with self.store._locked(self.account_id) as conn, conn.cursor() as cur:
            _copy(cur, "tickets", _TICKET_COLUMNS, (tuple(map(_text, row)) for row in tickets))
            _copy(cur, "audits", AUDIT_COLUMNS, audits)


# -- the writer -----------------------------------------------------------------------------------------
class _PostgresWriter(BaseWriter[_Conn]):
    """``Writer`` inside the account's locked transaction."""

    dialect = POSTGRES

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT body, generated_timestamp, deleted_at FROM tickets WHERE account_id = %s AND id = %s",
            (self.account_id, ticket_id),
        ).fetchone()
        return _ticket_from_body(*row) if row else None

    def put_ticket(self, ticket: dict[str, Any]) -> None:
        self.conn.execute(_UPSERT_TICKET, _row_values(self.account_id, ticket))

    def add_audit(self, audit: dict[str, Any]) -> None:
        self.conn.execute(_INSERT_AUDIT, audit_values(self.account_id, audit))

    def get_record(self, table: str, record_id: int) -> dict[str, Any] | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(f"SELECT * FROM {table} WHERE account_id = %s AND id = %s",
                              (self.account_id, record_id)).fetchone()
        return record_from_row(row) if row else None

    def put_record(self, table: str, record: dict[str, Any]) -> None:
        """Insert or update; a taken unique value → DuplicateRecord. A savepoint keeps the transaction usable
        after the violation, as it stays usable in SQLite."""
        values, data = _split(table, record)
        statement = upsert_sql(table, (*RECORD_COLUMNS[table], "data"), POSTGRES)
        try:
            with self.conn.transaction():
                self.conn.execute(statement, (self.account_id, *values, data))
        except psycopg.IntegrityError as error:
            raise DuplicateRecord(str(error)) from None

    def add_users(self, users: Iterable[dict[str, Any]], token_key: bytes) -> list[User]:
        """Insert users (skipping taken ids and emails, so seeding again reuses its customers) and their
        credentials (tokens hashed under ``token_key``): two pipelined batches, not a round trip per user."""
        specs = [{**spec, "id": spec.get("id") or self.next_id("users"), "name": _text(spec["name"]),
                  "email": _text(spec["email"].lower())} for spec in users]
        inserted = self._insert_users(specs)
        created = [s for s in specs if s["id"] in inserted]
        credentials = credential_rows(self.account_id, created, token_key)
        if credentials:
            with self.conn.cursor() as cur:
                cur.executemany(_INSERT_CREDENTIAL, credentials)
        return [User(s["id"], self.account_id, s["name"], s["email"], s["role"], s.get("organization_id"))
                for s in created]

    def _insert_users(self, specs: list[dict[str, Any]]) -> set[int]:
        """The ids actually inserted (``ON CONFLICT DO NOTHING`` returns no row for a skipped one)."""
        if not specs:
            return set()
        rows = [(self.account_id, s["id"], s["name"], s["email"], s["role"], s.get("organization_id"),
                 int(s.get("created_at", 0)), int(s.get("created_at", 0))) for s in specs]
        inserted: set[int] = set()
        with self.conn.cursor() as cur:
            cur.executemany(_INSERT_USER, rows, returning=True)
            while True:
                inserted.update(r[0] for r in cur.fetchall())
                if not cur.nextset():
                    break
        return inserted


class _PipelinedWriter(_PostgresWriter):
    """The writer of ``write``: ids numbered without a round trip inside the account's lock.

    The account's sequences are read in the round trip that takes the lock (their query goes out with the lock
    and the write's first read), ids are counted from them in memory, and the sequences are written back with
    the write's last statements, just before the commit. This is exact because every change to an account's
    sequences holds the account's lock (writers, the seeding loader, reset, deleting the account): from the lock
    to the commit, nobody else numbers. The ids are those ``BaseWriter.next_ids`` would give, in the same order,
    and a write that rolls back gives its ids back as before."""

    def __init__(self, conn: _Conn, account_id: int) -> None:
        super().__init__(conn, account_id)
        self._pending = conn.execute(_SEQUENCES, (account_id,))  # read with the first result the write needs
        self._values: dict[str, int] | None = None
        self._taken: set[str] = set()

    def next_ids(self, counts: Mapping[str, int]) -> dict[str, int]:
        values = self._sequences()
        first: dict[str, int] = {}
        for name, count in counts.items():
            if count <= 0:  # a count of 0 reserves none (as ``BaseWriter.next_ids``)
                first[name] = 0
                continue
            first[name] = values.get(name, 0) + 1
            values[name] = first[name] + count - 1
            self._taken.add(name)
        return first

    def _sequences(self) -> dict[str, int]:
        if self._values is None:
            self._values = {str(name): int(value) for name, value in self._pending.fetchall()}
        return self._values

    def save_sequences(self) -> None:
        """Queue the new values of the sequences this write took ids from (no result read: no round trip)."""
        if not self._taken:
            return
        taken = sorted(self._taken)
        values = self._sequences()
        self.conn.execute(_SAVE_SEQUENCES + ", ".join(["(%s, %s, %s)"] * len(taken)) + _SAVE_SEQUENCES_CONFLICT,
                          [value for name in taken for value in (self.account_id, name, values[name])])


# -- the store ------------------------------------------------------------------------------------------
class PostgresStore(Queries):
    """PostgreSQL implementation of ``Store``. Safe to share between threads and between processes."""

    dialect = POSTGRES

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.dsn, self.schema = split_url(url)
        self._local = threading.local()
        # The schema first, on a connection of its own: an unreachable server fails here, with libpq's message.
        try:
            with psycopg.connect(self.dsn, autocommit=False, connect_timeout=10) as conn:
                self._search_path(conn)
                self._migrate(conn)
            self._pool_size = pool_size
            self._pool_lock = threading.Lock()
            self._pool = self._open_pool()
        except (psycopg.OperationalError, PoolTimeout) as error:
            reason = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
            raise StoreUnavailable(f"cannot use {redact_secrets(url)}: {redact_secrets(reason)}") from None

    # -- connections and transactions -------------------------------------------------------------
    def _open_pool(self) -> ConnectionPool[_Conn]:
        pool: ConnectionPool[_Conn] = ConnectionPool(
            self.dsn, min_size=1, max_size=self._pool_size, timeout=_POOL_WAIT, max_idle=_MAX_IDLE,
            kwargs={"autocommit": False}, configure=self._search_path, name=f"zendesk-export:{self.schema}",
            open=False)
        try:
            pool.open(wait=True, timeout=_POOL_WAIT)
        except PoolTimeout:
            pool.close()
            raise
        return pool

    def _current_pool(self) -> ConnectionPool[_Conn]:
        """The pool, opened again if the store was closed (a closed store works again when used, as SQLite's)."""
        with self._pool_lock:
            if self._pool.closed:
                self._pool = self._open_pool()
            return self._pool

    def _search_path(self, conn: _Conn) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.commit()

    def _joined(self) -> _Conn | None:
        """The connection of this thread's open transaction (a read inside a ``write``), if any."""
        joined: _Conn | None = getattr(self._local, "conn", None)
        return joined

    @contextmanager
    def _pooled(self) -> Iterator[_Conn]:
        pool = self._current_pool()
        conn = pool.getconn()
        try:
            yield conn
        finally:
            pool.putconn(conn)

    @contextmanager
    def _transaction(self) -> Iterator[_Conn]:
        """One transaction on a pooled connection, committed on success, rolled back on any error, and the
        connection given back. Nested use (a read inside a ``write``) joins the outer transaction: only the
        outermost commits or rolls back."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self._pooled() as conn:
            self._local.conn = conn
            try:
                yield conn
            except BaseException:
                if not conn.broken:
                    conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                self._local.conn = None

    @contextmanager
    def _locked(self, account_id: int) -> Iterator[_Conn]:
        """A transaction holding the account's row lock: writers of one account go one at a time, in every
        process (the lock is released at commit or rollback)."""
        with self._transaction() as conn:
            conn.execute(_LOCK_ACCOUNT, (account_id,))
            yield conn

    @contextmanager
    def _statement(self) -> Iterator[_Conn]:
        """A connection for one statement: inside a transaction of this thread (a read inside a ``write``), that
        transaction's; otherwise a pooled connection in autocommit mode, where the statement is a transaction of
        its own. One round trip: psycopg sends BEGIN, the statement and COMMIT one after the other, three round
        trips, each of which waits for the request's thread to get a core back on a busy machine."""
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self._pooled() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.broken:
                    conn.autocommit = False  # the pool's connections are transactional (``_transaction``)

    def _rows(self, query: str, args: Sequence[Any]) -> list[Any]:
        """One statement on its own (``_statement``): a read, or a single atomic upsert."""
        with self._statement() as conn:
            return conn.execute(query, args).fetchall()

    def _dicts(self, query: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        with self._statement() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, args).fetchall()

    @contextmanager
    def write(self, account_id: int) -> Iterator[_PostgresWriter]:
        """The account's write transaction in pipeline mode: a statement whose result the writer does not read
        (the lock, the sequences, an upsert, an insert, the commit) goes out with the next one that it does read,
        and ids cost no statement (``_PipelinedWriter``). A write thus waits on the database twice: the lock with
        the sequences and its first read (the ticket an update changes, the requester of a new ticket), then its
        rows with the commit. Between the two the lock is held while the request's thread gets a core back, once
        (each round trip inside the lock, on a busy machine, made every other writer of the account wait)."""
        with self._transaction() as conn, conn.pipeline():
            conn.execute(_LOCK_ACCOUNT, (account_id,))
            writer = _PipelinedWriter(conn, account_id)
            yield writer
            writer.save_sequences()
            conn.commit()

    def close(self) -> None:
        """Close the pool and every connection in it (a stopped server leaves none behind)."""
        with self._pool_lock:
            self._pool.close()

    # -- schema -----------------------------------------------------------------------------------
    def _migrate(self, conn: _Conn) -> None:
        """Create or upgrade the schema. An advisory lock per schema makes processes starting together take
        turns; each migration is recorded in ``schema_version`` in the same transaction."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"zendesk-export:{self.schema}",))
            if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                         "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
            self.token_key = prepare_token_key(conn, POSTGRES)
            if not conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone():
                self._create_demo(conn)

    def _create_demo(self, conn: _Conn) -> None:
        rows = conn.execute("INSERT INTO accounts (subdomain) VALUES (%s) RETURNING id", (DEMO["subdomain"],))
        _PostgresWriter(conn, int(rows.fetchall()[0][0])).add_users(demo_users(), self.token_key)

    # -- accounts, users, credentials ---------------------------------------------------------------
    def _insert_users(self, conn: _Conn, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        return _PostgresWriter(conn, account_id).add_users(list(users), self.token_key)

    def set_account_setting(self, account_id: int, key: str, value: Any) -> None:
        with self._locked(account_id) as conn:
            row = conn.execute("SELECT settings FROM accounts WHERE id = %s", (account_id,)).fetchone()
            settings = changed_settings(row[0] if row else None, key, value)
            conn.execute("UPDATE accounts SET settings = %s WHERE id = %s", (settings, account_id))

    def hit_rate_counters(self, account_id: int, hits: Sequence[tuple[str, int]]) -> dict[str, int]:
        """One upsert statement (atomic in PostgreSQL too); rows in bucket order so that two processes
        counting the same buckets lock them in the same order and cannot deadlock."""
        if not hits:
            return {}
        ordered = sorted(hits)
        rows = self._rows(
            hit_rate_counters_sql(POSTGRES, len(ordered)),
            [value for bucket, start in ordered for value in (account_id, bucket, start)],
        )
        return {bucket: int(count) for bucket, count in rows}

    def clear_rate_counters(self, account_id: int) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM rate_counters WHERE account_id = %s", (account_id,))

    # -- serve --workers: the journal and shared state, one short transaction each -------------------------
    def append_journal(self, account_id: int, entry: str, keep: int) -> int:
        """Committed without waiting for the WAL flush (visible to every session at once all the same): one
        flush per request would cost more than the request, and a journal entry lost in a database crash costs
        nothing."""
        with self._transaction() as conn:
            conn.execute("SET LOCAL synchronous_commit TO OFF")
            row = conn.execute(_JOURNAL["append"], (account_id, entry)).fetchone()
            seq = int(row[0]) if row else 0
            if seq % JOURNAL_TRIM_EVERY == 0:
                conn.execute(_JOURNAL["trim"], (account_id, account_id, keep))
        return seq

    def journal(self, account_id: int, limit: int) -> list[tuple[int, str]]:
        rows = self._rows(_JOURNAL["newest"], (account_id, limit))
        return [(int(seq), entry) for seq, entry in reversed(rows)]

    def clear_journal(self, account_id: int) -> None:
        with self._transaction() as conn:
            conn.execute(_JOURNAL["clear"], (account_id,))

    def change_shared_state(self, account_id: int, name: str, change: Callable[[str | None], str]) -> str:
        """The row is locked (``FOR UPDATE``) from its read to the commit: other processes changing it wait."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO shared_state (account_id, name, value) VALUES (%s, %s, '') "
                         "ON CONFLICT DO NOTHING", (account_id, name))
            row = conn.execute("SELECT value FROM shared_state WHERE account_id = %s AND name = %s FOR UPDATE",
                               (account_id, name)).fetchone()
            value = change(row[0] if row and row[0] else None)
            conn.execute("UPDATE shared_state SET value = %s WHERE account_id = %s AND name = %s",
                         (value, account_id, name))
        return value

    def rate_counters(self, account_id: int) -> dict[str, tuple[int, int]]:
        rows = self._rows("SELECT bucket, window_start, count FROM rate_counters WHERE account_id = %s", (account_id,))
        return {bucket: (int(start), int(count)) for bucket, start, count in rows}

    def _user(self, where: str, args: tuple[Any, ...]) -> User | None:
        rows = self._rows(f"SELECT id, account_id, name, email, role, organization_id FROM users WHERE {where}", args)
        return User(*rows[0]) if rows else None

    def user_by_email(self, account_id: int, email: str) -> User | None:
        if "\x00" in email:
            return None
        return self._user("account_id = %s AND email = %s", (account_id, email.lower()))

    def user(self, account_id: int, user_id: int) -> User | None:
        return self._user("account_id = %s AND id = %s", (account_id, user_id))

    def add_users(self, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        """Seeding's bulk insert of users, then ANALYZE (as ``insert_tickets``: the users feed is paged too)."""
        with self._locked(account_id) as conn:
            added = _PostgresWriter(conn, account_id).add_users(users, self.token_key)
        self._analyze("users", "credentials")
        return added

    # -- tickets --------------------------------------------------------------------------------------
    def get_ticket(self, account_id: int, ticket_id: int) -> dict[str, Any] | None:
        with self._statement() as conn:
            return _PostgresWriter(conn, account_id).get_ticket(ticket_id)

    def export_rows(
        self, account_id: int, start: int, cutoff: int, limit: int, exclude_deleted: bool
    ) -> list[ExportRow]:
        args = (account_id, start, cutoff, POSTGRES.limit(limit))
        rows = self._rows(export_rows_sql(POSTGRES, exclude_deleted), args)
        return [ExportRow(*r) for r in rows]

    def export_group(self, account_id: int, timestamp: int, exclude_deleted: bool) -> list[ExportRow]:
        return self.export_rows(account_id, timestamp, timestamp, -1, exclude_deleted)

    def insert_tickets(self, account_id: int, tickets: Iterable[dict[str, Any]]) -> int:
        """Seeding: numbered in memory, streamed with COPY in batches, each one short transaction holding the
        account's write lock (API writers get their turn in between); then ANALYZE. Without fresh statistics the
        planner takes a filled table for a nearly empty one and answers a page by reading every ticket after
        ``start_time`` and sorting them, where the (account, generated_timestamp, id) index reads one page's rows
        in order (tests/server/test_page_cost.py)."""
        with self.ticket_loader(account_id) as loader:
            return insert_batches(loader, account_id, seed_batches(tickets, _CHUNK))

    @contextmanager
    def ticket_loader(self, account_id: int, *, alone: bool = False) -> Iterator[_PostgresLoader]:
        """Seeding's loader (``insert_tickets``); ANALYZE once the load is done. ``alone`` changes nothing: COPY
        already writes each row once."""
        try:
            yield _PostgresLoader(self, account_id)
        finally:
            self._analyze("tickets", "audits")

    def _analyze(self, *tables: str) -> None:
        """Fresh planner statistics after a bulk insert (seeding): see ``insert_tickets``."""
        with self._transaction() as conn:
            conn.execute(f"ANALYZE {', '.join(tables)}")

    # -- records ----------------------------------------------------------------------------------
    def insert_records(self, account_id: int, table: str, records: Iterable[dict[str, Any]]) -> int:
        """Bulk insert (seeding); records whose id or unique name exists are kept as they are."""
        query = insert_sql(table, (*RECORD_COLUMNS[table], "data"), POSTGRES) + " ON CONFLICT DO NOTHING"
        rows = [(account_id, *values, data) for values, data in (_split(table, r) for r in records)]
        if not rows:
            return 0
        with self._transaction() as conn, conn.cursor() as cur:
            cur.executemany(query, rows)
            inserted = max(cur.rowcount, 0)
        self._analyze(table)
        return inserted



def _copy(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Stream rows of (account_id, *columns) into a table with COPY: several times faster than INSERTs for
    seeding 100k tickets."""
    with cur.copy(f"COPY {table} (account_id, {', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
