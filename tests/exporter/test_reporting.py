"""What the export and demo commands print and where: versions, quiet/verbose, JSON logs and summaries, an
ETA and a countdown in the progress, UTC dates in the summary, the tickets kept after Ctrl-C, and a warning
when sideloads are added to an existing export."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from zendesk_export import __version__
from zendesk_export.cli import main
from zendesk_export.exporter import Progress, Wait
from zendesk_export.exporter.moments import checkpoint_moment
from zendesk_export.exporter.outputs import ACCEPTED_FORMS
from zendesk_export.exporter.reporting import _Bar, _Lines, eta_seconds
from zendesk_export.exporter.sinks.base import Checkpoint


@pytest.fixture
def seeded(zendesk_server):
    zendesk_server.admin.seed(tickets=300, random_seed=3)
    zendesk_server.admin.advance(61)
    return zendesk_server


def export_args(server, out: Path, *extra: str) -> list[str]:
    return ["export", "--url", server.url, "--email", server.email, "--token", server.token, "--out", str(out),
            "--no-backoff", "--per-page", "100", *extra]


@pytest.mark.parametrize("command", [["zendesk-export"], [sys.executable, "-m", "zendesk_export"]])
def test_version_is_printed_by_the_script_and_by_python_dash_m(command):
    result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"zendesk-export {__version__}\n")


def test_quiet_prints_nothing_on_success(seeded, tmp_path, capsys):
    assert main(export_args(seeded, tmp_path / "t.db", "--quiet")) == 0
    assert capsys.readouterr() == ("", "")


def test_verbose_shows_the_checkpoint_of_every_page_as_a_utc_date(seeded, tmp_path, capsys):
    assert main(export_args(seeded, tmp_path / "t.db", "--verbose")) == 0
    pages = [line for line in capsys.readouterr().err.splitlines() if " page " in line]
    assert len(pages) >= 3 and all("; checkpoint 20" in line and line.endswith(" UTC") for line in pages)


def test_json_logs_are_one_object_per_line_ending_with_the_summary(seeded, tmp_path, capsys):
    assert main(export_args(seeded, tmp_path / "t.db", "--log-format", "json")) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.err.splitlines()]
    assert {r["event"] for r in records[:-1]} == {"page"} and records[-1]["event"] == "summary"
    assert records[0]["tickets"] == 100 and records[0]["time"].endswith("Z")
    assert records[-1]["tickets"] == 300 and records[-1]["checkpoint"]["moment"].endswith("Z")
    assert captured.out == ""


def test_json_logs_report_an_error_with_its_exit_code(tmp_path, capsys):
    assert main(["export", "--url", "http://127.0.0.1:9", "--oauth-token", "x", "--out", str(tmp_path / "t.csv"),
                 "--log-format", "json"]) == 2
    [record] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (record["level"], record["event"], record["exit_code"]) == ("error", "error", 2)
    assert record["message"].endswith("t.csv: zendesk-export does not write .csv files; use " + ACCEPTED_FORMS)


def test_summary_json_to_stdout_is_one_document_and_the_text_goes_to_stderr(seeded, tmp_path, capsys):
    assert main(export_args(seeded, tmp_path / "t.db", "--summary-json", "-")) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["status"] == "ok" and document["new"] + document["deleted"] == 300
    assert document["output"] == str(tmp_path / "t.db") and document["resumed_from"] is None
    assert document["checkpoint"]["mode"] == "time" and document["checkpoint"]["moment"].endswith("Z")
    assert "tickets: 300 exported" in captured.err


def test_summary_json_file_holds_the_failure_too(tmp_path, capsys):
    summary = tmp_path / "summary.json"
    assert main(["export", "--url", "http://127.0.0.1:9", "--oauth-token", "x", "--out", str(tmp_path / "t.csv"),
                 "--summary-json", str(summary)]) == 2
    document = json.loads(summary.read_text())
    assert document["status"] == "failed" and document["exit_code"] == 2 and "t.csv" in document["error"]


def test_the_summary_shows_utc_dates_not_epochs_or_cursors(seeded, tmp_path, capsys):
    for mode in ("time", "cursor"):
        out = tmp_path / f"{mode}.db"
        assert main(export_args(seeded, out, "--mode", mode)) == 0
        assert main(export_args(seeded, out, "--mode", mode)) == 0
        text = capsys.readouterr().out
        resumed = [line for line in text.splitlines() if "resumed from" in line]
        assert resumed and all(line.split("resumed from ")[1].split(",")[0].endswith(" UTC") for line in resumed)
        assert "next run resumes from 20" in text


@pytest.mark.parametrize(("checkpoint", "moment"), [
    (Checkpoint("time", "1700000000", "s"), 1_700_000_000),
    (Checkpoint("cursor", "MTczNTEwODQzNC4wfHwyM3w=", "s"), 1_735_108_434),  # recorded from Zendesk
    (Checkpoint("cursor", "MTczNTEwODQzNC4wfHwyM3w", "s"), 1_735_108_434),  # padding lost in transit
    (Checkpoint("cursor", "opaque!", "s"), None),
])
def test_a_checkpoint_tells_its_moment_when_it_can(checkpoint, moment):
    assert checkpoint_moment(checkpoint) == moment


def event(kind: str, reached: int, wait: Wait | None = None) -> Progress:
    return Progress(kind, 3, 2500, 4, 1, 1, 10.0, 1_700_000_000, reached, 1_700_100_000, wait)


def test_the_eta_is_the_pace_so_far_applied_to_what_is_left():
    assert eta_seconds(event("page", 1_700_025_000), elapsed=30.0) == pytest.approx(90.0)
    assert eta_seconds(event("page", 1_700_000_000), elapsed=30.0) is None  # nothing done yet: no guess


def test_plain_lines_show_the_eta_and_are_never_cut(monkeypatch):
    stream = io.StringIO()
    lines = _Lines(stream)
    monkeypatch.setattr(lines, "started", time.monotonic() - 30)
    lines(event("page", 1_700_025_000))
    reason = "rate limit bucket empty, waiting for its reset " + "x" * 120
    lines(event("wait", 1_700_025_000, Wait("rate_limit", 42.0, reason)))
    page, wait = stream.getvalue().splitlines()
    assert "about 1m30s left" in page
    assert wait.endswith(f"waiting 42.0s: {reason}")


def test_the_bar_counts_down_a_pause_and_stays_visible():
    stream = io.StringIO()
    bar = _Bar(Console(file=stream, force_terminal=True, width=200))
    bar(event("page", 1_700_050_000))
    bar(event("wait", 1_700_050_000, Wait("rate_limit", 30.0, "rate limited (429)")))
    first = stream.getvalue().rsplit("waiting", 1)[1]
    bar.progress.refresh()
    bar.close()
    rendered = stream.getvalue()
    assert first.startswith(" 30s (rate limited (429))")
    assert "waiting 29s (rate limited (429))" in rendered or "waiting 30s" in rendered.rsplit("\r", 1)[-1]
    assert "50%" in rendered.rsplit("waiting", 1)[1]  # the bar and its share stay during the pause


def test_ctrl_c_says_how_many_tickets_the_output_kept(seeded, tmp_path, capsys, monkeypatch):
    from zendesk_export.exporter import export as export_module

    original = export_module._Run._write
    calls = []

    def interrupt_on_third_page(run, page):
        calls.append(page)
        if len(calls) == 3:
            raise KeyboardInterrupt
        original(run, page)

    monkeypatch.setattr(export_module._Run, "_write", interrupt_on_third_page)
    assert main(export_args(seeded, tmp_path / "t.db")) == 130
    err = capsys.readouterr().err.splitlines()
    with sqlite3.connect(tmp_path / "t.db") as db:
        kept = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert 0 < kept < 300
    assert err[-1] == (f"zendesk-export: error: interrupted; the output keeps the {kept} tickets written so far, "
                       "run the same command again to resume")
    assert sum(f" page 2: {kept} tickets" in line for line in err) == 1  # the last progress line, once


@pytest.mark.parametrize("name", ["t.db", "t.jsonl", "t.parquet"])
def test_adding_include_to_an_existing_export_warns_and_says_how_to_backfill(seeded, tmp_path, capsys, name):
    out = tmp_path / name
    tickets = ("--streams", "tickets")  # the users and groups streams would bring every user and group anyway
    assert main(export_args(seeded, out, *tickets)) == 0
    capsys.readouterr()
    assert main(export_args(seeded, out, *tickets, "--include", "users,groups")) == 0
    err = capsys.readouterr().err
    assert ("zendesk-export: warning: --include users,groups: this output was exported without users,groups so "
            "far; only tickets exported from now on bring theirs. To have them for every ticket, export once "
            "into a new --out with --include users,groups --start-time 0") in err
    assert main(export_args(seeded, out, "--include", "users,groups")) == 0  # now held: no warning
    assert "warning" not in capsys.readouterr().err


def test_include_on_a_new_output_does_not_warn(seeded, tmp_path, capsys):
    assert main(export_args(seeded, tmp_path / "t.db", "--include", "users")) == 0
    assert "warning" not in capsys.readouterr().err
