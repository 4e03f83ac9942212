"""The ``export`` and ``demo`` commands, invoked through ``cli.main`` and checked by opening the output."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from tests.exporter.conftest import create_tickets, server_truth, update_tickets
from zendesk_export.cli import main
from zendesk_export.exporter import ConfigError, ExportConfig, Progress, Wait
from zendesk_export.exporter.commands import output_ticket_count
from zendesk_export.exporter.reporting import _Bar
from zendesk_export.exporter.settings import EXPORT_SETTINGS, parse_start_time, resolve
from zendesk_export.exporter.sinks import read_jsonl_latest


def sqlite_versions(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT id, generated_timestamp FROM tickets").fetchall())


def fingerprint(path: Path) -> str:
    """The output's content as a reader sees it (tickets and checkpoint), to prove it was not touched."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tickets = db.execute("SELECT id, generated_timestamp, raw_json FROM tickets ORDER BY id").fetchall()
        checkpoint = db.execute("SELECT mode, position, source FROM checkpoint").fetchall()
    return hashlib.sha256(repr((tickets, checkpoint)).encode()).hexdigest()


@pytest.fixture
def seeded(zendesk_server):
    zendesk_server.admin.seed(tickets=1500, random_seed=6)
    zendesk_server.admin.advance(61)
    return zendesk_server


def export_args(server, out: Path, *extra: str) -> list[str]:
    return ["export", "--url", server.url, "--email", server.email, "--token", server.token, "--out", str(out),
            "--no-backoff", *extra]


@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_export_writes_exactly_the_servers_tickets_into_sqlite(seeded, tmp_path, capsys, mode):
    out = tmp_path / "tickets.db"
    assert main(export_args(seeded, out, "--mode", mode, "--per-page", "400")) == 0
    assert sqlite_versions(out) == server_truth(seeded)
    captured = capsys.readouterr()
    assert captured.out.startswith("tickets: 1500 exported (")
    assert f"mode: {mode}, first run" in captured.out
    assert "page 1: 400 tickets, 1 requests" in captured.err  # plain progress lines when not on a terminal


def test_export_writes_jsonl(seeded, tmp_path):
    out = tmp_path / "tickets.jsonl"
    assert main(export_args(seeded, out)) == 0
    latest = read_jsonl_latest(out)
    assert {i: t["generated_timestamp"] for i, t in latest.items()} == server_truth(seeded)


def test_running_the_same_command_again_resumes(seeded, tmp_path, capsys):
    out = tmp_path / "tickets.db"
    assert main(export_args(seeded, out)) == 0
    [created] = create_tickets(seeded, 1)
    update_tickets(seeded, [created], status="pending")
    seeded.admin.advance(61)
    capsys.readouterr()
    assert main(export_args(seeded, out, "--start-time", "0")) == 0
    summary = capsys.readouterr().out
    assert "resumed from" in summary and "(1 new," in summary
    assert sqlite_versions(out) == server_truth(seeded)


@pytest.mark.parametrize("auth", [
    {"ZENDESK_EMAIL": "admin@example.com", "ZENDESK_API_TOKEN": "demo-token"},
    {"ZENDESK_EMAIL": "admin@example.com", "ZENDESK_PASSWORD": "demo-password"},
    {"ZENDESK_OAUTH_TOKEN": "demo-oauth-token"},
], ids=["token", "password", "oauth"])
def test_credentials_and_url_come_from_the_environment(seeded, tmp_path, monkeypatch, auth):
    monkeypatch.setenv("ZENDESK_URL", seeded.url)
    for name, value in auth.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "tickets.db"
    assert main(["export", "--out", str(out)]) == 0
    assert sqlite_versions(out) == server_truth(seeded)


def bad(server, tmp_path: Path, case: str) -> list[str]:
    out = str(tmp_path / "tickets.db")
    base = ["export", "--url", server.url, "--out", out, "--no-backoff"]
    admin = ["--email", server.email, "--token", server.token]
    # another account cannot resume the existing output (that is refused first), so these get a new one
    elsewhere = ["export", "--out", str(tmp_path / "new.db"), "--no-backoff", *admin]
    return {
        "wrong-token": [*base, "--email", server.email, "--token", "wrong"],
        "wrong-oauth": [*base, "--oauth-token", "nope"],
        "not-an-admin": [*base, "--email", server.agent_email, "--token", server.agent_token],
        "unknown-account": [*elsewhere, "--url", server.url, "--host-header", "nosuch.localhost"],
        "unresolvable-host": [*elsewhere, "--url", "http://nosuch.invalid:9"],
        "bad-start-time": [*base, *admin, "--start-time", "last tuesday"],
        "no-credentials": base,
        "bad-mode": [*base, *admin, "--mode", "updated_at"],
        "bad-include": [*base, *admin, "--include", "users,audits"],
        "other-mode-than-the-output": [*base, *admin, "--mode", "cursor"],
        "other-account-than-the-output": [*base, *admin, "--host-header", "other.localhost"],
        "output-under-a-file": ["export", "--url", server.url, "--out", str(tmp_path / "tickets.db" / "x.db"),
                                *admin],
    }[case]


@pytest.mark.parametrize(("case", "code", "message"), [
    ("wrong-token", 3, "wrong credentials: 127.0.0.1 answered 401 (Couldn't authenticate you); check --email"),
    ("wrong-oauth", 3, "wrong credentials: 127.0.0.1 answered 401 (invalid_token"),
    ("not-an-admin", 3, "not an admin: agent@example.com may not use the incremental export"),
    ("unknown-account", 3, "no such account: No help desk at nosuch"),
    ("unresolvable-host", 1, "cannot reach http://nosuch.invalid:9: the host name nosuch.invalid does not resolve"),
    ("bad-start-time", 2, "--start-time: 'last tuesday' is neither epoch seconds nor an ISO-8601"),
    ("no-credentials", 2, "no credentials: give --email E --token T"),
    ("bad-mode", 2, "--mode: 'updated_at' is not one of time, cursor"),
    ("bad-include", 2, "--include: unknown sideload audits"),
    ("other-mode-than-the-output", 2, "the output was exported with --mode time"),
    ("other-account-than-the-output", 2, "the output holds an export of http://127.0.0.1:"),
    ("output-under-a-file", 4, "cannot open output"),
])
def test_bad_input_is_one_line_a_nonzero_exit_and_an_untouched_output(seeded, tmp_path, capsys, case, code,
                                                                       message):
    out = tmp_path / "tickets.db"
    assert main(export_args(seeded, out)) == 0
    before = fingerprint(out)
    capsys.readouterr()
    assert main(bad(seeded, tmp_path, case)) == code
    *retries, error = capsys.readouterr().err.splitlines()
    assert error.startswith(f"zendesk-export: error: {message}")
    assert all(" waiting " in line for line in retries)  # only a network failure is retried, briefly
    assert "Traceback" not in error
    assert fingerprint(out) == before


def test_a_file_that_is_not_our_output_is_refused_and_left_alone(seeded, tmp_path, capsys):
    out = tmp_path / "tickets.db"
    out.write_text("my notes, not a database\n")
    assert main(export_args(seeded, out)) == 4
    assert out.read_text() == "my notes, not a database\n"
    assert capsys.readouterr().err.startswith("zendesk-export: error: cannot open output")


def test_nothing_new_yet_is_success(zendesk_server, tmp_path, capsys):
    now = int(zendesk_server.admin.clock()["now"])
    assert main(export_args(zendesk_server, tmp_path / "t.db", "--start-time", str(now))) == 0
    assert capsys.readouterr().out.startswith("tickets: 0 exported")


def test_help_documents_the_exit_codes_and_the_environment(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["export", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes:" in text and "3    access: wrong credentials (401)" in text
    assert "ZENDESK_API_TOKEN" in text and "ZENDESK_SUBDOMAIN" in text


def test_demo_exports_a_seeded_server_and_checks_the_count(tmp_path, capsys):
    out = tmp_path / "demo.db"
    assert main(["demo", "--tickets", "700", "--out", str(out)]) == 0
    captured = capsys.readouterr().out
    assert "tickets: 700 exported" in captured
    assert "check: ok, the output has exactly the server's 700 tickets" in captured
    assert output_ticket_count(str(out)) == len(sqlite_versions(out)) == 700


def test_demo_refuses_to_overwrite_an_output_it_did_not_name(tmp_path, capsys):
    out = tmp_path / "precious.db"
    out.write_bytes(b"data")
    assert main(["demo", "--tickets", "10", "--out", str(out)]) == 2
    assert out.read_bytes() == b"data"


def test_demo_replaces_its_default_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["demo", "--tickets", "50"]) == 0
    assert output_ticket_count("demo-tickets.db") == 50


def test_the_terminal_progress_bar_shows_tickets_and_waits():
    stream = io.StringIO()
    bar = _Bar(Console(file=stream, force_terminal=True, width=150))
    bar(Progress("page", 3, 2500, 3, 0, 0, 0.0, 1_700_000_000, 1_700_050_000, 1_700_100_000))
    bar(Progress("wait", 3, 2500, 4, 1, 1, 10.0, 1_700_000_000, 1_700_050_000, 1_700_100_000,
                 Wait("rate_limit", 10.0, "rate limited (429)")))
    bar.close()
    rendered = stream.getvalue()
    assert "2,500 tickets · 3 pages" in rendered and "waiting 10s (rate limited (429))" in rendered
    assert "50%" in rendered


def test_include_stores_the_sideloads_beside_the_tickets(seeded, tmp_path):
    out = tmp_path / "tickets.db"
    assert main(export_args(seeded, out, "--include", "users,groups,organizations")) == 0
    with sqlite3.connect(out) as db:
        missing = db.execute("SELECT count(*) FROM tickets WHERE requester_id NOT IN (SELECT id FROM users)")
        assert missing.fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM groups").fetchone()[0] > 0


@pytest.mark.parametrize(("text", "epoch"), [
    ("1700000000", 1_700_000_000),
    ("0", 0),
    ("2024-01-31", 1_706_659_200),
    ("2024-01-31T12:00:00Z", 1_706_702_400),
    ("2024-01-31T12:00:00", 1_706_702_400),
    ("2024-01-31T14:00:00+02:00", 1_706_702_400),
])
def test_start_time_is_epoch_seconds_or_iso_8601_in_utc(text, epoch):
    assert parse_start_time(text) == epoch


@pytest.mark.parametrize("text", ["yesterday", "-5", "2024-13-01", "1.5e9", "1969-12-31T23:59:59Z"])
def test_a_start_time_that_is_not_a_moment_since_1970_is_refused(text):
    with pytest.raises(ValueError):
        parse_start_time(text)


def test_the_command_line_wins_over_the_environment_which_wins_over_defaults():
    environ = {"ZENDESK_URL": "https://env.example", "ZENDESK_EXPORT_PER_PAGE": "50", "ZENDESK_EXPORT_MODE": ""}
    values = resolve(EXPORT_SETTINGS, {"url": "https://flag.example", "per_page": None}, environ)
    assert (values["url"], values["per_page"], values["mode"], values["out"]) == (
        "https://flag.example", 50, "time", "tickets.db")


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="^ZENDESK_EXPORT_PER_PAGE: 'lots' is not a number$"):
        resolve(EXPORT_SETTINGS, {}, {"ZENDESK_EXPORT_PER_PAGE": "lots"})


def test_a_subdomain_means_the_zendesk_host():
    config = ExportConfig.from_env({"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_OAUTH_TOKEN": "s3cr3t-oauth"})
    assert (config.base_url, config.source) == ("https://acme.zendesk.com", "https://acme.zendesk.com")
    assert "s3cr3t" not in repr(config)  # secrets stay out of logs


def test_export_errors_never_show_the_database_password(zendesk_server, capsys):
    """An output that cannot be opened is named in the error, without the password of its URL."""
    out = "postgresql://etl:s3cret-pw@127.0.0.1:1/warehouse"
    assert main(export_args(zendesk_server, out, "--summary-json", "-")) == 4
    captured = capsys.readouterr()
    assert "postgresql://etl:***@127.0.0.1:1/warehouse" in captured.err
    assert "s3cret-pw" not in captured.out + captured.err


def test_export_summary_never_shows_the_database_password(seeded, capsys):
    dsn = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES")
    if not dsn:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set: no PostgreSQL to export into")
    import psycopg

    schema = f"summary_{uuid.uuid4().hex[:12]}"
    out = dsn.replace("://postgres@", "://postgres:s3cret-pw@") + f"?schema={schema}"  # trust ignores it
    try:
        assert main(export_args(seeded, out, "--summary-json", "-")) == 0
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    captured = capsys.readouterr()
    assert "postgres:***@" in captured.out and "s3cret-pw" not in captured.out + captured.err
