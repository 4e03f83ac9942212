"""The `zendesk-export` command, run as a user runs it: a real process, real port, real curl."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zendesk_export.cli import main
from zendesk_export.server.store.sqlite import SQLiteStore

COMMAND = [sys.executable, "-m", "zendesk_export.cli"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`zendesk-export serve --port 0 --seed 50`, until its banner's last line (the curl command)."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--db", str(tmp_path / "s.db"), "--port", "0", "--seed", "50", "--admin-token", "t"],
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
    assert "admin@example.com" in text and "demo-token" in text and "Bearer t" in text


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
