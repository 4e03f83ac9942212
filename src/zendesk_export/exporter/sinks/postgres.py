"""PostgreSQL sink (psycopg 3): the SQLite table design with real types, for a shared warehouse.

Tables live in one schema (``public`` unless ``?schema=NAME`` is added to the URL): ``tickets`` (BIGINT, TEXT,
BOOLEAN, TIMESTAMPTZ and JSONB columns from ``_columns.TICKET_COLUMNS``, plus ``raw_json`` of type JSON, which
keeps the received text byte for byte), ``users``/``groups``/``organizations`` when used, ``checkpoint`` (one
row) and ``zendesk_export_meta`` (the schema version: how we recognise tables that are ours).

A page is one transaction: read the stored versions of the page's ids (one query, rows locked), ``COPY`` (binary)
the winning tickets not stored yet straight into ``tickets``, ``COPY`` the others into a session-local staging table
(``ON COMMIT DELETE ROWS``) and merge it into ``tickets`` with one ``INSERT … SELECT … ON CONFLICT … WHERE``
that also refuses to move a row backwards, upsert the sideloads and the checkpoint, commit. No per-row round
trips, no per-row statement: COPY is several times cheaper than an ``executemany`` of 50-parameter upserts, and
a first export, where nearly every ticket is new, writes each row once instead of twice (staging, then
merge). A new id that another writer into the same
tables inserts meanwhile (the lock of the first query cannot cover a row that does not exist yet) fails that
``COPY`` on the primary key: it is undone to a savepoint and those tickets take the merge path. While the last
page found none of its tickets stored (every page of a first export), a page skips the first query and COPYs
all its winners as new: should one be stored after all, the COPY fails on the key, the transaction is rolled
back and the page is written as above. Tables of
schema 1 (the ``WRITE_ONLY_FIELDS`` columns, always NULL) are read and written as they are.

What a ticket costs the server: a row of ~3.4 KB (``raw_json`` and the typed columns that repeat parts of it)
is over PostgreSQL's TOAST threshold (~2 KB), so its widest values are compressed until it fits. With the
default method, pglz, that was a third of the server's CPU per ticket; the sink's session compresses with lz4
(``default_toast_compression``, PostgreSQL 14 and later when built with it, as the common packages are), which
costs a fraction of that and takes about the same space; a server without lz4 keeps pglz. The rest is parsing
the JSONB values and ``raw_json`` (the columns' price) and the heap, index and WAL writes. Our side hands
psycopg the JSONB and JSON values already in their binary forms (bytes it copies in C), ``raw_json`` as the
bytes received.

What a commit waits for: the session sets ``synchronous_commit = off``, so a commit returns once PostgreSQL has
it in memory and its WAL writer flushes it a fraction of a second later, instead of waiting for that flush on
every page. A crash of our process loses nothing (the server has the commit). A crash of the database server may
lose the last commits, each one whole: a page's rows and the checkpoint that records them are one transaction,
so the tables and the checkpoint always agree, and the next run resumes from the checkpoint that survived and
fetches those pages again (writes are idempotent). The setting is the session's own and changes nothing for
other users of the database.

PostgreSQL rejects NUL characters in TEXT and JSONB, which e-mail bodies do contain; typed columns get them
removed or replaced by U+FFFD, while ``raw_json`` (type JSON) keeps the ``\\u0000`` escapes intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from ._columns import (
    SIDELOAD_COLUMNS,
    TICKET_COLUMNS,
    Column,
    Kind,
    extract,
    extractor,
    parse_timestamp,
    sideload_columns,
)
from ._errors import ForeignOutputError, MissingDependencyError, SinkError
from ._sql import RAW_JSON, SIDELOAD_GUARD, TICKET_GUARD, checkpoint_from_row, create_table_sql, quote, upsert_sql
from ._stream_sql import Dialect, StreamTables
from ._tables import TABLES, Table
from ._upsert import Plan, Prepared, Stored, content_digest, oldest_version, plan_writes
from .base import Checkpoint, ClosingSink, Page, StreamState, StreamStatus, WriteResult

__all__ = ["SCHEMA_VERSION", "PostgresSink", "split_schema"]

SCHEMA_VERSION = 2
READABLE_VERSIONS = ("1", "2")
_STAGE = "pg_temp.zendesk_export_stage"  # the session's own schema, never a table of the same name in the search path
POSTGRES_TYPES = {
    Kind.INTEGER: "BIGINT",
    Kind.TEXT: "TEXT",
    Kind.BOOLEAN: "BOOLEAN",
    Kind.TIMESTAMP: "TIMESTAMPTZ",
    Kind.JSON: "JSONB",
    Kind.NUMBER: "DOUBLE PRECISION",
}
_META = "zendesk_export_meta"
_Item = tuple[dict[str, Any], bytes]  # an object and its serialised bytes
_OURS = ("tickets", "checkpoint", *SIDELOAD_COLUMNS)
#: The type of each column kind in a binary COPY, by the names psycopg knows them. A binary COPY sends no types,
#: only each field's bytes, which the server reads as its column's type: the JSONB and ``raw_json`` values are
#: given to psycopg as ``bytea`` (copied as they are, in C) holding those columns' binary forms, built by
#: ``_TicketRows``.
_COPY_TYPE_NAMES = {Kind.INTEGER: "int8", Kind.TEXT: "text", Kind.BOOLEAN: "bool", Kind.TIMESTAMP: "timestamptz",
                    Kind.JSON: "bytea", Kind.NUMBER: "float8"}
#: jsonb's binary form: a version byte, then the JSON text.
_JSONB_VERSION = b"\x01"
_NUL_ESCAPE = b"\\u0000"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependencyError(
            "the PostgreSQL output needs psycopg: pip install 'zendesk-export[postgres]'"
        ) from None
    return psycopg


def _configure_session(conn: Any) -> None:
    """Settings of the sink's own session, which cost no safety (module doc, "What a commit waits for").

    Values this session stores compressed (a ticket row is over the TOAST threshold) use lz4, several times
    cheaper than the default pglz; a server that cannot (before 14, or built without lz4) keeps its default.
    Reading needs nothing: each value records its method."""
    conn.execute("SET synchronous_commit = off")
    try:
        conn.execute("SET default_toast_compression = 'lz4'")
    except _psycopg().Error:
        pass


def _bytes_as_they_are(conn: Any) -> None:
    """COPY ``bytea`` fields (our JSON values) with psycopg's dumper for ``bytes`` (C code in psycopg's binary
    package). By type name psycopg would pick the dumper of its DB-API ``Binary`` wrapper, registered later for
    the same type: Python code, called for each of a ticket's dozen JSON values. On this connection alone."""
    from psycopg.adapt import PyFormat

    conn.adapters.register_dumper(bytes, conn.adapters.get_dumper(bytes, PyFormat.BINARY))


def split_schema(url: str) -> tuple[str, str]:
    """``(dsn, schema)`` from a URL that may carry ``?schema=NAME`` (libpq itself would reject that key)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), "public")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def _placeholder(kind: Kind | None) -> str:
    return {Kind.JSON: "%s::jsonb", None: "%s::json"}.get(kind, "%s")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _text(value: str | None) -> str | None:
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def _jsonb(value: str | None) -> str | None:
    if value is None or "\\u0000" not in value:
        return value
    return orjson.dumps(_without_nul(orjson.loads(value))).decode()


#: How a canonical value (see ``_columns.extract``) becomes one PostgreSQL accepts, for kinds that need it.
_CONVERT = {Kind.TIMESTAMP: parse_timestamp, Kind.TEXT: _text, Kind.JSON: _jsonb}


def _rows(columns: tuple[Column, ...], items: Iterable[_Item]) -> list[list[Any]]:
    """Parameter rows for ``items``: canonical values, converted in place where PostgreSQL needs it."""
    converters = [(i, _CONVERT[c.kind]) for i, c in enumerate(columns) if c.kind in _CONVERT]
    rows = []
    for obj, raw in items:
        row = extract(columns, obj)
        for position, convert in converters:
            row[position] = convert(row[position])
        row.append(raw.decode())
        rows.append(row)
    return rows


def _copy_rows(cur: Any, table: str, columns: tuple[Column, ...], rows: Sequence[Sequence[Any]]) -> None:
    """Rows of canonical values (a page's new rows of a whole-account table, or child rows: see ``_stream_sql``)
    in one binary COPY, each converted as ``_COPY_CONVERT`` says. A COPY, not an ``executemany``: a page of
    1000 tickets has thousands of child rows, a page of metric events thousands of rows. Binary, as the
    tickets' (``_copy``): as text psycopg escaped every value and the server parsed it back, nearly a fifth
    of the thread the whole-account command waits for (docs/benchmarks.md, "2026-12-07, day")."""
    converters = [(i, _COPY_CONVERT[c.kind]) for i, c in enumerate(columns) if c.kind in _COPY_CONVERT]
    with cur.copy(f"COPY {table} ({', '.join(quote(c.name) for c in columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([_COPY_TYPE_NAMES[c.kind] for c in columns])
        for values in rows:
            if converters:
                values = list(values)
                for position, convert in converters:
                    values[position] = convert(values[position])
            copy.write_row(values)


def _jsonb_binary(value: str | None) -> bytes | None:
    """A JSON column's text as jsonb's binary form (``_COPY_TYPE_NAMES``), without NULs (``_jsonb``)."""
    text = _jsonb(value)
    return None if text is None else _JSONB_VERSION + text.encode()


#: ``_CONVERT`` for a binary COPY: a JSON value in jsonb's binary form.
_COPY_CONVERT = {**_CONVERT, Kind.JSON: _jsonb_binary}


class _TicketRows:
    """The columns a ticket page writes, and its COPY rows: ``TICKET_COLUMNS``, the custom-field columns bound to
    ``tickets`` (read from the enriched ticket, in the same row: an UPDATE afterwards would write every row
    twice), then ``raw_json``. JSON values as binary jsonb, raw_json the bytes as received. Only a ticket whose
    JSON holds a ``\\u0000`` escape can hold a NUL (JSON has no other way to write one), so only those take
    ``_without_nuls``."""

    def __init__(self, added: tuple[Column, ...] = (), enrich: Callable[[Any], Any] | None = None) -> None:
        self.enrich = enrich
        self.added = added if enrich is not None else ()
        columns = (*TICKET_COLUMNS, *self.added)
        self.names = tuple(quote(c.name) for c in (*columns, Column(RAW_JSON, Kind.JSON, ())))
        self.copy_types = [*(_COPY_TYPE_NAMES[c.kind] for c in columns), "bytea"]
        self._extract = extractor(TICKET_COLUMNS, json_prefix=_JSONB_VERSION)
        self._extract_added = extractor(self.added, json_prefix=_JSONB_VERSION)
        self._timestamps = tuple(i for i, c in enumerate(columns) if c.kind is Kind.TIMESTAMP)

    def __call__(self, items: Iterable[_Item]) -> Iterator[list[Any]]:
        """Made one at a time as the COPY sends them: psycopg sends every ~32 KB, so the server stores the first
        rows while we build the next ones, instead of waiting for the whole page's rows and then alone for its
        own work."""
        return (self.row(obj, raw) for obj, raw in items)

    def row(self, obj: dict[str, Any], raw: bytes) -> list[Any]:
        row = self._extract(obj)
        if self.enrich is not None:
            row += self._extract_added(self.enrich(obj))
        for position in self._timestamps:
            row[position] = parse_timestamp(row[position])
        if _NUL_ESCAPE in raw:
            _without_nuls(row)
        row.append(raw)
        return row


def _without_nuls(row: list[Any]) -> None:
    """NULs out of a ticket row's text (removed) and JSONB values (replaced by U+FFFD), which PostgreSQL rejects."""
    for position, value in enumerate(row):
        if isinstance(value, str):
            row[position] = _text(value)
        elif isinstance(value, bytes) and _NUL_ESCAPE in value:
            row[position] = _JSONB_VERSION + orjson.dumps(_without_nul(orjson.loads(value[1:])))


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database error as a SinkError: one line for the CLI, no traceback."""
    try:
        yield
    except _psycopg().Error as exc:
        raise SinkError(f"PostgreSQL: {str(exc).strip()}") from exc


def _dialect(schema: str) -> Dialect:
    def qualify(name: str) -> str:
        return f"{quote(schema)}.{quote(name)}"

    def columns_of(cur: Any, table: str) -> list[tuple[str, str]]:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = %s ORDER BY ordinal_position", [schema, table])
        return [(str(name), _SQL_TYPE_NAMES.get(str(kind), str(kind))) for name, kind in cur.fetchall()]

    return Dialect(_placeholder, POSTGRES_TYPES, "JSON", qualify, _rows, columns_of, "now()", "TIMESTAMPTZ",
                   _copy_rows, inserts_new_rows=True, id_array="%s::bigint[]")


#: information_schema's names of our column types, back to the names we create them with.
_SQL_TYPE_NAMES = {"bigint": "BIGINT", "text": "TEXT", "boolean": "BOOLEAN", "jsonb": "JSONB",
                   "timestamp with time zone": "TIMESTAMPTZ"}


class PostgresSink(ClosingSink):
    """Tickets, sideloads and checkpoint in PostgreSQL tables, one transaction per page (module doc)."""

    def __init__(self, dsn: str, *, schema: str = "public", include: Sequence[str] = ()) -> None:
        psycopg = _psycopg()
        for name in include:
            sideload_columns(name)
        self.schema = schema
        self._tables = StreamTables(_dialect(schema))
        self._tickets = TABLES["tickets"]  # what ticket writes derive (children, custom columns): use_table
        self._rows = _TicketRows()
        try:
            self._conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise SinkError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from None
        _configure_session(self._conn)
        _bytes_as_they_are(self._conn)
        try:
            with self._transaction() as cur:
                self._prepare(cur, include)
        except BaseException:
            self._conn.close()
            raise
        self._sideloads.update(include)

    @classmethod
    def from_url(cls, url: str, *, include: Sequence[str] = ()) -> PostgresSink:
        """Open ``postgresql://…[?schema=NAME]``."""
        dsn, schema = split_schema(url)
        return cls(dsn, schema=schema, include=include)

    def _table(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One transaction; a database error becomes a SinkError (``_database_errors``)."""
        with _database_errors(), self._conn.transaction(), self._conn.cursor() as cur:
            yield cur

    def _prepare(self, cur: Any, include: Sequence[str]) -> None:
        """Create or recognise our tables, serialised by an advisory lock so parallel openers do not race."""
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"zendesk-export:{self.schema}"])
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema])
        if cur.fetchone() is None:
            cur.execute(f"CREATE SCHEMA {quote(self.schema)}")
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [self.schema])
        existing = {name for (name,) in cur.fetchall()}
        if _META in existing:
            self._check_version(cur)
        elif existing.intersection(_OURS):
            found = ", ".join(sorted(existing.intersection(_OURS)))
            raise ForeignOutputError(f"schema {self.schema!r} has tables ({found}) not made by zendesk-export")
        else:
            self._create(cur)
        self._sideloads = existing.intersection(SIDELOAD_COLUMNS)
        cur.execute(f"SELECT NOT EXISTS (SELECT FROM {self._table('tickets')})")
        self._nothing_stored = bool(cur.fetchone()[0])  # ``_write_all_new``
        self._tables.ensure_checkpoints(cur)
        for name in include:
            self._ensure_sideload(cur, name)
        self._create_stage(cur)

    def _create_stage(self, cur: Any) -> None:
        """The staging table of the merge: the session's own, shaped as ``tickets`` is now (made again when
        columns are added)."""
        cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cur.execute(f"CREATE TEMP TABLE {_STAGE} (LIKE {self._table('tickets')} INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS")

    def _check_version(self, cur: Any) -> None:
        cur.execute(f"SELECT value FROM {self._table(_META)} WHERE key = 'schema_version'")
        row = cur.fetchone()
        if row is None or row[0] not in READABLE_VERSIONS:
            found = None if row is None else row[0]
            raise ForeignOutputError(f"schema {self.schema!r} has version {found}; this one reads {SCHEMA_VERSION}")

    def _create(self, cur: Any) -> None:
        meta = self._table(_META)
        cur.execute(f"CREATE TABLE {meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        cur.execute(f"INSERT INTO {meta} VALUES ('schema_version', %s)", [str(SCHEMA_VERSION)])
        cur.execute(create_table_sql(self._table("tickets"), TICKET_COLUMNS, POSTGRES_TYPES, "JSON"))
        cur.execute(f'CREATE INDEX ON {self._table("tickets")} ("generated_timestamp")')
        cur.execute(
            f"CREATE TABLE {self._table('checkpoint')} ("
            '"singleton" BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK ("singleton"), '
            '"mode" TEXT NOT NULL, "position" TEXT NOT NULL, "source" TEXT NOT NULL, '
            '"written_at" TIMESTAMPTZ NOT NULL DEFAULT now())'
        )

    def _ensure_sideload(self, cur: Any, name: str) -> None:
        """Create a sideload table if missing. ``_sideloads`` learns of it only once the transaction commits:
        a rolled-back page takes its new table with it."""
        if name not in self._sideloads:
            cur.execute(create_table_sql(self._table(name), sideload_columns(name), POSTGRES_TYPES, "JSON"))

    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint committed with the last page, or None for new tables."""
        with self._transaction() as cur:
            cur.execute(f'SELECT "mode", "position", "source" FROM {self._table("checkpoint")}')
            row = cur.fetchone()
        return checkpoint_from_row(row)

    def prepare(self, tickets: list[dict[str, Any]]) -> Prepared:
        """The tickets' bytes and COPY rows, made before ``write`` (``base.PreparingSink``): on the thread that
        fetched the page, while PostgreSQL stores the previous one."""
        return Prepared(self._rows, tickets, make=self._rows.row)

    def write(self, page: Page) -> WriteResult:
        """Upsert the page's tickets and sideloads and save its checkpoint, in one transaction."""
        prepared = Prepared.current(page.prepared, self._rows)
        with self._page_transaction() as cur:
            written = self._write_all_new(cur, page.tickets, prepared) if self._nothing_stored else None
            if written is None:
                written = self._write_against_stored(cur, page.tickets, prepared)
            stored, plan = written
            self._nothing_stored = not stored
            self._write_children(cur, list(plan.writes.values()), stored)
            for name, objects in page.sideloads.items():
                self._ensure_sideload(cur, name)
                items = [(obj, orjson.dumps(obj)) for obj in objects]
                self._upsert(cur, name, sideload_columns(name), SIDELOAD_GUARD, items)
            with self._conn.pipeline():  # the checkpoint goes out with the COMMIT: one round trip
                self._save_checkpoint(cur, page.checkpoint)
                cur.execute("COMMIT")
        self._sideloads.update(page.sideloads)
        return plan.result

    def _write_all_new(self, cur: Any, tickets: list[dict[str, Any]],
                       prepared: Prepared) -> tuple[dict[int, Stored], Plan] | None:
        """The page's tickets COPYed straight into ``tickets`` as if none were stored, without reading the
        stored versions first; None, with the transaction rolled back, when one was (the COPY fails on the key).

        Tried while the last page found nothing stored (``_nothing_stored``), as on every page of a first
        export. There the query for the stored versions took ~7 ms of a ~60 ms page (a round trip, a thousand
        index probes, the database idle meanwhile) and the savepoint around the COPY two round trips more; a
        page that meets a stored ticket costs one COPY more, and the pages after it read the stored versions
        until one finds none."""
        plan = plan_writes(tickets, {}, prepared=prepared)
        cur.execute("BEGIN")
        try:
            if plan.writes:
                self._copy(cur, self._table("tickets"), self._copy_rows(plan.writes.values(), prepared))
        except _psycopg().errors.UniqueViolation:
            self._rollback()
            return None
        return {}, plan

    def _write_against_stored(self, cur: Any, tickets: list[dict[str, Any]],
                              prepared: Prepared) -> tuple[dict[int, Stored], Plan]:
        """The page's winning tickets by the rule, against their stored versions (read and locked first)."""
        with self._conn.pipeline():  # BEGIN goes out with the first query: one round trip
            cur.execute("BEGIN")
            stored = self._stored(cur, tickets)
        plan = plan_writes(tickets, stored, prepared=prepared)
        self._write_tickets(cur, plan.writes, stored, prepared)
        return stored, plan

    @contextmanager
    def _page_transaction(self) -> Iterator[Any]:
        """A cursor for a transaction the caller begins and commits itself, each together with a statement in
        pipeline mode (one round trip where ``conn.transaction()`` takes two: a ``COPY`` cannot run in
        pipeline mode, so no pipeline can enclose both ends of a transaction that holds one). Anything raised
        rolls it back; a database error becomes a SinkError (``_database_errors``)."""
        with _database_errors():
            try:
                with self._conn.cursor() as cur:
                    yield cur
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except _psycopg().Error:
            pass  # a broken connection has nothing left to undo; its next use reports it

    def _stored(self, cur: Any, tickets: list[dict[str, Any]]) -> dict[int, Stored]:
        """The stored versions of the page's ids, one query, rows locked until commit.

        The content digest only decides between two versions with the same ``generated_timestamp``, so the
        stored JSON is read (and hashed) only for rows at least as new as the page's oldest ticket: a page of
        an incremental run, whose tickets are newer than their stored versions, reads none of it."""
        ids = list({t.get("id") for t in tickets if isinstance(t.get("id"), int)})
        oldest = oldest_version(tickets)
        cur.execute(
            f'SELECT "id", "generated_timestamp", "status", CASE WHEN "generated_timestamp" >= %s '
            f'THEN "raw_json"::text END FROM {self._table("tickets")} WHERE "id" = ANY(%s::bigint[]) FOR UPDATE',
            [oldest, ids],
        )
        return {i: Stored(v, s == "deleted", 0 if r is None else content_digest(r.encode()))
                for i, v, s, r in cur.fetchall()}

    def _upsert(self, cur: Any, table: str, columns: tuple[Column, ...], guard: str, items: Iterable[_Item]) -> None:
        rows = _rows(columns, items)
        if rows:
            cur.executemany(upsert_sql(self._table(table), columns, _placeholder, guard), rows)

    def _write_tickets(self, cur: Any, winners: Mapping[int, _Item], stored: Mapping[int, Stored],
                       prepared: Prepared) -> None:
        """The winning versions: those of ids not stored yet COPYed straight into ``tickets``, the others
        merged (module doc)."""
        fresh = [item for ticket_id, item in winners.items() if ticket_id not in stored]
        known = [item for ticket_id, item in winners.items() if ticket_id in stored]
        if fresh and not self._copy_new(cur, self._copy_rows(fresh, prepared)):
            known += fresh
        if known:
            self._merge_tickets(cur, self._copy_rows(known, prepared))

    def _copy_rows(self, items: Iterable[_Item], prepared: Prepared) -> Iterator[list[Any]]:
        """The COPY rows of ``items``: those ``prepared`` holds, or made now."""
        return (prepared.value(obj, raw) or self._rows.row(obj, raw) for obj, raw in items)

    def _copy_new(self, cur: Any, rows: Iterable[list[Any]]) -> bool:
        """COPY rows of new ids into ``tickets``; False (and nothing written) when one of the ids was inserted
        by another writer since the page's stored versions were read."""
        unique_violation = _psycopg().errors.UniqueViolation
        try:
            with self._conn.transaction():
                self._copy(cur, self._table("tickets"), rows)
        except unique_violation:
            return False
        return True

    def _merge_tickets(self, cur: Any, rows: Iterable[list[Any]]) -> None:
        """COPY rows into the staging table, then merge them with one guarded upsert."""
        self._copy(cur, _STAGE, rows)
        updates = ", ".join(f"{name} = excluded.{name}" for name in self._rows.names if name != quote("id"))
        table, names = self._table("tickets"), ", ".join(self._rows.names)
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {_STAGE} "
            f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} WHERE {TICKET_GUARD.format(table=table)}"
        )

    def _copy(self, cur: Any, table: str, rows: Iterable[list[Any]]) -> None:
        """Binary COPY: the server reads integers, booleans and timestamps as they are instead of parsing
        their text (a fifth less of its work per ticket), and psycopg formats less."""
        with cur.copy(f"COPY {table} ({', '.join(self._rows.names)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self._rows.copy_types)
            for row in rows:
                copy.write_row(row)

    def _save_checkpoint(self, cur: Any, checkpoint: Checkpoint) -> None:
        cur.execute(
            f'INSERT INTO {self._table("checkpoint")} ("mode", "position", "source") VALUES (%s, %s, %s) '
            'ON CONFLICT ("singleton") DO UPDATE SET "mode" = excluded."mode", '
            '"position" = excluded."position", "source" = excluded."source", "written_at" = now()',
            [checkpoint.mode, checkpoint.position, checkpoint.source],
        )

    def _write_children(self, cur: Any, winners: list[_Item], stored: Mapping[int, Stored]) -> None:
        """The child tables of each written ticket version (see ``_tables``), in the page's transaction."""
        if self._tickets.children:
            self._tables.write_children(cur, self._tickets, winners, stored=stored.keys())

    # -- the whole-account streams (see ``_tables`` and ``_stream_sql``) ---------------------------------------
    def load_stream_state(self, stream: str) -> StreamState | None:
        """The checkpoint of ``stream`` committed with its last page, or None."""
        with self._transaction() as cur:
            return self._tables.load_states(cur).get(stream)

    def write_stream(self, table: Table, objects: list[dict[str, Any]], state: StreamState, *,
                     finish: bool = False) -> WriteResult:
        """Upsert a page of ``table`` and save ``state``, in one transaction; ``finish`` (a snapshot table's
        last page) also marks the rows this refresh did not see as deleted."""
        try:
            with self._transaction() as cur:
                result = self._tables.write_page(cur, table, objects, state, finish=finish)
        except BaseException:
            self._tables.forget(table)
            raise
        return result

    def save_stream_state(self, state: StreamState) -> None:
        """Save a stream's state alone (the tickets stream's status row; its resume point is ``checkpoint``)."""
        with self._transaction() as cur:
            self._tables.save_state(cur, state)

    def add_columns(self, table: Table, columns: Sequence[Column]) -> list[Column]:
        """Add the columns ``table`` lacks (``ALTER TABLE ADD COLUMN``); its writes fill them from then on."""
        try:
            with self._transaction() as cur:
                return self._tables.add_columns(cur, table, columns)
        except BaseException:
            self._tables.forget(table)
            raise

    def use_table(self, table: Table) -> None:
        """The ``tickets`` table (children, enrichment) the ticket writes follow from now on; its added
        columns are those given to :meth:`add_columns` on this sink, written in the same COPY as the rest."""
        self._tickets = table
        self._rows = _TicketRows(self._tables.added.get(table.name, ()), table.enrich)
        if self._rows.added:
            with self._transaction() as cur:
                self._create_stage(cur)

    def load_rows(self, name: str, columns: Sequence[Column]) -> list[dict[str, Any]]:
        """Every row of the export's state table ``name`` ([] when it does not exist yet)."""
        with self._transaction() as cur:
            return self._tables.load_rows(cur, name, columns)

    def save_rows(self, name: str, columns: Sequence[Column], key: Sequence[str],
                  rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert rows of the export's state table ``name`` (created if missing), in one transaction."""
        with self._transaction() as cur:
            self._tables.save_rows(cur, name, columns, key, rows)

    def stream_status(self, tables: Iterable[Table]) -> list[StreamStatus]:
        """Every stream's checkpoint and row counts."""
        with self._transaction() as cur:
            return self._tables.status(cur, tables)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
