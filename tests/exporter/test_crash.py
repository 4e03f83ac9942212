"""Kill ``zendesk-export export`` with SIGKILL at seeded random instants, resume it each time: every real output
(SQLite, JSONL, Parquet, PostgreSQL) ends with exactly the server's tickets, one row each, and is readable and
consistent after every kill."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from tests.exporter.conftest import Output, create_tickets, server_truth

KILLS = 8


def command(server, out: str) -> list[str]:
    return [sys.executable, "-m", "zendesk_export.cli", "export", "--url", server.url, "--email", server.email,
            "--token", server.token, "--out", out, "--per-page", "100", "--no-backoff",
            "--streams", "tickets"]  # the ticket export alone; test_engine kills whole-account runs


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
def test_an_export_killed_at_random_instants_ends_with_exactly_the_servers_tickets(zendesk_server, output: Output):
    zendesk_server.admin.seed(tickets=4000, random_seed=1)  # 40 pages: eight kills of 1-3 pages land mid-export
    zendesk_server.admin.advance(61)
    rng = random.Random(20240208)
    killed_mid_export, sizes = 0, []
    for _ in range(KILLS):
        process = subprocess.Popen(command(zendesk_server, output.out), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        killed_mid_export += kill_after_page(process, rng.randint(1, 3), rng.uniform(0, 0.05))
        partial = output.versions()
        truth = server_truth(zendesk_server)
        assert all(ts <= truth[ticket_id] for ticket_id, ts in partial.items())
        sizes.append(len(partial))
        create_tickets(zendesk_server, 1)  # the account keeps changing between runs
        zendesk_server.admin.advance(61)
    finished = subprocess.run(command(zendesk_server, output.out), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert output.versions() == server_truth(zendesk_server)
    assert killed_mid_export == KILLS and sizes == sorted(sizes) and 0 < sizes[0] < sizes[-1]
