"""The SQLite store's file: a new database's page size and export index, and a database of the previous
version, which opens with its own page size and keeps serving the same pages."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.server.test_page_cost import T0, make_ticket
from zendesk_export.server.store.sql import EXPORT_COVERED
from zendesk_export.server.store.sqlite import MIGRATIONS, SQLiteStore
from zendesk_export.testing import ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"
NOW = T0 + 30 * 24 * 3600


def _file(path: Path) -> tuple[int, int, list[str]]:
    """The database's page size, schema version and export index columns."""
    with closing(sqlite3.connect(path)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        columns = [r[2] for r in db.execute("PRAGMA index_info(tickets_export)")]
    return page_size, version, columns


def _database_of_the_previous_version(path: Path) -> None:
    """Made as the version before 16 KB pages made it: SQLite's default 4 KB pages, the narrow export index."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        for script in MIGRATIONS[:-1]:
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")


def _pages(db: Path) -> list[bytes]:
    """Every page of a server on ``db`` given 30 tickets (one a minute), with and without sideloads."""
    server = ZendeskServer.start(db)
    try:
        store = server.running.store
        account = store.account(None)
        assert account is not None
        store.insert_tickets(account.id, (make_ticket(m) for m in range(30)))
        server.admin.freeze(NOW)
        with server.client() as client:
            return [client.get(EXPORT, params={"start_time": T0, "per_page": 7, **extra}).content
                    .replace(server.url.encode(), b"BASE")  # each server has a port of its own
                    for extra in ({}, {"include": "users,groups,organizations"}, {"exclude_deleted": "true"})]
    finally:
        server.stop()


def test_a_new_database_has_16_kb_pages_and_an_export_index_that_holds_the_page(tmp_path: Path) -> None:
    SQLiteStore(str(tmp_path / "new.db")).close()
    assert _file(tmp_path / "new.db") == (16384, len(MIGRATIONS),
                                          ["account_id", "generated_timestamp", "id", *EXPORT_COVERED])


def test_a_database_of_the_previous_version_opens_and_serves_the_same_pages(tmp_path: Path) -> None:
    """It keeps its 4 KB pages and narrow index (covering entries would overflow its pages), is brought to the
    current version, and serves byte for byte the pages a new database does."""
    _database_of_the_previous_version(tmp_path / "old.db")
    assert _pages(tmp_path / "old.db") == _pages(tmp_path / "new.db")
    assert _file(tmp_path / "old.db") == (4096, len(MIGRATIONS), ["account_id", "generated_timestamp", "id"])


def test_a_bulk_load_into_an_emptied_database_of_the_previous_version_keeps_its_narrow_index(tmp_path: Path) -> None:
    _database_of_the_previous_version(tmp_path / "old.db")
    store = SQLiteStore(str(tmp_path / "old.db"))
    account = store.account(None)
    assert account is not None
    store.insert_tickets(account.id, (make_ticket(m) for m in range(10)))  # a load into a database with no ticket
    store.close()
    assert _file(tmp_path / "old.db") == (4096, len(MIGRATIONS), ["account_id", "generated_timestamp", "id"])


def test_a_database_of_the_previous_version_vacuumed_into_16_kb_pages_gets_the_covering_index(tmp_path: Path) -> None:
    """The conversion the benchmarks document: out of WAL mode, a new page size, VACUUM; then opened again."""
    _database_of_the_previous_version(tmp_path / "old.db")
    SQLiteStore(str(tmp_path / "old.db")).close()
    with closing(sqlite3.connect(tmp_path / "old.db", isolation_level=None)) as db:
        for pragma in ("PRAGMA journal_mode=DELETE", "PRAGMA page_size=16384", "VACUUM"):
            db.execute(pragma)
    SQLiteStore(str(tmp_path / "old.db")).close()
    assert _file(tmp_path / "old.db") == (16384, len(MIGRATIONS),
                                          ["account_id", "generated_timestamp", "id", *EXPORT_COVERED])
