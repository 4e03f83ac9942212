"""Exports in concurrent windows: over any history the windows together store exactly what one sequential walk
stores, each ticket delivered once; a run killed mid-window resumes every window where it stood; several
windows in flight against a real server with a binding rate limit never meet a 429."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exporter.conftest import Output, server_config, server_truth
from zendesk_export.exporter import ExportConfig, run_export
from zendesk_export.exporter.sinks.base import Checkpoint
from zendesk_export.exporter.windows import Plan, Window, clip, split

BASE = 1_700_000_000  # the history's first second
NOW = BASE + 100_000  # the account's clock


class History:
    """Zendesk's two ticket exports over a fixed list of ``(generated_timestamp, id)``: the cursor export
    (after a position, ``per_page`` items, ``after_cursor`` of the last) and the time-based one (from
    ``start_time`` inclusive, a full page extended to the whole group of its last second, ``end_time`` that
    second, or the next one when the page is all one second)."""

    def __init__(self, stamps: list[int]) -> None:
        self.items = sorted((BASE + stamp, number + 1) for number, stamp in enumerate(stamps))
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        params = dict(request.url.params)
        per_page = int(params["per_page"])
        body = self._cursor(params, per_page) if "cursor" in request.url.path else self._time(params, per_page)
        return httpx.Response(200, json=body, headers={"Date": formatdate(NOW, usegmt=True)})

    def _cursor(self, params: dict[str, str], per_page: int) -> dict[str, Any]:
        if "cursor" in params:
            stamp, _, number = base64.b64decode(params["cursor"]).decode().partition(".0||")
            after = (int(stamp), int(number.rstrip("|")))
        else:
            after = (int(params["start_time"]), 0)
        rest = [item for item in self.items if item > after]
        page = rest[:per_page]
        last = page[-1] if page else after
        return {"tickets": [ticket(*item) for item in page], "end_of_stream": len(rest) <= per_page,
                "after_cursor": base64.b64encode(f"{last[0]}.0||{last[1]}|".encode()).decode()}

    def _time(self, params: dict[str, str], per_page: int) -> dict[str, Any]:
        start = int(params["start_time"])
        rest = [item for item in self.items if item[0] >= start]
        page = rest[:per_page]
        if len(page) == per_page:
            page = [item for item in rest if item[0] <= page[-1][0]]
        end = (page[-1][0] + (page[-1][0] == start)) if page else start
        return {"tickets": [ticket(*item) for item in page], "end_time": end if page else None,
                "end_of_stream": len(page) == len(rest), "count": len(page)}


def ticket(stamp: int, number: int) -> dict[str, Any]:
    return {"id": number, "generated_timestamp": stamp, "status": "open", "subject": f"ticket {number}"}


def export(history: History, out: str, **options: Any) -> tuple[dict[int, int], Any]:
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True, **options)
    summary = run_export(config, out, transport=httpx.MockTransport(history))
    with sqlite3.connect(out) as db:
        return dict(db.execute("SELECT id, generated_timestamp FROM tickets").fetchall()), summary


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stamps=st.lists(st.integers(0, 90_000) | st.sampled_from([0, 5, 5, 5, 77, 40_000]), max_size=250),
       per_page=st.integers(1, 40), concurrency=st.integers(2, 6), mode=st.sampled_from(["time", "cursor"]))
def test_windows_together_store_exactly_what_a_sequential_walk_stores(stamps, per_page, concurrency, mode):
    history = History(stamps)
    with tempfile.TemporaryDirectory() as folder:
        sequential, _ = export(history, f"{folder}/one.db", per_page=per_page, mode=mode, concurrency=1)
        windows, summary = export(history, f"{folder}/many.db", per_page=per_page, mode=mode,
                                  concurrency=concurrency)
        again = run_export(ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", mode=mode,
                                        no_backoff=True, per_page=per_page), f"{folder}/many.db",
                           transport=httpx.MockTransport(history))
    assert windows == sequential == {number: stamp for stamp, number in history.items}
    assert summary.tickets == len(history.items)  # each ticket handed to the sink once
    assert Plan.of(summary.checkpoint) is None if summary.checkpoint else True  # done: a plain position again
    assert (again.new, again.updated) == (0, 0)


def test_the_history_is_cut_into_equal_spans_after_the_first_page():
    windows = split(BASE, "cursor-after-page-1", BASE + 100, BASE + 1000, 4)
    assert [(w.start, w.end, w.at) for w in windows] == [
        (BASE, BASE + 325, "cursor-after-page-1"), (BASE + 325, BASE + 550, None), (BASE + 550, BASE + 775, None),
        (BASE + 775, None, None)]


def test_a_page_reaching_the_next_window_keeps_only_its_own_tickets_and_finishes_the_window():
    window = Window(BASE, BASE + 10, "a")

    class Page:
        tickets = [ticket(BASE + 8, 1), ticket(BASE + 9, 2), ticket(BASE + 10, 3), ticket(BASE + 11, 4)]
        checkpoint = Checkpoint("cursor", "b", "https://acme.zendesk.com")
        end_of_stream = False

    assert [t["id"] for t in clip(window, Page(), "cursor")] == [1, 2]
    assert (window.at, window.done) == ("b", True)


def test_a_windows_checkpoint_round_trips_and_a_plain_one_is_no_plan():
    plan = Plan("cursor", "https://acme.zendesk.com", [Window(1, 5, "x", True), Window(5, None, None)])
    assert Plan.of(plan.checkpoint()) == plan
    assert Plan.of(Checkpoint("time", "1700000000", "https://acme.zendesk.com")) is None
    plan.windows[1].at, plan.windows[1].done = "y", True
    assert plan.checkpoint() == Checkpoint("cursor", "y", "https://acme.zendesk.com")


def command(server, out: str) -> list[str]:
    return [sys.executable, "-m", "zendesk_export.cli", "export", "--url", server.url, "--email", server.email,
            "--token", server.token, "--out", out, "--per-page", "100", "--no-backoff", "--concurrency", "3",
            "--mode", "cursor", "--verbose"]


def kill_after_page(process: subprocess.Popen[str], page: int) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if " page " in line and int(line.split(" page ")[1].split(":")[0]) >= page:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()


@pytest.mark.slow
def test_an_export_in_windows_killed_mid_window_resumes_every_window_exactly(zendesk_server, output: Output):
    zendesk_server.admin.seed(tickets=6000, random_seed=3)
    zendesk_server.admin.advance(61)
    plans = []
    for page in (4, 9, 15):
        process = subprocess.Popen(command(zendesk_server, output.out), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        kill_after_page(process, page)
        checkpoint = output.checkpoint()
        assert checkpoint is not None
        plans.append(Plan.of(checkpoint))
        truth = server_truth(zendesk_server)
        assert all(stamp <= truth[number] for number, stamp in output.versions().items())
    assert all(plan is not None and len(plan.windows) >= 3 and plan.pending() for plan in plans)
    finished = subprocess.run(command(zendesk_server, output.out), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert output.versions() == server_truth(zendesk_server)
    final = output.checkpoint()
    assert final is not None and Plan.of(final) is None


@pytest.mark.slow
def test_several_windows_in_flight_spend_a_binding_rate_limit_without_a_429(zendesk_server, tmp_path: Path):
    """60 export requests a minute (slots a second apart), answers delayed 1.5 s so that several are in flight,
    more pages than one minute allows: every request answered 200, and the export is whole."""
    zendesk_server.admin.seed(tickets=6500, random_seed=4)
    zendesk_server.admin.advance(61)
    zendesk_server.admin.set_rate_limit(enabled=True, incremental=60)
    zendesk_server.admin.set_faults([{"match": {"method": "GET", "path": "/api/v2/incremental/*"},
                                      "action": {"latency_ms": 1500}, "every": 1}])
    zendesk_server.admin.clear_requests()
    out = str(tmp_path / "tickets.db")
    summary = run_export(server_config(zendesk_server, per_page=100, concurrency=3, mode="cursor",
                                       no_backoff=False), out)
    statuses = [entry["status"] for entry in zendesk_server.admin.requests() if "/incremental/" in entry["path"]]
    assert summary.requests > 60 and statuses == [200] * summary.requests
    with sqlite3.connect(out) as db:
        assert dict(db.execute("SELECT id, generated_timestamp FROM tickets")) == server_truth(zendesk_server)


@pytest.mark.slow
def test_ctrl_c_during_an_export_in_windows_exits_130_and_the_next_run_finishes_it(zendesk_server, tmp_path: Path):
    zendesk_server.admin.seed(tickets=5000, random_seed=5)
    zendesk_server.admin.advance(61)
    zendesk_server.admin.set_faults([{"match": {"method": "GET", "path": "/api/v2/incremental/*"},
                                      "action": {"latency_ms": 100}, "every": 1}])
    out = str(tmp_path / "tickets.db")
    process = subprocess.Popen(command(zendesk_server, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if " page 5:" in line:
            break
    process.send_signal(signal.SIGINT)
    message = process.communicate(timeout=60)[1]
    assert process.returncode == 130 and "run the same command again to resume" in message
    finished = subprocess.run(command(zendesk_server, out), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(out) as db:
        assert dict(db.execute("SELECT id, generated_timestamp FROM tickets")) == server_truth(zendesk_server)


def test_concurrency_is_an_option_of_the_export_command_with_its_environment_variable():
    shown = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "export", "--help"], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert "--concurrency N" in shown.stdout and "ZENDESK_EXPORT_CONCURRENCY" in shown.stdout


def test_a_concurrency_out_of_range_is_a_usage_error():
    refused = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "export", "--url", "http://127.0.0.1:9",
                              "--email", "a@b.c", "--token", "T", "--concurrency", "65"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "concurrency" in refused.stderr


class Recording:
    """A real SQLite sink that remembers the checkpoint committed with every page."""

    def __init__(self, out: str) -> None:
        from zendesk_export.exporter.sinks import open_sink

        self.sink = open_sink(out)
        self.checkpoints: list[Checkpoint] = []

    def load_checkpoint(self) -> Checkpoint | None:
        return self.sink.load_checkpoint()

    def write(self, page: Any) -> Any:
        self.checkpoints.append(page.checkpoint)
        return self.sink.write(page)

    def close(self) -> None:
        self.sink.close()


@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_workers_whose_windows_are_empty_share_the_crowded_one(tmp_path: Path, mode: str):
    """Every ticket in the last tenth of the history: the first two of three windows finish at once, and their
    workers take halves of what lies ahead of the third, which the checkpoints show; the output is whole."""
    history = History([90_000 + (number * 7) % 9_000 for number in range(600)])
    sink = Recording(str(tmp_path / "tickets.db"))
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True, per_page=10,
                          mode=mode, concurrency=3)
    summary = run_export(config, sink, transport=httpx.MockTransport(history))
    sink.close()
    plans = [plan for plan in map(Plan.of, sink.checkpoints) if plan is not None]
    assert max(len(plan.windows) for plan in plans) > 3
    assert summary.tickets == 600
    with sqlite3.connect(tmp_path / "tickets.db") as db:
        stored = dict(db.execute("SELECT id, generated_timestamp FROM tickets"))
    assert stored == {number: stamp for stamp, number in history.items}
