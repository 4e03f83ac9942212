"""Kill ``zendesk-export export`` with SIGKILL at seeded random instants, resume it each time: the output ends
with exactly the server's tickets, one row each, and is readable and consistent after every kill."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.exporter.conftest import create_tickets, server_truth
from zendesk_export.exporter.sinks import read_jsonl_latest

KILLS = 8


def exported(out: Path) -> dict[int, int]:
    """id → generated_timestamp as a reader of the output sees it (fails loudly on a damaged output)."""
    if out.suffix == ".jsonl":
        return {i: t["generated_timestamp"] for i, t in read_jsonl_latest(out).items()} if out.exists() else {}
    if not out.exists():
        return {}
    with sqlite3.connect(f"file:{out}?mode=ro", uri=True) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'tickets'").fetchone():
            return {}
        rows = db.execute("SELECT id, generated_timestamp FROM tickets").fetchall()
    assert len(rows) == len({row[0] for row in rows}), "duplicate rows"
    return dict(rows)


def command(server, out: Path) -> list[str]:
    return [sys.executable, "-m", "zendesk_export.cli", "export", "--url", server.url, "--email", server.email,
            "--token", server.token, "--out", str(out), "--per-page", "100", "--no-backoff"]


def kill_after_page(process: subprocess.Popen[str], page: int, extra: float) -> bool:
    """SIGKILL ``extra`` seconds after the export reports page ``page`` (its plain progress lines on stderr),
    so that the kills fall at random points of the stream *and* of the request/write cycle. Whether the
    process was still exporting when killed."""
    assert process.stderr is not None
    for line in process.stderr:
        if " page " in line and int(line.split(" page ")[1].split(":")[0]) >= page:
            time.sleep(extra)
            break
    alive = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tickets.db", "tickets.jsonl"])
def test_an_export_killed_at_random_instants_ends_with_exactly_the_servers_tickets(zendesk_server, tmp_path,
                                                                                    name):
    zendesk_server.admin.seed(tickets=10_000, random_seed=1)
    zendesk_server.admin.advance(61)
    out = tmp_path / name
    rng = random.Random(20240208)
    killed_mid_export, sizes = 0, []
    for _ in range(KILLS):
        process = subprocess.Popen(command(zendesk_server, out), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        killed_mid_export += kill_after_page(process, rng.randint(1, 8), rng.uniform(0, 0.05))
        partial = exported(out)
        truth = server_truth(zendesk_server)
        assert all(ts <= truth[ticket_id] for ticket_id, ts in partial.items())
        sizes.append(len(partial))
        create_tickets(zendesk_server, 1)  # the account keeps changing between runs
        zendesk_server.admin.advance(61)
    finished = subprocess.run(command(zendesk_server, out), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert exported(out) == server_truth(zendesk_server)
    assert killed_mid_export == KILLS and sizes == sorted(sizes) and 0 < sizes[0] < sizes[-1]
