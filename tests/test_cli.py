"""The `zendesk-export` command, run as a user runs it: a real process, real port, real curl."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from zendesk_export.cli import main
from zendesk_export.server.store.sqlite import SQLiteStore

COMMAND = [sys.executable, "-m", "zendesk_export.cli"]
ADMIN_TOKEN = "cli-test-admin-token"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`zendesk-export serve --port 0 --seed 50`, until its banner's last line (the curl command)."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--db", str(tmp_path / "s.db"), "--port", "0", "--seed", "50",
         "--admin-token", ADMIN_TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    while not lines or not lines[-1].strip().startswith("curl"):
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited: {process.stderr.read() if process.stderr else ''}")
        lines.append(line)
    try:
        yield process, lines
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_serve_prints_a_curl_command_that_returns_a_page(served: tuple[subprocess.Popen[str], list[str]]) -> None:
    """The seed document's request (`curl -u login:password -G -d start_time=… …/incremental/tickets`)."""
    _, banner = served
    curl = shlex.split(banner[-1].strip())
    assert curl[:2] == ["curl", "-u"] and curl[-1].endswith("/api/v2/incremental/tickets")
    result = subprocess.run([*curl, "-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30,
                            check=True)
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200"
    page = json.loads(body)
    assert page["count"] == 50 and page["end_of_stream"] is True
    assert {"count", "end_of_stream", "end_time", "next_page", "tickets"} == set(page)


def test_serve_banner_names_credentials_and_admin_token(served: tuple[subprocess.Popen[str], list[str]]) -> None:
    text = "".join(served[1])
    assert "admin@example.com" in text and "demo-token" in text and f"Bearer {ADMIN_TOKEN}" in text


def test_serve_refuses_a_public_host_while_demo_credentials_exist(tmp_path: Path) -> None:
    result = subprocess.run([*COMMAND, "serve", "--db", str(tmp_path / "p.db"), "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "demo credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_seed_command_adds_tickets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "seeded.db"
    assert main(["seed", "--db", str(db), "--tickets", "40", "--random-seed", "2"]) == 0
    assert "added 40 tickets" in capsys.readouterr().out
    store = SQLiteStore(str(db))
    account = store.account(None)
    assert account is not None
    assert len(store.export_rows(account.id, 0, 2**40, 100, False)) == 40
    store.close()


def test_help_explains_every_serve_option() -> None:
    result = subprocess.run([*COMMAND, "serve", "--help"], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "COLUMNS": "200"})
    for flag in ("--db", "--host", "--port", "--seed", "--rate-limit", "--admin-token"):
        assert flag in result.stdout


def _serve_until_refused(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`zendesk-export serve …` expected to stop at once; a server that starts instead fails the test."""
    try:
        return subprocess.run([*COMMAND, "serve", "--port", "0", *arguments], capture_output=True, text=True,
                              timeout=30, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise AssertionError("serve started instead of refusing") from None


def test_serve_refuses_a_public_host_while_the_demo_password_still_logs_in(tmp_path: Path) -> None:
    """The demo tokens revoked, the published demo password alone is enough to refuse a public interface."""
    db = tmp_path / "p.db"
    SQLiteStore(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM credentials WHERE kind != 'password'")
    conn.close()
    result = _serve_until_refused("--db", str(db), "--host", "0.0.0.0")
    assert result.returncode == 2 and "demo-password" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_serve_refuses_an_admin_token_shorter_than_16_characters(tmp_path: Path, where: str) -> None:
    short = "x" * 15
    arguments = ["--admin-token", short] if where == "flag" else []
    env = {"ZENDESK_EXPORT_ADMIN_TOKEN": short} if where == "environment" else {}
    result = _serve_until_refused("--db", str(tmp_path / "t.db"), *arguments, env=env)
    assert result.returncode == 2 and "at least 16 characters" in result.stderr
    assert result.stderr.count("\n") == 1 and short not in result.stderr


def test_serve_banner_never_shows_the_database_password(tmp_path: Path) -> None:
    dsn = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES")
    if not dsn:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set: no PostgreSQL to serve from")
    # A password the trusted test server ignores; the schema keeps this test's tables apart.
    url = dsn.replace("://postgres@", "://postgres:s3cret-pw@") + f"?schema=banner_{uuid.uuid4().hex[:12]}"
    assert "s3cret-pw" in url
    process = subprocess.Popen([*COMMAND, "serve", "--db", url, "--port", "0", "--admin-token", ADMIN_TOKEN],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
    finally:
        process.terminate()
        rest, errors = process.communicate(timeout=10)
        _drop_schema(dsn, url)
    assert "zendesk-export server on" in first and "postgres:***@" in first
    assert "s3cret-pw" not in first + rest + errors


def _drop_schema(dsn: str, url: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {url.rsplit('schema=', 1)[1]} CASCADE")
