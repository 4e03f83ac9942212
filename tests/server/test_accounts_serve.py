"""What `zendesk-export serve` tells about the account it serves and the requests it answers: `--seed N` fills
an empty account only, the banner says how many tickets the account holds, a long seed shows progress, an access
log line per request (secrets left out; none with `--quiet`), and a last line when it stops."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

COMMAND = [sys.executable, "-m", "zendesk_export.cli", "serve", "--port", "0", "--admin-token",
           "serve-log-admin-token"]
AUTH = ("admin@example.com/token", "demo-token")


def serve_once(db: Path, *options: str, requests: tuple[str, ...] = (),
               stop: signal.Signals = signal.SIGTERM) -> tuple[str, str]:
    """Start `serve`, wait for its banner, make ``requests`` (paths), stop it with ``stop``; (stdout, stderr)."""
    process = subprocess.Popen([*COMMAND, "--db", str(db), *options], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    while not lines or not lines[-1].lstrip().startswith("curl"):
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited: {process.communicate(timeout=30)}")
        lines.append(line)
    url = lines[0].split()[3]
    with httpx.Client(base_url=url, auth=AUTH, timeout=30) as client:
        for path in requests:
            client.get(path)
    process.send_signal(stop)
    out, err = process.communicate(timeout=30)
    return "".join(lines) + out, err


def banner_tickets(out: str) -> int:
    match = re.search(r"account +example \(default; (\d+) tickets;", out)
    assert match is not None, out
    return int(match.group(1))


@pytest.mark.slow
def test_seed_fills_an_empty_account_only_and_the_banner_counts_its_tickets(tmp_path: Path) -> None:
    db = tmp_path / "seeded.db"
    first_out, first_err = serve_once(db, "--seed", "30")
    second_out, second_err = serve_once(db, "--seed", "30")
    assert banner_tickets(first_out) == 30 and "skipped" not in first_err
    assert banner_tickets(second_out) == 30
    assert "--seed 30 skipped: account example already holds 30 tickets" in second_err


@pytest.mark.slow
def test_a_long_seed_shows_its_progress(tmp_path: Path) -> None:
    out, err = serve_once(tmp_path / "big.db", "--seed", "10001")
    assert re.search(r"^seeding account example: 10000/10001 tickets \(\d+s\)$", err, re.MULTILINE), err
    assert banner_tickets(out) == 10001


@pytest.mark.slow
def test_every_request_gets_an_access_log_line_without_its_secrets(tmp_path: Path) -> None:
    out, err = serve_once(tmp_path / "log.db", requests=("/api/v2/users/me.json?api_token=s3cr3t&x=1",
                                                         "/api/v2/nothing/here"))
    assert re.search(r"^\d\d:\d\d:\d\d 127\.0\.0\.1 GET /api/v2/users/me\.json\?api_token=\*\*\*&x=1 200 "
                     r"\d+\.\dms$", err, re.MULTILINE), err
    assert re.search(r" GET /api/v2/nothing/here 404 \d+\.\dms$", err, re.MULTILINE), err
    assert "s3cr3t" not in err + out and "demo-token" not in err


@pytest.mark.slow
def test_quiet_serve_logs_no_requests(tmp_path: Path) -> None:
    _, err = serve_once(tmp_path / "quiet.db", "--quiet", requests=("/api/v2/users/me.json",))
    assert "/api/v2/users/me.json" not in err


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_says_when_it_stops(tmp_path: Path, stop: signal.Signals) -> None:
    out, err = serve_once(tmp_path / "stop.db", stop=stop)
    url = out.splitlines()[0].split()[3]
    assert out.rstrip().splitlines()[-1] == f"zendesk-export server on {url} stopped"
    assert "Traceback" not in err


def test_the_seed_command_writes_on_the_accounts_stored_clock(tmp_path: Path) -> None:
    """Tickets seeded into an account whose clock runs a year ahead are dated by that clock, not the wall's: an
    exporter that has seen the account's present never misses them."""
    from zendesk_export.server.store import open_store

    db = str(tmp_path / "ahead.db")
    store = open_store(db)
    account = store.account(None)
    assert account is not None
    store.change_clock(account.id, lambda state: state.freeze(4_000_000_000, 1_700_000_000))
    store.close()
    result = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "seed", "--db", db, "--tickets", "20"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    store = open_store(db)
    newest = max(row.generated_timestamp for row in store.export_rows(account.id, 0, 2**40, 100, False))
    store.close()
    assert 4_000_000_000 - 200 * 86_400 < newest <= 4_000_000_000
