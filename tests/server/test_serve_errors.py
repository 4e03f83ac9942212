"""`serve` and `seed` refuse what they cannot use in one line of the command's error format with exit 2 — never a
traceback: another application's SQLite file (left untouched), a file that is not a database, a path that cannot
be opened, an unreachable PostgreSQL (its password never shown), a port in use."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "zendesk_export.cli"]
ADMIN_TOKEN = "serve-errors-admin-token"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120, check=False)


def _foreign(tmp_path: Path) -> str:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO people (name) VALUES ('Ada')")
    return str(path)


def _text_file(tmp_path: Path) -> str:
    path = tmp_path / "notes.db"
    path.write_text("not a database, only notes\n" * 100)
    return str(path)


def _missing_directory(tmp_path: Path) -> str:
    return str(tmp_path / "no" / "such" / "dir" / "z.db")


def _directory(tmp_path: Path) -> str:
    (tmp_path / "dir.db").mkdir()
    return str(tmp_path / "dir.db")


def _unreachable_postgres(tmp_path: Path) -> str:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://someone:hunter2-secret@127.0.0.1:{port}/db"


DATABASES: list[tuple[Callable[[Path], str], str]] = [
    (_foreign, "is not a zendesk-export server database (it has other tables: people); refusing to change it"),
    (_text_file, "file is not a database"),
    (_missing_directory, "unable to open database file"),
    (_directory, "unable to open database file"),
    (_unreachable_postgres, "Connection refused"),
]


def _assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zendesk-export: error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2-secret" not in result.stderr + result.stdout


@pytest.mark.parametrize(("make", "expected"), DATABASES, ids=[make.__name__.strip("_") for make, _ in DATABASES])
@pytest.mark.parametrize("command", ["serve", "seed"])
def test_a_database_that_cannot_be_used_is_refused_in_one_line(tmp_path: Path, make: Callable[[Path], str],
                                                               expected: str, command: str) -> None:
    db = make(tmp_path)
    extra = ["--port", "0", "--admin-token", ADMIN_TOKEN] if command == "serve" else ["--tickets", "5"]
    _assert_one_line_error(_run(command, "--db", db, *extra), expected)


def test_another_applications_sqlite_file_is_left_as_it_was(tmp_path: Path) -> None:
    db = _foreign(tmp_path)
    before = Path(db).read_bytes()
    _run("serve", "--db", db, "--port", "0", "--admin-token", ADMIN_TOKEN)
    _run("seed", "--db", db, "--tickets", "5")
    assert Path(db).read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("people",)]


def test_an_empty_file_becomes_a_server_database(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    result = _run("seed", "--db", str(tmp_path / "empty.db"), "--tickets", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 5 tickets")


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _run("serve", "--db", str(tmp_path / "z.db"), "--port", str(port), "--admin-token", ADMIN_TOKEN)
    _assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")
