"""The embedded store: SQLite (stdlib) in WAL mode, one connection per thread.

Ticket columns derive from ``tickets.TICKET_FIELDS``; beside them each row keeps ``body``, the ticket's export
JSON rendered when it was written, so an export page is an index range scan plus a join of stored bytes.
Writers take ``BEGIN IMMEDIATE`` so read-modify-write of a ticket is serialised, also across processes sharing
the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import orjson

from zendesk_export.server.store import DEMO, Account, ExportRow, User, hash_secret
from zendesk_export.server.store._sqlite_records import RecordsMixin, WriterRecordsMixin
from zendesk_export.tickets import TICKET_FIELDS, render_body

__all__ = ["SQLiteStore", "MIGRATIONS", "ticket_columns", "row_values", "row_to_ticket"]

_SQL_TYPES = {"int": "INTEGER", "time": "INTEGER", "bool": "INTEGER", "str": "TEXT", "date": "TEXT", "json": "TEXT"}
# Stored beside the documented fields: the export key, soft-delete time, the pre-rendered JSON.
_EXTRA_COLUMNS = (("generated_timestamp", "INTEGER NOT NULL"), ("deleted_at", "INTEGER"), ("body", "BLOB NOT NULL"))


def ticket_columns() -> list[str]:
    return [f.name for f in TICKET_FIELDS] + [name for name, _ in _EXTRA_COLUMNS]


def _tickets_ddl() -> str:
    cols = [f"{f.name} {_SQL_TYPES[f.kind]}" for f in TICKET_FIELDS if f.name != "id"]
    cols += [f"{name} {decl}" for name, decl in _EXTRA_COLUMNS]
    return (
        "CREATE TABLE tickets (account_id INTEGER NOT NULL, id INTEGER NOT NULL, "
        + ", ".join(cols)
        + ", PRIMARY KEY (account_id, id));"
        "CREATE INDEX tickets_export ON tickets (account_id, generated_timestamp, id);"
    )


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, subdomain TEXT NOT NULL UNIQUE, settings TEXT NOT NULL DEFAULT '{}');
    CREATE TABLE users (
        account_id INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
        role TEXT NOT NULL, organization_id INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (account_id, id), UNIQUE (account_id, email));
    CREATE TABLE credentials (
        account_id INTEGER NOT NULL, user_id INTEGER NOT NULL, kind TEXT NOT NULL, secret_hash TEXT NOT NULL);
    CREATE INDEX credentials_user ON credentials (user_id, kind);
    CREATE INDEX credentials_hash ON credentials (kind, secret_hash);
    CREATE TABLE sequences (account_id INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
        PRIMARY KEY (account_id, name));
    CREATE TABLE audits (
        account_id INTEGER NOT NULL, id INTEGER NOT NULL, ticket_id INTEGER NOT NULL, created_at INTEGER NOT NULL,
        author_id INTEGER, data TEXT NOT NULL, PRIMARY KEY (account_id, id));
    CREATE INDEX audits_ticket ON audits (account_id, ticket_id);
    CREATE INDEX audits_time ON audits (account_id, created_at, id);
    """
    + _tickets_ddl(),
    # Issue 3: users/organizations/groups as exportable records, bulk job statuses, scrub bookkeeping.
    """
    ALTER TABLE users ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX users_changes ON users (account_id, updated_at, id);
    CREATE TABLE organizations (
        account_id INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, deleted_at INTEGER, data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (account_id, id), UNIQUE (account_id, name));
    CREATE INDEX organizations_changes ON organizations (account_id, updated_at, id);
    CREATE TABLE groups (
        account_id INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, deleted_at INTEGER, data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (account_id, id));
    CREATE TABLE job_statuses (
        account_id INTEGER NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, reads INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, id));
    CREATE INDEX tickets_scrub_due ON tickets (account_id, deleted_at)
        WHERE deleted_at IS NOT NULL AND description IS NOT 'X'
    """,
    # Issue 4: rate-limit counters, one row per (account, bucket) holding the current window's count.
    """
    CREATE TABLE rate_counters (
        account_id INTEGER NOT NULL, bucket TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (account_id, bucket))
    """,
)


def row_values(account_id: int, ticket: dict[str, Any]) -> tuple[Any, ...]:
    """A ticket dict → the tickets row, in ``ticket_columns()`` order after account_id."""
    values: list[Any] = [account_id]
    for f in TICKET_FIELDS:
        value = ticket.get(f.name, f.default)
        if f.kind == "json":
            value = orjson.dumps(list(value) if isinstance(value, tuple) else value).decode()
        elif f.kind == "bool":
            value = int(bool(value))
        values.append(value)
    values += [ticket["generated_timestamp"], ticket.get("deleted_at"), render_body(ticket)]
    return tuple(values)


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


_INSERT_TICKET = (
    "INSERT OR REPLACE INTO tickets (account_id, " + ", ".join(ticket_columns()) + ") VALUES ("
    + ", ".join("?" * (len(ticket_columns()) + 1)) + ")"
)


_INSERT_AUDIT = (
    "INSERT INTO audits (account_id, id, ticket_id, created_at, author_id, data) VALUES (?, ?, ?, ?, ?, ?)"
)


class _Sequences:
    """Id sequences read once and written back once: numbering a bulk insert without a query per id."""

    def __init__(self, conn: sqlite3.Connection, account_id: int) -> None:
        self.conn, self.account_id = conn, account_id
        rows = conn.execute("SELECT name, value FROM sequences WHERE account_id = ?", (account_id,))
        self.values: dict[str, int] = {r[0]: r[1] for r in rows.fetchall()}
        self.used: set[str] = set()

    def take(self, name: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive ids; returns the first."""
        first = self.values.get(name, 0) + 1
        self.values[name] = first + count - 1
        self.used.add(name)
        return first

    def save(self) -> None:
        self.conn.executemany(
            "INSERT INTO sequences (account_id, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value",
            [(self.account_id, name, self.values[name]) for name in sorted(self.used)],
        )


def _audit_row(account_id: int, ticket_id: int, audit: dict[str, Any], numbers: _Sequences
               ) -> tuple[Any, ...]:
    """Number a seeded audit and its events as the Tickets API would, → an audits row."""
    audit.update(id=numbers.take("audits"), ticket_id=ticket_id)
    first = numbers.take("events", len(audit["events"]))
    for number, event in enumerate(audit["events"], start=first):
        event["id"] = number
        if event["type"] == "Comment":
            event["audit_id"] = audit["id"]
    created = audit.pop("created_at_epoch")
    return (account_id, audit["id"], ticket_id, created, audit.get("author_id"), orjson.dumps(audit).decode())


class _SQLiteWriter(WriterRecordsMixin):
    def __init__(self, conn: sqlite3.Connection, account_id: int) -> None:
        self.conn = conn
        self.account_id = account_id

    def next_id(self, sequence: str) -> int:
        row = self.conn.execute(
            "INSERT INTO sequences (account_id, name, value) VALUES (?, ?, 1) "
            "ON CONFLICT (account_id, name) DO UPDATE SET value = value + 1 RETURNING value",
            (self.account_id, sequence),
        ).fetchone()
        return int(row[0])

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM tickets WHERE account_id = ? AND id = ?", (self.account_id, ticket_id)
        ).fetchone()
        return row_to_ticket(row) if row else None

    def put_ticket(self, ticket: dict[str, Any]) -> None:
        self.conn.execute(_INSERT_TICKET, row_values(self.account_id, ticket))

    def add_audit(self, audit: dict[str, Any]) -> None:
        created = audit["created_at_epoch"]
        data = orjson.dumps({k: v for k, v in audit.items() if k != "created_at_epoch"}).decode()
        self.conn.execute(
            "INSERT INTO audits (account_id, id, ticket_id, created_at, author_id, data) VALUES (?, ?, ?, ?, ?, ?)",
            (self.account_id, audit["id"], audit["ticket_id"], created, audit.get("author_id"), data),
        )


class SQLiteStore(RecordsMixin):
    """SQLite implementation of ``Store``. Safe to share between threads and between processes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._migrate()

    # -- connections and transactions -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
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

    @contextmanager
    def write(self, account_id: int) -> Iterator[_SQLiteWriter]:
        with self._transaction() as conn:
            yield _SQLiteWriter(conn, account_id)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- schema -----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            if conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0:
                self._create_demo(conn)

    def _create_demo(self, conn: sqlite3.Connection) -> None:
        cur = conn.execute("INSERT INTO accounts (subdomain) VALUES (?)", (DEMO["subdomain"],))
        account_id = int(cur.lastrowid or 0)
        self._insert_users(conn, account_id, DEMO["users"])

    def _insert_users(self, conn: sqlite3.Connection, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        writer = _SQLiteWriter(conn, account_id)
        created = []
        for spec in users:
            user_id = spec.get("id") or writer.next_id("users")
            now = int(spec.get("created_at", 0))
            # OR IGNORE: seeding again with the same random seed reuses the same customers.
            inserted = conn.execute(
                "INSERT OR IGNORE INTO users (account_id, id, name, email, role, organization_id, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (account_id, user_id, spec["name"], spec["email"].lower(), spec["role"],
                 spec.get("organization_id"), now, now),
            )
            if not inserted.rowcount:
                continue
            for kind in ("api_token", "password", "oauth_token"):
                if spec.get(kind):
                    conn.execute(
                        "INSERT INTO credentials (account_id, user_id, kind, secret_hash) VALUES (?, ?, ?, ?)",
                        (account_id, user_id, kind, hash_secret(spec[kind], kind)),
                    )
            created.append(User(user_id, account_id, spec["name"], spec["email"].lower(), spec["role"],
                                spec.get("organization_id")))
        return created

    # -- accounts, users, credentials ---------------------------------------------------------------
    def account(self, subdomain: str | None) -> Account | None:
        if subdomain is None:
            row = self._conn().execute("SELECT * FROM accounts ORDER BY id LIMIT 1").fetchone()
        else:
            row = self._conn().execute("SELECT * FROM accounts WHERE subdomain = ?", (subdomain,)).fetchone()
        return Account(row["id"], row["subdomain"], orjson.loads(row["settings"])) if row else None

    def set_account_setting(self, account_id: int, key: str, value: Any) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT settings FROM accounts WHERE id = ?", (account_id,)).fetchone()
            settings = orjson.loads(row[0]) if row else {}
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
            conn.execute("UPDATE accounts SET settings = ? WHERE id = ?", (orjson.dumps(settings).decode(), account_id))

    # -- rate-limit counters: one autocommitted statement per request, see server/ratelimit.py ----------
    def hit_rate_counters(self, account_id: int, hits: Sequence[tuple[str, int]]) -> dict[str, int]:
        if not hits:
            return {}
        rows = self._conn().execute(
            "INSERT INTO rate_counters (account_id, bucket, window_start, count) VALUES "
            + ", ".join(["(?, ?, ?, 1)"] * len(hits))
            + " ON CONFLICT (account_id, bucket) DO UPDATE SET count = CASE WHEN rate_counters.window_start = "
            "excluded.window_start THEN rate_counters.count + 1 ELSE 1 END, window_start = excluded.window_start "
            "RETURNING bucket, count",
            [value for bucket, start in hits for value in (account_id, bucket, start)],
        ).fetchall()
        return {bucket: count for bucket, count in rows}

    def clear_rate_counters(self, account_id: int) -> None:
        self._conn().execute("DELETE FROM rate_counters WHERE account_id = ?", (account_id,))

    def _user(self, where: str, args: tuple[Any, ...]) -> User | None:
        row = self._conn().execute(
            f"SELECT id, account_id, name, email, role, organization_id FROM users WHERE {where}", args
        ).fetchone()
        return User(*row) if row else None

    def user_by_email(self, account_id: int, email: str) -> User | None:
        return self._user("account_id = ? AND email = ?", (account_id, email.lower()))

    def user(self, account_id: int, user_id: int) -> User | None:
        return self._user("account_id = ? AND id = ?", (account_id, user_id))

    def secret_hashes(self, user_id: int, kind: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT secret_hash FROM credentials WHERE user_id = ? AND kind = ?", (user_id, kind)
        ).fetchall()
        return [r[0] for r in rows]

    def user_by_oauth_token(self, account_id: int, token: str) -> User | None:
        row = self._conn().execute(
            "SELECT user_id FROM credentials WHERE kind = 'oauth_token' AND secret_hash = ? AND account_id = ?",
            (hash_secret(token, "oauth_token"), account_id),
        ).fetchone()
        return self.user(account_id, row[0]) if row else None

    def demo_credentials_active(self) -> bool:
        hashes = {hash_secret(u[k], k) for u in DEMO["users"] for k in ("api_token", "oauth_token") if u.get(k)}
        rows = self._conn().execute("SELECT secret_hash FROM credentials").fetchall()
        return any(r[0] in hashes for r in rows)

    def add_users(self, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]:
        with self._transaction() as conn:
            return self._insert_users(conn, account_id, users)

    # -- tickets --------------------------------------------------------------------------------------
    def get_ticket(self, account_id: int, ticket_id: int) -> dict[str, Any] | None:
        return _SQLiteWriter(self._conn(), account_id).get_ticket(ticket_id)

    def export_rows(
        self, account_id: int, start: int, cutoff: int, limit: int, exclude_deleted: bool
    ) -> list[ExportRow]:
        deleted = " AND status != 'deleted'" if exclude_deleted else ""
        rows = self._conn().execute(
            "SELECT id, generated_timestamp, body FROM tickets WHERE account_id = ? "
            f"AND generated_timestamp >= ? AND generated_timestamp <= ?{deleted} "
            "ORDER BY generated_timestamp, id LIMIT ?",
            (account_id, start, cutoff, limit),
        ).fetchall()
        return [ExportRow(*r) for r in rows]

    def export_group(self, account_id: int, timestamp: int, exclude_deleted: bool) -> list[ExportRow]:
        return self.export_rows(account_id, timestamp, timestamp, -1, exclude_deleted)

    def insert_tickets(self, account_id: int, tickets: Iterable[dict[str, Any]]) -> int:
        with self._transaction() as conn:
            numbers = _Sequences(conn, account_id)
            iterator, count = iter(tickets), 0
            while chunk := list(islice(iterator, 2000)):  # bounded memory, few executemany calls
                audits: list[tuple[Any, ...]] = []
                for ticket in chunk:
                    ticket["id"] = numbers.take("tickets")
                    seeded = ticket.pop("audits", ())
                    audits += [_audit_row(account_id, ticket["id"], a, numbers) for a in seeded]
                conn.executemany(_INSERT_TICKET, [row_values(account_id, t) for t in chunk])
                conn.executemany(_INSERT_AUDIT, audits)
                count += len(chunk)
            numbers.save()
            return count

    def reset(self, account_id: int) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM tickets WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM audits WHERE account_id = ?", (account_id,))
            for table in ("organizations", "groups", "job_statuses"):
                conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            conn.execute("DELETE FROM sequences WHERE account_id = ? AND name != 'users'", (account_id,))
            conn.execute(
                "DELETE FROM users WHERE account_id = ? AND id NOT IN (SELECT user_id FROM credentials)", (account_id,)
            )
