"""Several `zendesk-export serve` processes on one database share its rate limits (the counters live there)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from zendesk_export.testing import AdminClient

COMMAND = [sys.executable, "-m", "zendesk_export.cli", "serve"]
ADMIN_TOKEN = "shared-admin-token"
EXPORT = "/api/v2/incremental/tickets.json"


@contextlib.contextmanager
def serve_process(db: Path, *options: str) -> Iterator[str]:
    """`zendesk-export serve --db DB --port 0 …` in a subprocess; yields its URL (from the banner); stops it."""
    process = subprocess.Popen([*COMMAND, "--db", str(db), "--port", "0", "--admin-token", ADMIN_TOKEN, *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # "zendesk-export server on http://127.0.0.1:PORT  (database: …)"
        if not first.startswith("zendesk-export server on "):
            raise AssertionError(f"serve did not start: {first}{process.communicate(timeout=30)[1]}")
        yield first.split()[3]
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    assert process.returncode is not None


def test_two_server_processes_on_one_database_share_the_incremental_limit(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with serve_process(db, "--rate-limit", "on") as first, serve_process(db, "--rate-limit", "on") as second:
        assert first != second
        for url in (first, second):  # each process has its own clock: put both on the same whole minute
            admin = AdminClient(url, ADMIN_TOKEN)
            admin.freeze(1_700_000_040)
            admin.close()
        auth = ("admin@example.com/token", "demo-token")
        with httpx.Client(auth=auth, timeout=30) as http:
            responses = [http.get((first, second)[i % 2] + EXPORT, params={"start_time": 0}) for i in range(12)]
    assert [r.status_code for r in responses] == [200] * 10 + [429, 429]
    remaining = [r.headers["zendesk-ratelimit-incremental-exports"] for r in responses[:10]]
    assert remaining == [f"total=10; remaining={9 - i}; resets=60" for i in range(10)]
    assert [r.headers["x-rate-limit-remaining"] for r in responses] == [str(699 - i) for i in range(12)]
