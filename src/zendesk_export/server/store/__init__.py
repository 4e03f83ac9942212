"""Where the server keeps accounts, users, credentials, tickets and audits.

``Store`` is the protocol both backends implement (``sqlite.py``, ``postgres.py``). Business rules live in
``model``; a store only persists and queries. Writes happen inside ``store.write(account_id)``,
one transaction that serialises concurrent writers of an account, so a read-modify-write of a ticket is atomic.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson

from zendesk_export.clock import ClockState

__all__ = [
    "Account",
    "User",
    "ExportRow",
    "record_from_values",
    "DuplicateRecord",
    "StoreUnavailable",
    "Store",
    "TicketLoader",
    "Writer",
    "DEMO",
    "demo_users",
    "hash_password",
    "hash_secret",
    "keyed_token_hash",
    "rehash_legacy_token",
    "verify_password",
    "verify_secret",
    "open_store",
]


@dataclass(frozen=True)
class Account:
    """An account as stored: its clock rides along, so a request reads it with the account, at no extra query.
    ``is_default``: the account a bare host (an IP, ``localhost``) reaches, the oldest one."""

    id: int
    subdomain: str
    settings: dict[str, Any] = field(default_factory=dict)
    clock: ClockState = ClockState()
    is_default: bool = False


@dataclass(frozen=True)
class User:
    id: int
    account_id: int
    name: str
    email: str
    role: str  # "admin", "agent" or "end-user"
    organization_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ExportRow(NamedTuple):
    id: int
    generated_timestamp: int
    body: bytes
    extra: tuple[Any, ...] = ()  # the extra columns a feed asked for with each row (``Store.changes``)


def record_from_values(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A stored record row (``Store.record_rows``) → the record: its `data` attributes overlaid with its columns."""
    record = dict(zip(columns, values, strict=True))
    data = orjson.loads(record.pop("data") or "{}")
    return {**data, **record}


class DuplicateRecord(Exception):
    """A write that would take a unique value (a user's email, an organization's name) already in use."""


class StoreUnavailable(Exception):
    """The database cannot be used: unreachable, unopenable, not a database, or another application's. The
    message is one line, fit for the command's error output."""


# The demo account every new database starts with (README): documented, loopback only.
DEMO: dict[str, Any] = {
    "subdomain": "example",
    "users": [
        {"name": "Example Admin", "email": "admin@example.com", "role": "admin",
         "api_token": "demo-token", "password": "demo-password", "oauth_token": "demo-oauth-token"},
        {"name": "Example Agent", "email": "agent@example.com", "role": "agent", "api_token": "agent-token"},
    ],
}


DEMO_CREATED_AT = 1577836800  # 2020-01-01T00:00:00Z


def demo_users() -> list[dict[str, Any]]:
    """The demo account's users, dated 2020-01-01: a fixed moment keeps every export of a seeded database
    byte-identical, and unlike 1970 it lies after the usual start dates of incremental syncs (a connector
    starting in 2000 exports them, as it would a real account's first users)."""
    return [{**user, "created_at": DEMO_CREATED_AT} for user in DEMO["users"]]


class Writer(Protocol):
    """Operations inside one write transaction of one account."""

    def next_id(self, sequence: str) -> int: ...

    def next_ids(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve ``counts[name]`` consecutive ids of each sequence, in one statement; the first of each."""
        ...

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None: ...

    def put_ticket(self, ticket: dict[str, Any]) -> None:
        """Insert or replace; ``ticket`` carries every field plus generated_timestamp and deleted_at."""
        ...

    def add_audit(self, audit: dict[str, Any]) -> None: ...

    def get_record(self, table: str, record_id: int) -> dict[str, Any] | None:
        """A users/organizations/groups record: its columns and extra attributes in one dict."""
        ...

    def put_record(self, table: str, record: dict[str, Any]) -> None:
        """Insert or update a record; raises DuplicateRecord on a taken unique value."""
        ...


class TicketLoader(Protocol):
    """Writes seeded tickets in batches, each call one short transaction (other writers get their turn in
    between): ``reserve`` takes a batch's ids, ``insert`` writes the rows numbered with them. ``flag`` is how
    its tickets rows hold a flag (``sql.row_values``' ``boolean``)."""

    flag: Callable[[bool], Any]

    def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        """Take ``counts[name]`` consecutive ids of each sequence (tickets, audits, events); returns the first
        id of each. Ids reserved are never handed out again, even if their rows are never written."""
        ...

    def insert(self, tickets: Sequence[Sequence[Any]], audits: Sequence[Sequence[Any]]) -> None:
        """Write tickets rows (``sql.row_values`` with ``flag``) and audits rows (``sql.audit_row``) of reserved ids."""
        ...


class Store(Protocol):
    def account(self, subdomain: str | None) -> Account | None:
        """The account of that subdomain; None → the default account."""
        ...

    def set_account_setting(self, account_id: int, key: str, value: Any) -> None:
        """Set one key of ``Account.settings`` (``None`` removes it), atomically."""
        ...

    def accounts(self) -> list[Account]:
        """Every account, oldest first (the first is the default one)."""
        ...

    def create_account(self, subdomain: str, users: Sequence[dict[str, Any]]) -> Account:
        """A new account with its first users (specs as in ``DEMO``), in one transaction; DuplicateRecord if the
        subdomain is taken. Account ids are never reused, so nothing kept of a deleted account (a cursor, a
        journal) can reach a new one."""
        ...

    def delete_account(self, account_id: int) -> None:
        """The account and every row of every table that belongs to it, in one transaction."""
        ...

    def change_clock(self, account_id: int, change: Callable[[ClockState], ClockState]) -> ClockState:
        """Apply one operation to the account's stored clock, atomically (across processes); the new state."""
        ...

    def ticket_count(self, account_id: int) -> int: ...

    def hit_rate_counters(self, account_id: int, hits: Sequence[tuple[str, int]]) -> dict[str, int]:
        """Count one request in each ``(bucket, window_start)`` and return each bucket's count in that window
        (a bucket whose stored window differs starts again at 1). One atomic statement: correct across threads
        and processes sharing the database."""
        ...

    def clear_rate_counters(self, account_id: int) -> None: ...

    def rate_counters(self, account_id: int) -> dict[str, tuple[int, int]]:
        """Each bucket's stored ``(window_start, count)``, read without counting (for watching, not limiting)."""
        ...

    def append_journal(self, account_id: int, entry: str, keep: int) -> int:
        """Append one request journal entry (JSON) of the account, keeping about its ``keep`` newest; the
        entry's number, increasing in arrival order across every process sharing the database."""
        ...

    def journal(self, account_id: int, limit: int) -> list[tuple[int, str]]:
        """The account's ``limit`` newest journal entries, oldest first, each with its number."""
        ...

    def clear_journal(self, account_id: int) -> None: ...

    def change_shared_state(self, account_id: int, name: str, change: Callable[[str | None], str]) -> str:
        """Replace the account's state ``name`` (None: never set) by ``change`` of it, atomically across threads
        and processes; the new value. ``change`` runs inside the lock: it must be short and touch nothing else."""
        ...

    def user_by_email(self, account_id: int, email: str) -> User | None: ...

    def user(self, account_id: int, user_id: int) -> User | None: ...

    def secret_hashes(self, account_id: int, user_id: int, kind: str) -> list[str]:
        """Stored hashes of one account's user's credentials of one kind: api_token, password (user ids restart
        at 1 in every account, so the account is part of the key)."""
        ...

    def user_by_oauth_token(self, account_id: int, token: str) -> User | None: ...

    def token_hash(self, token: str) -> str:
        """An API or OAuth token's hash as this database stores it (keyed by the database's own secret)."""
        ...

    def demo_credentials_active(self) -> bool:
        """Whether a published demo credential still logs in: a demo token anywhere, or the demo password of a
        demo email in any account."""
        ...

    def write(self, account_id: int) -> AbstractContextManager[Writer]: ...

    def get_ticket(self, account_id: int, ticket_id: int) -> dict[str, Any] | None: ...

    def export_rows(
        self, account_id: int, start: int, cutoff: int, limit: int, exclude_deleted: bool
    ) -> list[ExportRow]:
        """Tickets with start <= generated_timestamp <= cutoff in (timestamp, id) order, at most ``limit``."""
        ...

    def export_group(self, account_id: int, timestamp: int, exclude_deleted: bool) -> list[ExportRow]:
        """Every ticket whose generated_timestamp is exactly ``timestamp``, by id."""
        ...

    def insert_tickets(self, account_id: int, tickets: Iterable[dict[str, Any]]) -> int:
        """Bulk insert of new tickets (seeding) in batches, each one short transaction; the store numbers them
        (sets each ticket's ``id``). A ticket may carry ``audits`` (audit dicts with ``created_at_epoch`` and
        events, no ids, or ``sql.RenderedAudit``): they are stored with the ticket, numbered like API-written
        audits; and ``problem_ref``, the position in this insert of an earlier problem ticket with incidents,
        which becomes its ``problem_id``. Returns the count."""
        ...

    def ticket_loader(self, account_id: int, *, alone: bool = False) -> AbstractContextManager[TicketLoader]:
        """Seeding's bulk insert of tickets numbered and rendered elsewhere (``model.seed`` does it in another
        process); ``insert_tickets`` runs on it too. Leaving it finishes the load (indexes, statistics).
        ``alone``: nothing else uses the database meanwhile (``zendesk-export seed``, not a server), so a load
        into a new one may skip what only concurrent readers need."""
        ...

    def add_users(self, account_id: int, users: Iterable[dict[str, Any]]) -> list[User]: ...

    # -- the export family (issue 3) ----------------------------------------------------------------
    def changes(self, account_id: int, kind: str, after: tuple[int, int], cutoff: int, limit: int,
                exclude_deleted: bool = False, extra: Sequence[str] = ()) -> list[ExportRow]:
        """A feed (tickets, audits, users, organizations) after position (key, id), key <= cutoff, in
        (key, id) order, at most ``limit`` (-1: all). Bodies: stored ticket JSON, audit JSON, or the record as JSON.
        ``extra``: tickets columns read with each row (into ``ExportRow.extra``), so that the page's
        sideloads need not read the rows again."""
        ...

    def records_by_id(self, account_id: int, table: str, ids: Iterable[int]) -> list[dict[str, Any]]: ...

    def record_rows(self, account_id: int, table: str, ids: Iterable[int]
                    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The column names and the stored rows of the records among ``ids``, by id: equal rows, equal records
        (``record_from_values``)."""
        ...

    def list_records(self, account_id: int, table: str, offset: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int]: ...

    def insert_records(self, account_id: int, table: str, records: Iterable[dict[str, Any]]) -> int: ...

    def tickets_by_id(self, account_id: int, ids: Sequence[int]) -> list[ExportRow]: ...

    # -- declared resources (issue 9): ``table`` "records" holds every ``kind``; users, groups and
    # organizations are paged from their own tables (``kind`` None) -------------------------------------
    def resource_page(self, account_id: int, table: str, kind: str | None, *, after: int | None = None,
                      before: int | None = None, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Up to ``limit`` objects in id order: after ``after``, the last ones before ``before``, or from
        ``offset``."""
        ...

    def resource_count(self, account_id: int, table: str, kind: str | None) -> int: ...

    def resources_by_id(self, account_id: int, kind: str, ids: Iterable[int]) -> list[dict[str, Any]]: ...

    def put_resources(self, account_id: int, kind: str, objects: Iterable[dict[str, Any]]) -> int:
        """Insert or replace objects (each with ``id``, ``created_at_epoch``, ``updated_at_epoch``)."""
        ...

    def create_resource(self, account_id: int, kind: str, build: Callable[[int], dict[str, Any]]
                        ) -> dict[str, Any]:
        """A new object with the next id of its kind, made by ``build(id)``, stored atomically."""
        ...

    def delete_resource(self, account_id: int, kind: str, object_id: int) -> bool: ...

    def tag_counts(self, account_id: int) -> dict[str, int]:
        """Each tag of the account's live tickets → how many carry it."""
        ...

    def comment_counts(self, account_id: int, ticket_ids: Sequence[int]) -> dict[int, int]: ...

    def put_job(self, account_id: int, job_id: str, data: dict[str, Any]) -> None: ...

    def read_job(self, account_id: int, job_id: str) -> tuple[dict[str, Any], int] | None:
        """The job and its read count including this read (job statuses progress on reads)."""
        ...

    def scrub_due(self, account_id: int, deleted_before: int, limit: int = 1000) -> list[int]: ...

    # -- ticket data ----------------------------------------------------------------------------------
    def audits_of_tickets(self, account_id: int, ticket_ids: Sequence[int]) -> list[ExportRow]:
        """Every audit of the given tickets, (id, created_at, audit JSON), by ticket, then in (created_at, id)
        order."""
        ...

    def select_page(self, account_id: int, table: str, where: Sequence[tuple[str, str, Any]], order: tuple[str, bool],
                    after: tuple[Any, ...] | None = None, before: tuple[Any, ...] | None = None,
                    offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Rows of a table matching ``where`` ((column, operator, value) triples), in (order column, id) order,
        after/before a (key, id) position or at an offset (see ``sql.Queries.select_page``)."""
        ...

    def count_where(self, account_id: int, table: str, where: Sequence[tuple[str, str, Any]]) -> int: ...

    def reset(self, account_id: int) -> None:
        """Delete the account's tickets, audits, organizations, groups, job statuses and the users without
        credentials (seeded ones), with their id sequences; keep the users with credentials."""
        ...

    def close(self) -> None: ...


_PBKDF2_ROUNDS = 100_000


def hash_password(secret: str) -> str:
    """Passwords are low-entropy: PBKDF2-SHA256 with a random salt per password."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2${salt.hex()}${digest.hex()}"


def verify_password(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the password of a ``hash_password`` hash; constant-time comparison. Costs one PBKDF2
    whatever ``stored`` holds, so a malformed or dummy hash costs what a real one does."""
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        salt = b""
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, _PBKDF2_ROUNDS)
    return scheme == "pbkdf2" and hmac.compare_digest(digest.hex(), digest_hex)


def keyed_token_hash(key: bytes, token: str) -> str:
    """API and OAuth tokens are long random strings, looked up on every request: HMAC-SHA256 under the
    database's own secret ``key`` (stored apart from the credentials table), deterministic so that a lookup by
    token is one indexed equality. The HMAC is taken over the token's SHA-256, which lets a database written
    before keyed hashes (unsalted ``sha256$…``) be upgraded in place: see ``rehash_legacy_token``."""
    return _keyed(key, hashlib.sha256(token.encode()).digest())


def rehash_legacy_token(key: bytes, stored: str) -> str | None:
    """The keyed hash of a token stored by an earlier version as plain ``sha256$HEX``; None for any other form."""
    scheme, _, digest_hex = stored.partition("$")
    if scheme != "sha256":
        return None
    return _keyed(key, bytes.fromhex(digest_hex))


def _keyed(key: bytes, token_digest: bytes) -> str:
    return "hmac-sha256$" + hmac.new(key, token_digest, hashlib.sha256).hexdigest()


def hash_secret(secret: str, kind: str, key: bytes) -> str:
    """A credential as stored: a salted PBKDF2 for a password, a keyed hash for an API or OAuth token."""
    return hash_password(secret) if kind == "password" else keyed_token_hash(key, secret)


def verify_secret(secret: str, stored: str, key: bytes) -> bool:
    """Whether ``secret`` matches a stored credential of either form; constant-time comparison."""
    if stored.startswith("pbkdf2$"):
        return verify_password(secret, stored)
    return hmac.compare_digest(keyed_token_hash(key, secret), stored)


def open_store(url: str) -> Store:
    """A store from a database URL: a path or ``sqlite:///PATH`` (SQLite); ``postgresql://…`` (PostgreSQL)."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from zendesk_export.server.store.postgres import PostgresStore
        except ImportError as error:  # the extra is not installed: say which one
            raise StoreUnavailable(str(error)) from None
        return PostgresStore(url)
    from zendesk_export.server.store.sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SQLiteStore(path)
