"""SQLite sink: typed schema created by code, marked as ours, WAL; foreign files are refused untouched."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest

from zendesk_export.exporter.sinks import ForeignOutputError, SQLiteSink
from zendesk_export.exporter.sinks._columns import TICKET_COLUMNS
from zendesk_export.exporter.sinks.sqlite import _CHILDREN_CACHE_KIB, APPLICATION_ID, SCHEMA_VERSION, SQLITE_TYPES
from zendesk_export.exporter.warehouse import stream_table

from ._pages import make_ticket, make_user, page


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_tickets_table_has_a_typed_column_for_every_field_then_raw_json(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    info = _query(tmp_path / "t.db", "PRAGMA table_info(tickets)")
    expected = [(c.name, SQLITE_TYPES[c.kind]) for c in TICKET_COLUMNS] + [("raw_json", "TEXT")]
    assert [(name, kind) for _, name, kind, *_ in info] == expected
    assert [row[1] for row in info if row[3]] == ["id", "raw_json"], "NOT NULL"
    unique = _query(tmp_path / "t.db", "SELECT name FROM pragma_index_list('tickets') WHERE \"unique\"")
    assert [_query(tmp_path / "t.db", f"PRAGMA index_info('{name}')")[0][2] for (name,) in unique] == ["id"]


def test_write_only_request_fields_get_no_column(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    names = {row[1] for row in _query(tmp_path / "t.db", "PRAGMA table_info(tickets)")}
    assert names.isdisjoint({"collaborators", "assignee_email", "macro_ids", "via_id", "updated_stamp"})
    assert "encoded_id" in names


def test_file_is_marked_as_ours_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "t.db").close()
    assert _query(tmp_path / "t.db", "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _query(tmp_path / "t.db", "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _query(tmp_path / "t.db", "PRAGMA journal_mode") == [("wal",)]


def test_typed_columns_are_queryable_with_plain_sql(tmp_path: Path) -> None:
    collaborators = [{"email": "cc@example.com", "name": "Cee Cee"}]
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([make_ticket(2, 100, collaborators=collaborators, is_public=False), make_ticket(1, 100)]))
    rows = _query(
        tmp_path / "t.db",
        "SELECT id, is_public, via_channel, json_extract(satisfaction_rating, '$.score'), json_array_length(tags),"
        " json_extract(raw_json, '$.collaborators[0].email'), generated_timestamp, created_at"
        " FROM tickets ORDER BY id",
    )
    assert rows == [
        (1, 1, "sample_ticket", "unoffered", 3, None, 100, "2024-02-15T16:24:04Z"),
        (2, 0, "sample_ticket", "unoffered", 3, "cc@example.com", 100, "2024-02-15T16:24:04Z"),
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
    assert tables == {"tickets", "checkpoint", "stream_checkpoints", "groups", "users"}
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
    with pytest.raises(ForeignOutputError, match="schema 3"):
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


#: The first schema's extra columns (write-only request fields, always NULL), as that version created them.
_V1_EXTRA = (
    '"collaborators" TEXT, "assignee_email" TEXT, "attribute_value_ids" TEXT, "macro_id" INTEGER, '
    '"macro_ids" TEXT, "safe_update" BOOLEAN, "updated_stamp" TEXT, "via_followup_source_id" INTEGER, '
    '"via_id" INTEGER'
)


def _schema_1_file(path: Path) -> None:
    """A file as schema 1 wrote it: id as INTEGER PRIMARY KEY and nine more columns, one ticket, a checkpoint."""
    typed = ", ".join(
        f'"{c.name}" {SQLITE_TYPES[c.kind]}{" PRIMARY KEY" if c.name == "id" else ""}' for c in TICKET_COLUMNS
    )
    ticket = make_ticket(1, 100, status="open")
    with sqlite3.connect(path) as conn:
        conn.execute(f'CREATE TABLE "tickets" ({typed}, {_V1_EXTRA}, "raw_json" TEXT NOT NULL)')
        conn.execute('CREATE INDEX "tickets_generated_timestamp" ON "tickets" ("generated_timestamp")')
        conn.execute(
            'CREATE TABLE "checkpoint" ("singleton" INTEGER PRIMARY KEY CHECK ("singleton" = 1), "mode" TEXT NOT '
            'NULL, "position" TEXT NOT NULL, "source" TEXT NOT NULL, "written_at" TEXT NOT NULL)'
        )
        conn.execute(
            'INSERT INTO "tickets" ("id", "generated_timestamp", "status", "raw_json") VALUES (1, 100, ?, ?)',
            ["open", orjson.dumps(ticket).decode()],
        )
        conn.execute("INSERT INTO checkpoint VALUES (1, 'time', '7', 'https://example.zendesk.com', 'x')")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_a_schema_1_output_resumes_and_keeps_its_columns(tmp_path: Path) -> None:
    """Files written before the write-only columns were dropped resume where they stopped and take updates."""
    path = tmp_path / "t.db"
    _schema_1_file(path)
    with SQLiteSink(path) as sink:
        assert sink.load_checkpoint().position == "7"  # type: ignore[union-attr]
        result = sink.write(page([make_ticket(1, 100, status="open"), make_ticket(1, 200), make_ticket(2, 200)], 8))
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1)
    assert _query(path, "SELECT id, generated_timestamp, subject IS NOT NULL, via_id FROM tickets ORDER BY id") == [
        (1, 200, 1, None),
        (2, 200, 1, None),
    ]
    assert _query(path, "PRAGMA user_version") == [(1,)]
    assert _query(path, "SELECT position FROM checkpoint") == [("8",)]


def _rows_in_the_database_file(path: Path, copy: Path) -> int:
    """Tickets in the database file itself, its write-ahead log left out (a copy of the file alone)."""
    shutil.copyfile(path, copy)
    try:
        return int(_query(copy, 'SELECT count(*) FROM "tickets"')[0][0])
    except sqlite3.DatabaseError:  # copied in the middle of a checkpoint: look again
        return -1


def test_written_pages_reach_the_database_file_beside_the_writer_and_nothing_is_left_at_close(tmp_path: Path) -> None:
    """The writer's own checkpoint waits for 4000 log frames; a page of 200 tickets is far from that, so the
    rows found in the file alone were copied there by the background checkpoints."""
    path = tmp_path / "t.db"
    sink = SQLiteSink(path)
    sink.write(page([make_ticket(i, 1_700_000_000 + i) for i in range(1, 201)]))
    deadline = time.monotonic() + 60  # a liveness bound, not a speed: a pass takes milliseconds
    while _rows_in_the_database_file(path, tmp_path / "copy.db") != 200:
        assert time.monotonic() < deadline, "the log was never checkpointed into the database file"
        time.sleep(0.05)
    sink.close()
    assert not [t for t in threading.enumerate() if t.name == "sqlite-wal-checkpoints"]
    assert not Path(f"{path}-wal").exists()
    assert _query(path, 'SELECT count(*) FROM "tickets"') == [(200,)]


def _tags_by_ticket(path: Path) -> dict[int, list[str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT ticket_id, tag FROM ticket_tags ORDER BY ticket_id, tag").fetchall()
    found: dict[int, list[str]] = {}
    for ticket_id, tag in rows:
        found.setdefault(ticket_id, []).append(tag)
    return found


def test_a_page_out_of_id_order_leaves_each_ticket_exactly_its_own_child_rows(tmp_path: Path) -> None:
    """The child rows go in by ticket id, whatever the page's order: none lost, doubled or given to another
    ticket, new tickets beside retagged stored ones, a ticket listed twice counting once."""
    path = tmp_path / "t.db"
    with SQLiteSink(path) as sink:
        sink.use_table(stream_table("tickets"))
        sink.write(page([make_ticket(i, 10, tags=["old", f"t{i}"]) for i in (5, 3, 1)], 1))
        sink.write(page([make_ticket(i, 20, tags=["new", f"t{i}", "new"]) for i in (9, 5, 7, 1)]
                        + [make_ticket(7, 30, tags=["last"])], 2))
    assert _tags_by_ticket(path) == {
        1: ["new", "t1"], 3: ["old", "t3"], 5: ["new", "t5"], 7: ["last"], 9: ["new", "t9"],
    }


def test_only_a_connection_writing_child_tables_keeps_a_larger_bounded_cache(tmp_path: Path) -> None:
    """The cache that holds the child tables' keys is a fixed size whatever the account; every other connection
    keeps SQLite's default, so the whole-account command's many connections stay within its memory target."""
    with SQLiteSink(tmp_path / "plain.db") as plain, SQLiteSink(tmp_path / "analyst.db") as analyst:
        analyst.use_table(stream_table("tickets"))
        default = sqlite3.connect(":memory:").execute("PRAGMA cache_size").fetchone()[0]
        assert plain._conn.execute("PRAGMA cache_size").fetchone()[0] == default
        assert analyst._conn.execute("PRAGMA cache_size").fetchone()[0] == -_CHILDREN_CACHE_KIB


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-wal-checkpoints"]


def test_connections_to_one_file_share_one_checkpoint_thread_until_the_last_closes(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    first, second = SQLiteSink(tmp_path / "t.db"), SQLiteSink(tmp_path / "." / "t.db")
    other = SQLiteSink(tmp_path / "other.db")
    assert len(_checkpoint_threads()) == before + 2  # one per file, not per connection
    first.close()
    first.close()  # twice is once: the other connection's checkpoints go on
    assert len(_checkpoint_threads()) == before + 2
    second.write(page([make_ticket(1, 1_700_000_000)]))  # still checkpointed after the first closed
    second.close()
    other.close()
    assert len(_checkpoint_threads()) == before
    assert _query(tmp_path / "t.db", 'SELECT count(*) FROM "tickets"') == [(1,)]


def test_a_writer_waits_for_another_connections_transaction_however_long_it_takes(tmp_path: Path) -> None:
    """Connections of one process write in turn: one never gives up on SQLite's busy timeout while another
    of the same process holds the file (as a whole-account export's streams do, a connection each)."""
    path = tmp_path / "t.db"
    holder, waiter = SQLiteSink(path), SQLiteSink(path)
    waiter._conn.execute("PRAGMA busy_timeout = 1")  # SQLite's own waiting would fail after 1 ms
    in_transaction, failures = threading.Event(), []

    def hold() -> None:
        with holder._transaction():
            in_transaction.set()
            time.sleep(0.3)

    def write() -> None:
        try:
            waiter.write(page([make_ticket(1, 1_700_000_000)]))
        except sqlite3.OperationalError as error:
            failures.append(error)

    holding = threading.Thread(target=hold)
    holding.start()
    in_transaction.wait()
    writing = threading.Thread(target=write)
    writing.start()
    writing.join()
    holding.join()
    holder.close()
    waiter.close()
    assert failures == []
    assert _query(path, 'SELECT count(*) FROM "tickets"') == [(1,)]
