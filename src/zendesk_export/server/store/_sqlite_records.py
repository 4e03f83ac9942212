"""SQLite queries of the export family beyond time-based tickets: cursor/time feeds over tickets, audits,
users and organizations; users/organizations/groups records; bulk job statuses; scrub bookkeeping.

Mixed into ``SQLiteStore`` (and its writer) so that ``sqlite.py`` keeps the foundation and this module the
feeds. Every feed query is an index range scan on ``(account_id, key, id)``: a page costs O(page).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from zendesk_export.server.store import DuplicateRecord, ExportRow
from zendesk_export.server.store._rows import (
    FEEDS,
    JOB_COLUMNS,
    RECORD_COLUMNS,
    SQLITE,
    body_row,
    insert_sql,
    marks,
    record_from_row,
    split_record,
    upsert_sql,
)

__all__ = ["RecordsMixin", "WriterRecordsMixin"]

_INSERT_JOB = insert_sql("job_statuses", JOB_COLUMNS, SQLITE)


class WriterRecordsMixin:
    """Record writes inside one account's write transaction."""

    conn: sqlite3.Connection
    account_id: int

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


class RecordsMixin:
    """Read side of the feeds and records (``SQLiteStore`` provides the connection and transactions)."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # -- feeds ------------------------------------------------------------------------------------
    def changes(self, account_id: int, kind: str, after: tuple[int, int], cutoff: int, limit: int,
                exclude_deleted: bool = False) -> list[ExportRow]:
        """Items of a feed with (key, id) > ``after`` and key <= ``cutoff``, in (key, id) order."""
        table, key, body = FEEDS[kind]
        deleted = " AND status != 'deleted'" if exclude_deleted and kind == "tickets" else ""
        selected = "*" if body == "*" else f"id, {key}, {body}"
        sql = (f"SELECT {selected} FROM {table} WHERE account_id = ? AND {key} >= ? "
               f"AND ({key} > ? OR id > ?) AND {key} <= ?{deleted} ORDER BY {key}, id LIMIT ?")
        rows = self._conn().execute(sql, (account_id, after[0], after[0], after[1], cutoff, limit)).fetchall()
        if body != "*":
            return [body_row(r) for r in rows]
        return [ExportRow(r["id"], r[key], orjson.dumps(record_from_row(r))) for r in rows]

    # -- records ----------------------------------------------------------------------------------
    def records_by_id(self, account_id: int, table: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = self._conn().execute(
            f"SELECT * FROM {table} WHERE account_id = ? AND id IN ({marks(SQLITE, len(wanted))}) ORDER BY id",
            (account_id, *wanted),
        ).fetchall()
        return [record_from_row(r) for r in rows]

    def list_records(self, account_id: int, table: str, offset: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int]:
        """One offset page of a record table by id, and the table's total count."""
        conn = self._conn()
        rows = conn.execute(f"SELECT * FROM {table} WHERE account_id = ? ORDER BY id LIMIT ? OFFSET ?",
                            (account_id, limit, offset)).fetchall()
        total = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE account_id = ?", (account_id,)).fetchone()
        return [record_from_row(r) for r in rows], int(total[0])

    def insert_records(self, account_id: int, table: str, records: Iterable[dict[str, Any]]) -> int:
        """Bulk insert (seeding); records whose id or unique name exists are kept as they are."""
        sql = insert_sql(table, (*RECORD_COLUMNS[table], "data"), SQLITE, verb="INSERT OR IGNORE")
        def rows() -> Iterable[tuple[Any, ...]]:
            for record in records:
                values, data = split_record(table, record)
                yield (account_id, *values, data)

        with self._transaction() as conn:
            return conn.executemany(sql, rows()).rowcount

    # -- tickets by id, comment counts --------------------------------------------------------------
    def tickets_by_id(self, account_id: int, ids: Sequence[int]) -> list[ExportRow]:
        """Live (not deleted) tickets among ``ids``, by id."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = self._conn().execute(
            "SELECT id, generated_timestamp, body FROM tickets WHERE account_id = ? AND status != 'deleted' "
            f"AND id IN ({marks(SQLITE, len(wanted))}) ORDER BY id", (account_id, *wanted),
        ).fetchall()
        return [ExportRow(*r) for r in rows]

    def comment_counts(self, account_id: int, ticket_ids: Sequence[int]) -> dict[int, int]:
        """Comments per ticket, counted over its audits in one query (audits hold at most one comment)."""
        wanted = sorted(set(ticket_ids))
        if not wanted:
            return {}
        rows = self._conn().execute(
            "SELECT ticket_id, SUM(instr(data, '\"type\":\"Comment\"') > 0) FROM audits WHERE account_id = ? "
            f"AND ticket_id IN ({marks(SQLITE, len(wanted))}) GROUP BY ticket_id", (account_id, *wanted),
        ).fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    # -- job statuses ----------------------------------------------------------------------------------
    def put_job(self, account_id: int, job_id: str, data: dict[str, Any]) -> None:
        with self._transaction() as conn:
            conn.execute(_INSERT_JOB, (account_id, job_id, orjson.dumps(data).decode()))

    def read_job(self, account_id: int, job_id: str) -> tuple[dict[str, Any], int] | None:
        """The job and how many times it has now been read (this read included)."""
        with self._transaction() as conn:
            row = conn.execute(
                "UPDATE job_statuses SET reads = reads + 1 WHERE account_id = ? AND id = ? "
                "RETURNING data, reads",
                (account_id, job_id),
            ).fetchone()
        return (orjson.loads(row[0]), int(row[1])) if row else None

    # -- scrub -----------------------------------------------------------------------------------------
    def scrub_due(self, account_id: int, deleted_before: int, limit: int = 1000) -> list[int]:
        """Ids of soft-deleted, not yet scrubbed tickets deleted at or before ``deleted_before``."""
        rows = self._conn().execute(
            "SELECT id FROM tickets WHERE account_id = ? AND deleted_at IS NOT NULL "
            "AND description IS NOT 'X' AND deleted_at <= ? ORDER BY deleted_at LIMIT ?",
            (account_id, deleted_before, limit),
        ).fetchall()
        return [int(r[0]) for r in rows]
