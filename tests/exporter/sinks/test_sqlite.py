"""SQLite sink: typed schema created by code, marked as ours, WAL; foreign files are refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from zendesk_export.exporter.sinks import ForeignOutputError, SQLiteSink
from zendesk_export.exporter.sinks._columns import TICKET_COLUMNS
from zendesk_export.exporter.sinks.sqlite import APPLICATION_ID, SCHEMA_VERSION, SQLITE_TYPES

from ._pages import make_ticket, make_user, page


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_tickets_table_has_a_typed_column_for_every_field_then_raw_json(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    info = _query(tmp_path / "t.db", "PRAGMA table_info(tickets)")
    expected = [(c.name, SQLITE_TYPES[c.kind]) for c in TICKET_COLUMNS] + [("raw_json", "TEXT")]
    assert [(name, kind) for _, name, kind, *_ in info] == expected
    assert [row[1] for row in info if row[5]] == ["id"], "id is the primary key"


def test_file_is_marked_as_ours_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    assert _query(tmp_path / "t.db", "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _query(tmp_path / "t.db", "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _query(tmp_path / "t.db", "PRAGMA journal_mode") == [("wal",)]


def test_typed_columns_are_queryable_with_plain_sql(tmp_path: Path) -> None:
    collaborators = [{"email": "cc@example.com", "name": "Cee Cee"}]
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([make_ticket(1, 100), make_ticket(2, 100, collaborators=collaborators, is_public=False)]))
    rows = _query(
        tmp_path / "t.db",
        "SELECT id, is_public, via_channel, json_extract(satisfaction_rating, '$.score'), json_array_length(tags),"
        " json_extract(collaborators, '$[0].email'), collaborators IS NULL, generated_timestamp, created_at"
        " FROM tickets ORDER BY id",
    )
    assert rows == [
        (1, 1, "sample_ticket", "unoffered", 3, None, 1, 100, "2024-02-15T16:24:04Z"),
        (2, 0, "sample_ticket", "unoffered", 3, "cc@example.com", 0, 100, "2024-02-15T16:24:04Z"),
    ]


def test_raw_json_is_the_ticket_as_received(tmp_path: Path) -> None:
    ticket = make_ticket(5, 1)
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([ticket]))
    assert _query(tmp_path / "t.db", "SELECT raw_json FROM tickets") == [(orjson.dumps(ticket).decode(),)]


def test_sideload_tables_are_created_only_when_used(tmp_path: Path) -> None:
    with SQLiteSink(tmp_path / "t.db", include=["groups"]) as sink:
        sink.write(page([], 1, users=[make_user(1, 100)]))
    tables = {name for (name,) in _query(tmp_path / "t.db", "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"tickets", "checkpoint", "groups", "users"}
    assert _query(tmp_path / "t.db", "SELECT id, email FROM users") == [(1, "user1@example.com")]


def test_refuses_a_file_that_is_not_sqlite_and_leaves_it_untouched(tmp_path: Path) -> None:
    path = tmp_path / "tickets.db"
    path.write_bytes(b"id,subject\n1,precious data\n")
    with pytest.raises(ForeignOutputError, match="not a SQLite database"):
        SQLiteSink(path)
    assert path.read_bytes() == b"id,subject\n1,precious data\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tickets.db"]


def test_refuses_another_applications_sqlite_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, note TEXT)")
        conn.execute("INSERT INTO tickets VALUES (1, 'theirs')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ForeignOutputError, match="not made by zendesk-export"):
        SQLiteSink(path)
    assert path.read_bytes() == before
    assert _query(path, "PRAGMA journal_mode") == [("delete",)], "not switched to WAL"


def test_refuses_a_schema_version_it_does_not_know(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ForeignOutputError, match="schema 2"):
        SQLiteSink(tmp_path / "t.db")


def test_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ForeignOutputError, match="directory"):
        SQLiteSink(tmp_path)


def test_an_empty_file_becomes_a_new_output(tmp_path: Path) -> None:
    (tmp_path / "t.db").touch()
    with SQLiteSink(tmp_path / "t.db") as sink:
        assert sink.load_checkpoint() is None
        sink.write(page([make_ticket(1, 1)]))


def test_page_rolled_back_by_a_crash_leaves_rows_and_checkpoint_together(tmp_path: Path) -> None:
    """A transaction that never committed (the process died) is rolled back with its checkpoint."""
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([make_ticket(1, 1)], 1))
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE tickets SET generated_timestamp = 99")
    conn.execute("UPDATE checkpoint SET position = '99'")
    conn.close()  # closing without COMMIT is what a dead process leaves behind
    with SQLiteSink(tmp_path / "t.db") as sink:
        assert sink.load_checkpoint().position == "1"  # type: ignore[union-attr]
    assert _query(tmp_path / "t.db", "SELECT generated_timestamp FROM tickets") == [(1,)]
