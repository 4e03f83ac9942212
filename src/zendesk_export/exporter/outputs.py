"""What an ``--out`` value names, checked before anything is created, and the cleanup of a new output that a
failed first run left empty.

The sinks open whatever they are given (``sinks.open_sink``); this module is the exporter's gate in front of
them: a name whose extension claims a format we do not write (``t.csv``) or a URL of a database we do not
support (``mysql://…``) is a usage error naming the accepted forms, a file output whose directory does not
exist is an output error (every file sink refuses it alike; none creates parent directories), and a missing
optional package is a usage error naming the pip extra to install.
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import orjson

from .errors import ConfigError, MissingExtra, OutputError
from .settings import INCLUDABLE as SIDELOAD_NAMES

__all__ = ["ACCEPTED_FORMS", "Output", "check_output", "discard_new_entries", "existing_entries",
           "parse_output", "sideloads_held"]

ACCEPTED_FORMS = ("tickets.db (SQLite; also .sqlite, .sqlite3, sqlite:///PATH or a name without extension), "
                  "DIR.jsonl (JSON Lines), DIR.parquet (Parquet) or postgresql://USER@HOST/DB (PostgreSQL)")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_PREFIX = "sqlite:///"
#: the package each optional output needs, and the extra that installs it
_EXTRAS = {"parquet": ("pyarrow", "parquet"), "postgres": ("psycopg", "postgres")}


@dataclass(frozen=True)
class Output:
    """An ``--out`` value understood: ``kind`` is sqlite, jsonl, parquet or postgres; ``path`` the file or
    directory of a file output (None for PostgreSQL)."""

    kind: str
    path: Path | None


def parse_output(out: str) -> Output:
    """The output ``out`` names, or a :class:`ConfigError` naming the accepted forms."""
    if out.startswith(_POSTGRES_SCHEMES):
        return Output("postgres", None)
    if out.startswith(_SQLITE_PREFIX):
        return Output("sqlite", Path(out[len(_SQLITE_PREFIX):]))
    if "://" in out:
        scheme = out.split("://", 1)[0]
        raise ConfigError(f"--out {scheme}://…: not a supported output; use {ACCEPTED_FORMS}")
    path = Path(out.rstrip("/"))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return Output("jsonl", path)
    if suffix == ".parquet":
        return Output("parquet", path)
    if suffix in ("", *SQLITE_SUFFIXES):
        return Output("sqlite", path)
    raise ConfigError(f"--out {out}: zendesk-export does not write {suffix} files; use {ACCEPTED_FORMS}")


def check_output(out: str) -> Output:
    """:func:`parse_output`, then what opening it needs: its optional package, an existing parent directory."""
    output = parse_output(out)
    _require_extra(output.kind)
    if output.path is not None and not output.path.absolute().parent.is_dir():
        raise OutputError(f"cannot open output {out!r}: the directory {output.path.absolute().parent} does "
                          "not exist; create it first")
    return output


def _require_extra(kind: str) -> None:
    if kind not in _EXTRAS:
        return
    package, extra = _EXTRAS[kind]
    # found, not imported: importing is the sink's (pyarrow reads its settings as it starts: sinks.parquet)
    if importlib.util.find_spec(package) is None:
        raise MissingExtra(f"the {kind} output needs {package}, which is not installed: "
                           f"pip install 'zendesk-export[{extra}]'")


def existing_entries(output: Output) -> set[Path]:
    """The entries beside a file output that share its stem (the output, its WAL, state and sideload files)
    as they are now; :func:`discard_new_entries` later removes only the ones that appear after this."""
    if output.path is None:
        return set()
    return set(_siblings(output.path))


def discard_new_entries(output: Output, before: set[Path]) -> None:
    """Remove what opening a new output created (files and directories absent from ``before``)."""
    if output.path is None:
        return
    for entry in _siblings(output.path):
        if entry in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _siblings(path: Path) -> list[Path]:
    parent = path.absolute().parent
    if not parent.is_dir():
        return []
    stem = path.name.split(".", 1)[0]
    return [entry for entry in parent.iterdir() if entry.name.split(".", 1)[0] == stem]


def sideloads_held(out: str) -> set[str] | None:
    """The sideloads an existing export already stores, or None when there is no earlier export to speak of
    (a new output, one without a checkpoint) or the output is not a file we can look into (PostgreSQL)."""
    output = parse_output(out)
    if output.path is None or not output.path.exists():
        return None
    try:
        return _HELD[output.kind](output.path)
    except (OSError, ValueError, KeyError, TypeError, sqlite3.Error):
        return None  # damaged or foreign: opening the sink reports it properly


def _sqlite_held(path: Path) -> set[str] | None:
    with closing(sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True)) as db:
        if db.execute('SELECT count(*) FROM "checkpoint"').fetchone()[0] == 0:
            return None
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return tables & set(SIDELOAD_NAMES)


def _files_held(path: Path) -> set[str] | None:
    state = orjson.loads((path / "_state.json").read_bytes())
    if state.get("checkpoint") is None:
        return None
    return {name for name in SIDELOAD_NAMES if (path / name).is_dir()}


_HELD: dict[str, Callable[[Path], set[str] | None]] = {
    "sqlite": _sqlite_held, "jsonl": _files_held, "parquet": _files_held}
