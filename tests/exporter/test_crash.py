"""Kill ``zendesk-export export`` with SIGKILL at seeded random instants, resume it each time: every real output
(SQLite, JSONL, Parquet, PostgreSQL) ends with exactly the server's tickets, one row each, and is readable and
consistent after every kill; the file outputs' analyst tables stay in step with their tickets."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from tests.exporter.conftest import Output, create_tickets, server_truth
from zendesk_export.exporter.analyst import custom_field_value_rows, tag_rows
from zendesk_export.exporter.sinks import jsonl, parquet

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


def retag(server, ids: list[int], tag: str) -> None:
    """Give each of ``ids`` the single tag ``tag``: their earlier tags must leave the child table."""
    with server.client() as http:
        for ticket_id in ids:
            response = http.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"tags": [tag]}})
            assert response.is_success, response.text


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_killed_exports_leave_the_child_tables_in_step_with_the_stored_tickets(zendesk_server, new_output, kind):
    """A file output's analyst tables, killed at random instants while it rewrites retagged tickets and resumed,
    hold exactly the rows the stored tickets derive: none from a page that never committed, none missing, no
    replaced tag left behind."""
    output = new_output(kind)
    zendesk_server.admin.seed(tickets=300, random_seed=2)
    open_ids = create_tickets(zendesk_server, 250)  # a closed ticket takes no update
    zendesk_server.admin.advance(61)
    assert subprocess.run(command(zendesk_server, output.out), capture_output=True, timeout=120).returncode == 0
    rng = random.Random(20261207)
    killed_mid_export = 0
    for round_number in range(4):
        retag(zendesk_server, rng.sample(open_ids, 200), f"round-{round_number}")  # two pages and more
        zendesk_server.admin.advance(61)
        process = subprocess.Popen(command(zendesk_server, output.out), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        killed_mid_export += kill_after_page(process, 1, rng.uniform(0, 0.05))
    finished = subprocess.run(command(zendesk_server, output.out), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert killed_mid_export > 0
    tickets = output.tickets().values()
    assert output.versions() == server_truth(zendesk_server)
    read_rows = jsonl.read_rows if kind == "jsonl" else parquet.read_rows
    assert sorted((r["ticket_id"], r["tag"]) for r in read_rows(output.out, "ticket_tags")) == sorted(
        (r["ticket_id"], r["tag"]) for ticket in tickets for r in tag_rows(ticket))
    values = read_rows(output.out, "ticket_custom_field_values")
    assert sorted((r["ticket_id"], r["field_id"], r["value"]) for r in values) == sorted(
        (r["ticket_id"], r["field_id"], r["value"]) for ticket in tickets for r in custom_field_value_rows(ticket))
