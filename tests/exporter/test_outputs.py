"""``--out`` is checked before anything is created: formats we do not write, databases we do not support, a
missing directory and a missing optional package are one-line errors; a first run that never reached the
account leaves no output behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from zendesk_export.cli import main
from zendesk_export.exporter import ConfigError, MissingExtra
from zendesk_export.exporter.outputs import ACCEPTED_FORMS, parse_output


def refusing_url() -> str:
    """A loopback URL on a port where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def export(out: str | Path, url: str | None = None) -> list[str]:
    return ["export", "--url", url or refusing_url(), "--email", "admin@example.com", "--token", "demo-token",
            "--out", str(out), "--no-backoff"]


@pytest.mark.parametrize(("out", "kind"), [
    ("tickets.db", "sqlite"), ("t.sqlite3", "sqlite"), ("archive", "sqlite"), ("sqlite:///x/t.db", "sqlite"),
    ("t.jsonl", "jsonl"), ("t.parquet", "parquet"), ("t.parquet/", "parquet"),
    ("postgresql://u@h/db?schema=z", "postgres"), ("postgres://u@h/db", "postgres"),
])
def test_each_accepted_form_names_its_output_kind(out, kind):
    assert parse_output(out).kind == kind


@pytest.mark.parametrize(("out", "message"), [
    ("t.csv", "--out t.csv: zendesk-export does not write .csv files; use tickets.db (SQLite"),
    ("tickets.json", "--out tickets.json: zendesk-export does not write .json files; use"),
    ("mysql://root@db/zendesk", "--out mysql://…: not a supported output; use tickets.db (SQLite"),
    ("s3://bucket/t.parquet", "--out s3://…: not a supported output"),
])
def test_an_output_we_do_not_write_is_a_usage_error_naming_the_accepted_forms(tmp_path, monkeypatch, capsys,
                                                                              out, message):
    monkeypatch.chdir(tmp_path)
    assert main(export(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zendesk-export: error: {message}") and ACCEPTED_FORMS in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError):
        parse_output(out)


@pytest.mark.parametrize("name", ["t.db", "t.jsonl", "t.parquet"])
def test_every_file_output_refuses_a_missing_directory_alike(tmp_path, capsys, name):
    out = tmp_path / "missing" / name
    assert main(export(out)) == 4
    assert capsys.readouterr().err.startswith(
        f"zendesk-export: error: cannot open output '{out}': the directory {tmp_path / 'missing'} does not exist")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(("out", "module", "extra"), [
    ("t.parquet", "pyarrow", "parquet"),
    ("postgresql://postgres@127.0.0.1/test", "psycopg", "postgres"),
])
def test_a_missing_optional_package_is_a_usage_error_naming_the_extra(tmp_path, monkeypatch, capsys, out,
                                                                     module, extra):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # what an installation without the extra sees
    assert main(export(out)) == 2
    assert capsys.readouterr().err == (f"zendesk-export: error: the {extra} output needs {module}, which is not "
                                       f"installed: pip install 'zendesk-export[{extra}]'\n")
    assert list(tmp_path.iterdir()) == []
    assert issubclass(MissingExtra, ConfigError)


def test_an_installed_pyarrow_that_cannot_be_imported_is_an_output_error_without_a_traceback(tmp_path):
    """The check finds pyarrow without importing it (so that Arrow starts with the sink's settings); a
    package that is there but breaks on import (a missing shared library) fails when the sink opens: exit 4,
    the same instruction, and nothing left behind. In a process of its own: this one has the real pyarrow."""
    broken = tmp_path / "site" / "pyarrow"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("libarrow.so: cannot open shared object file")\n')
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "zendesk_export", *export(work / "t.parquet")], cwd=work,
                          env={**os.environ, "PYTHONPATH": str(broken.parent)}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 4
    assert done.stderr == (f"zendesk-export: error: cannot open output '{work / 't.parquet'}': the Parquet output "
                           "needs pyarrow: pip install 'zendesk-export[parquet]'\n")
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("name", ["t.db", "t.jsonl", "t.parquet"])
def test_a_refused_first_connection_fails_naming_the_url_and_leaves_no_output(tmp_path, capsys, name):
    url = refusing_url()
    (tmp_path / "notes.txt").write_text("mine")
    assert main(export(tmp_path / name, url)) == 1
    *waits, error = capsys.readouterr().err.splitlines()
    assert error.startswith(f"zendesk-export: error: cannot reach {url}: connection refused, ")
    assert error.endswith("check --url/--subdomain and that the server is running")
    assert waits and all("waiting" in line and "connection refused" in line for line in waits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_failed_run_keeps_an_existing_output(zendesk_server, tmp_path, capsys):
    out = tmp_path / "t.db"
    args = ["export", "--url", zendesk_server.url, "--email", zendesk_server.email, "--token",
            zendesk_server.token, "--out", str(out), "--no-backoff"]
    assert main(args) == 0  # nothing to export yet: an output with no page, kept because the run succeeded
    assert out.exists()
    assert main(export(out)) == 1  # the next run cannot connect: the output it did not create stays
    assert out.exists()
