"""Faults between the exporter and a real server — 429s with and without Retry-After, 5xx bursts, dropped
connections, truncated JSON, timeouts, empty pages that are not the end, a too-recent start_time — each run
ends with exactly the server's tickets."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import pytest

from tests.exporter.conftest import Fault, FaultyTransport, server_config, server_truth
from tests.exporter.sinks.conftest import SINKS
from zendesk_export.exporter import GaveUp, run_export

TOO_RECENT = b'{"error":"InvalidValue","description":"Too recent start_time. Use a start_time older than 1 minute"}'
RATE_LIMITED = b'{"error":"APIRateLimitExceeded","description":"Number of allowed incremental export API ' \
               b'requests per minute exceeded"}'

FAULTS = {
    "429-retry-after": Fault("status", times=2, status=429, headers={"retry-after": "3"}, body=RATE_LIMITED),
    "429-bare": Fault("status", times=2, status=429, body=RATE_LIMITED),
    "500-burst": Fault("status", times=4, status=500, body=b'{"error":"InternalError"}'),
    "503-burst": Fault("status", times=4, status=503),
    "502-html": Fault("status", times=2, status=502, body=b"<html><body>Bad Gateway</body></html>"),
    "dropped-before-answer": Fault("drop_before", times=3),
    "dropped-mid-body": Fault("drop_mid", times=3),
    "truncated-json": Fault("truncate", times=3),
    "timeout": Fault("timeout", times=2),
    "empty-page-not-end": Fault("empty_page", times=3),
}


def exported(out: str) -> dict[int, int]:
    """id → generated_timestamp of every ticket in a SQLite output."""
    with sqlite3.connect(out) as db:
        return dict(db.execute("SELECT id, generated_timestamp FROM tickets").fetchall())


@pytest.fixture
def seeded(zendesk_server):
    zendesk_server.admin.seed(tickets=1200, random_seed=8)
    zendesk_server.admin.advance(61)
    return zendesk_server


def each_sink_in_turn(names: list[str]) -> list[tuple[str, str, str]]:
    """(fault, mode, sink): every fault in both modes, the four real sinks taking turns, so that each sink meets
    faults in both modes without running the whole cross product."""
    cases = [(name, mode) for name in names for mode in ("time", "cursor")]
    return [(name, mode, SINKS[i % len(SINKS)]) for i, (name, mode) in enumerate(cases)]


@pytest.mark.parametrize(("name", "mode", "output"), each_sink_in_turn(list(FAULTS)), indirect=["output"])
def test_a_fault_in_the_middle_of_an_export_is_survived(seeded, name, mode, output):
    fault = FAULTS[name]
    transport = FaultyTransport(replace(fault, skip=2))  # a copy: the transport counts its `times` down
    sleeps: list[float] = []
    summary = run_export(server_config(seeded, mode=mode, per_page=250), output.out, transport=transport,
                         sleep=sleeps.append)
    assert output.versions() == server_truth(seeded)
    assert summary.new + summary.deleted == len(server_truth(seeded)) and summary.unchanged == 0
    faulty = [i for i, (_, _, kind) in enumerate(transport.journal) if kind]
    assert len(faulty) == fault.times
    after = transport.journal[faulty[-1] + 1]
    assert after[1] == transport.journal[faulty[0]][1]  # the same page was asked again
    assert summary.retries == fault.times and len(sleeps) == fault.times
    if name == "429-retry-after":
        assert sleeps == [3.0, 3.0] and summary.rate_limit_waits == 2


def test_a_too_recent_answer_mid_export_ends_the_run_and_the_next_run_finishes(seeded, output):
    """The server may say "too recent" (its clock moved back, a proxy…): that run stops as "nothing new",
    keeps its checkpoint, and the next run continues from it."""
    transport = FaultyTransport(Fault("status", status=422, body=TOO_RECENT, skip=2))
    config = server_config(seeded, per_page=250)
    first = run_export(config, output.out, transport=transport)
    assert first.pages == 2 and 0 < len(output.tickets()) < len(server_truth(seeded))
    assert output.checkpoint() == first.checkpoint
    second = run_export(config, output.out)
    assert output.versions() == server_truth(seeded)
    assert second.resumed_from == first.checkpoint


def test_a_server_that_stays_down_is_given_up_on_and_the_output_keeps_its_pages(seeded, output):
    transport = FaultyTransport(Fault("status", times=10_000, status=503, skip=2))
    with pytest.raises(GaveUp, match="server error 503"):
        run_export(server_config(seeded, per_page=250, retry_for=300), output.out, transport=transport)
    first_two_pages = transport.journal[:2]
    assert output.checkpoint() is not None and [kind for _, _, kind in first_two_pages] == [None, None]
    assert len(output.tickets()) == len({i for i in output.tickets()}) and 250 <= len(output.tickets()) <= 500
    run_export(server_config(seeded, per_page=250), output.out)
    assert output.versions() == server_truth(seeded)


SERVER_FAULTS = {
    "503-burst": {"status": 503, "body": "<html>Service Unavailable</html>"},
    "429-retry-after": {"status": 429, "headers": {"Retry-After": "7"}},
    "429-bare": {"status": 429, "body": {"error": "APIRateLimitExceeded"}},
    "drop-before-body": {"drop": "before_body"},
    "drop-mid-body": {"drop": "mid_body"},
    "truncate": {"truncate": True},
    "malformed": {"malformed": True},
    "empty-page": {"empty_page": True},
    "slower-than-the-timeout": {"latency_ms": 1500},
}


@pytest.mark.parametrize(("name", "mode", "output"), each_sink_in_turn(list(SERVER_FAULTS)), indirect=["output"])
def test_the_servers_own_faults_are_survived(seeded, name, mode, output):
    """Faults injected by the server (``PUT /__admin/faults``) on every 3rd export request, four times."""
    seeded.admin.set_faults([{"match": {"method": "GET", "path": "/api/v2/incremental/*"},
                              "action": SERVER_FAULTS[name], "every": 3, "times": 4}])
    sleeps: list[float] = []
    config = server_config(seeded, mode=mode, per_page=100, timeout=0.75)
    summary = run_export(config, output.out, sleep=sleeps.append)
    assert output.versions() == server_truth(seeded)
    assert summary.retries == len(sleeps) == 4  # each of the four faults cost exactly one retry
    if name == "429-retry-after":
        assert sleeps == [7.0] * 4
    wait_for_faulted_requests(seeded, 4)  # a delayed request we gave up on may still be in the server


def wait_for_faulted_requests(server, count: int) -> None:
    for _ in range(100):
        if len([entry for entry in server.admin.requests() if entry["fault"]]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server journaled fewer than {count} faulted requests")


@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_pacing_spends_the_rate_limit_to_the_last_request_without_a_429(seeded, mode, tmp_path):
    """Zendesk's 10 incremental requests a minute, on a frozen server clock that our sleep advances: the export
    waits for each window's reset when the headers say the bucket is empty, and never gets a 429."""
    seeded.admin.freeze()
    seeded.admin.set_rate_limit(enabled=True)
    out = str(tmp_path / "tickets.db")
    summary = run_export(server_config(seeded, mode=mode, per_page=50), out, sleep=seeded.admin.advance)
    statuses = [entry["status"] for entry in seeded.admin.requests() if "/incremental/" in entry["path"]]
    assert exported(out) == server_truth(seeded)
    assert statuses == [200] * summary.requests and summary.requests > 20
    assert summary.rate_limit_waits == (summary.requests - 1) // 10 and summary.retries == 0


def test_a_429_from_the_real_rate_limiter_is_waited_out(seeded, tmp_path):
    """A client that ignores pacing headers (another process spent the bucket) gets Zendesk's 429 and
    waits for its Retry-After."""
    seeded.admin.freeze()
    seeded.admin.set_rate_limit(enabled=True, incremental=2)
    with seeded.client() as http:
        for _ in range(2):
            http.get("/api/v2/incremental/tickets.json", params={"start_time": 0, "per_page": 1})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        seeded.admin.advance(seconds)

    out = str(tmp_path / "tickets.db")
    summary = run_export(server_config(seeded, per_page=1000), out, sleep=sleep)
    assert exported(out) == server_truth(seeded)
    assert summary.rate_limit_waits >= 1 and 0 < waits[0] <= 60
    assert [e["status"] for e in seeded.admin.requests()].count(429) == 1
