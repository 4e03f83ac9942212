"""The exit codes of ``zendesk-export export`` that need a failure in the middle of a run, through the real
command against a real server: 1 (the API keeps failing), 130 (interrupted), 4 (the PostgreSQL output goes
away mid-export). Each time the pages written so far are kept and the next run finishes with exactly the
server's tickets."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import psycopg

from tests.exporter.conftest import Output, server_truth

SLOW_EXPORT = [{"match": {"path": "/api/v2/incremental/*"}, "action": {"latency_ms": 150}, "times": 10_000}]


def command(server, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zendesk_export.cli", "export", "--url", server.url, "--email", server.email,
            "--token", server.token, "--out", out, "--per-page", "100", "--no-backoff", *extra]


def seeded(server, tickets: int = 1000) -> None:
    server.admin.seed(tickets=tickets, random_seed=3)
    server.admin.advance(61)


def run_until_page(server, out: str, page: int, act: Callable[[subprocess.Popen[str]], None],
                   *extra: str) -> tuple[int, str]:
    """Start a slowed-down export, ``act`` on it once it reports ``page``; its exit code and the rest of stderr."""
    server.admin.set_faults(SLOW_EXPORT)
    process = subprocess.Popen(command(server, out, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if " page " in line and int(line.split(" page ")[1].split(":")[0]) >= page:
            act(process)
            break
    rest = process.stderr.read()
    process.stderr.close()
    server.admin.clear_faults()
    return process.wait(timeout=60), rest


def finish(server, output: Output) -> None:
    """The next run completes, with exactly the server's tickets."""
    again = subprocess.run(command(server, output.out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert output.versions() == server_truth(server)


def test_an_api_that_keeps_failing_exits_1_and_keeps_the_pages_written(zendesk_server, new_output):
    seeded(zendesk_server)
    output = new_output("sqlite")

    def server_goes_down(_process: subprocess.Popen[str]) -> None:
        zendesk_server.admin.set_faults([{"match": {"path": "/api/v2/incremental/*"}, "action": {"status": 503},
                                          "times": 10_000}])

    code, stderr = run_until_page(zendesk_server, output.out, 2, server_goes_down, "--retry-for", "5")
    assert code == 1, stderr
    assert stderr.splitlines()[-1].startswith("zendesk-export: error: ") and "503" in stderr
    assert "Traceback" not in stderr
    assert 100 < len(output.tickets()) < len(server_truth(zendesk_server))
    finish(zendesk_server, output)


def test_sigint_mid_export_exits_130_and_the_next_run_resumes(zendesk_server, output):
    seeded(zendesk_server)
    code, stderr = run_until_page(zendesk_server, output.out, 2, lambda p: p.send_signal(signal.SIGINT))
    assert code == 130, stderr
    assert "Traceback" not in stderr
    kept = output.versions()
    assert 100 < len(kept) < len(server_truth(zendesk_server)) and output.checkpoint() is not None
    finish(zendesk_server, output)


def test_the_postgresql_output_going_away_mid_export_exits_4_and_the_next_run_completes(zendesk_server,
                                                                                         new_output):
    seeded(zendesk_server)
    output = new_output("postgres")
    name = f"zx_{output.case.schema}"
    output.case.out += f"&application_name={name}"

    def terminate_the_sinks_connection(_process: subprocess.Popen[str]) -> None:
        with psycopg.connect(output.case.dsn or "", autocommit=True) as admin:
            ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = %s", [name]).fetchall()
        assert ended and all(row == (True,) for row in ended)  # one connection per stream

    code, stderr = run_until_page(zendesk_server, output.out, 2, terminate_the_sinks_connection)
    assert code == 4, stderr
    assert "PostgreSQL" in stderr and "Traceback" not in stderr
    assert 100 < len(output.versions()) < len(server_truth(zendesk_server))
    finish(zendesk_server, output)
