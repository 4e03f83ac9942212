"""A large seed renders its rows in a second process: the database it leaves is the one a seed rendered in one
process leaves, row for row, indexes included; a worker that fails says why."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from zendesk_export.server.model import seed_worker
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store.sqlite import SQLiteStore

NOW = 1_800_000_000
TABLES = ("tickets", "audits", "users", "organizations", "groups", "records", "satisfaction_ratings", "sequences")


def seeded_tables(path: Path, tickets: int, *, alone: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a seed writes, in a fixed order, and the database's indexes."""
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, 5, NOW, alone=alone)
    store.close()
    with closing(sqlite3.connect(path)) as db:
        rows = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall() for table in TABLES}
        rows["indexes"] = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY 1").fetchall()
    return rows


def test_a_seed_rendered_in_a_second_process_writes_the_same_rows(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    here = seeded_tables(tmp_path / "here.db", 5000)
    monkeypatch.setattr(seed_worker, "WORKER_FROM", 1000)
    there = seeded_tables(tmp_path / "there.db", 5000)
    assert len(there["tickets"]) == 5000
    assert there == here


def indexes(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1")]


def new_database(path: Path) -> tuple[SQLiteStore, int, list[str]]:
    """A new store at ``path``, its default account's id, and the indexes the store starts with."""
    store = SQLiteStore(str(path))
    account = store.account(None)
    assert account is not None
    return store, account.id, indexes(path)


def test_a_load_into_a_new_database_that_stops_still_leaves_every_index(tmp_path: Path) -> None:
    path = tmp_path / "cut.db"
    store, account_id, before = new_database(path)
    with pytest.raises(KeyboardInterrupt), store.ticket_loader(account_id) as loader:
        loader.reserve({"tickets": 1})
        assert "tickets_export" not in indexes(path)  # built at the end of the load
        raise KeyboardInterrupt
    store.close()
    assert indexes(path) == before
    with closing(sqlite3.connect(path)) as db:  # as a process killed mid-load leaves it
        db.execute("DROP INDEX tickets_export")
    SQLiteStore(str(path)).close()
    assert indexes(path) == before


def failing_tickets() -> Iterator[dict[str, Any]]:
    raise ValueError("no tickets today")
    yield {}


def test_a_worker_that_fails_sends_its_error_back() -> None:
    starts = {"tickets": 1, "audits": 1, "events": 1}
    with pytest.raises(RuntimeError, match="no tickets today"):
        list(seed_worker.rendered_batches(partial(failing_tickets), seed_worker.WORKER_FROM, 1, lambda c: starts))


def journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_seed_alone_in_a_new_database_writes_the_same_rows_and_leaves_it_in_wal_mode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``zendesk-export seed`` writes a new database without the WAL (``alone``): same rows, same indexes, and
    the file is in WAL mode again afterwards, as servers expect it."""
    monkeypatch.setattr(seed_worker, "WORKER_FROM", 1000)
    shared = seeded_tables(tmp_path / "shared.db", 3000)
    alone = seeded_tables(tmp_path / "alone.db", 3000, alone=True)
    assert len(alone["tickets"]) == 3000
    assert alone == shared
    assert journal_mode(tmp_path / "alone.db") == "wal"


def test_a_seed_alone_next_to_a_reader_keeps_the_wal_and_the_reader_reads(tmp_path: Path) -> None:
    """Another connection holding the file open (a server on it) keeps it in WAL mode during the seed: the seed
    goes through the WAL as a shared one does, and the other connection reads the new tickets."""
    path = tmp_path / "busy.db"
    SQLiteStore(str(path)).close()
    with closing(sqlite3.connect(path)) as other:
        assert other.execute("SELECT COUNT(*) FROM tickets").fetchone() == (0,)
        rows = seeded_tables(path, 500, alone=True)
        assert other.execute("SELECT COUNT(*) FROM tickets").fetchone() == (500,)
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert len(rows["tickets"]) == 500


def test_a_load_alone_that_stops_rolls_back_and_leaves_every_index_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "cut-alone.db"
    store, account_id, before = new_database(path)
    with pytest.raises(KeyboardInterrupt), store.ticket_loader(account_id, alone=True) as loader:
        loader.reserve({"tickets": 1})
        with pytest.raises(sqlite3.IntegrityError):  # a failed batch rolls back: no row of it is left
            loader.insert([], [(account_id, 1, 1, 0, None, "{}"), (account_id, 1, 1, 0, None, "{}")])
        raise KeyboardInterrupt
    store.close()
    assert indexes(path) == before
    assert journal_mode(path) == "wal"
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM audits").fetchone() == (0,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    SQLiteStore(str(path)).close()  # the load's mark went with it: the file is opened, not refused


def test_a_file_a_load_in_place_never_finished_is_refused_in_one_line(tmp_path: Path) -> None:
    """The mark of a load writing straight into a new file, left by a process that never finished it: the next
    command refuses the file with a one-line reason and exit 2 (its pages may be torn), never works on it."""
    path = tmp_path / "marked.db"
    SQLiteStore(str(path)).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE seed_in_progress (since TEXT)")
        db.commit()
    again = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "seed", "--db", str(path), "--tickets", "10"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0 and "delete the file and seed again" in again.stderr


def test_a_seed_killed_mid_load_leaves_a_file_the_next_command_uses_or_refuses_in_one_line(tmp_path: Path) -> None:
    """``zendesk-export seed`` into a new file, SIGKILLed (with its worker) while it writes: the next command on
    that file either works on a sound database or, as the load that writes straight into a new file left its
    mark (``_load_in_place``), refuses it in one line with exit 2. Never a traceback: a commit torn there can
    leave pages no table owns, which SQLite itself does not notice (integrity_check does)."""
    path = tmp_path / "killed.db"
    seed = [sys.executable, "-m", "zendesk_export.cli", "seed", "--db", str(path), "--random-seed", "1"]
    process = subprocess.Popen([*seed, "--tickets", "60000"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (path.exists() and path.stat().st_size > 8_000_000) and process.poll() is None:
            assert time.monotonic() < deadline, "the seed wrote nothing in two minutes"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    again = subprocess.run([*seed, "--tickets", "10"], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in again.stderr
    if again.returncode == 2:
        assert len(again.stderr.strip().splitlines()) == 1, again.stderr
        assert "delete the file and seed again" in again.stderr  # the load's mark, not luck, refused it
        return
    assert again.returncode == 0, again.stderr
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    fresh, _account_id, expected = new_database(tmp_path / "fresh.db")
    fresh.close()
    assert indexes(path) == expected, "the indexes the killed load had dropped are built again"
