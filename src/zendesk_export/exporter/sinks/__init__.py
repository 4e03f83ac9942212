"""Where an export writes: ``open_sink`` picks the sink from the ``--out`` value.

* ``postgresql://…`` or ``postgres://…`` -- PostgreSQL (``?schema=NAME`` selects the schema; needs the
  ``postgres`` extra),
* a name ending in ``.jsonl`` -- a directory of JSON Lines logs, one folder per table (logs of versions;
  ``read_jsonl_latest`` gives one row per id, ``read_jsonl_rows`` the current rows of any table),
* a name ending in ``.parquet`` -- a directory of Parquet parts, one folder per table (needs the ``parquet``
  extra; ``read_parquet_latest``, ``read_parquet_rows`` as for JSONL),
* anything else (``tickets.db``, ``sqlite:///PATH``) -- SQLite, the default.

Every sink implements ``base.Sink``: ``write(page)`` stores a page's tickets, sideloads and checkpoint
atomically, upserting by ticket id with the newest ``generated_timestamp`` winning. Every sink also writes
the whole-account streams (``write_stream``, ``load_stream_state``, ``add_columns``, ``stream_status``): one
table per stream, declared in ``_tables.TABLES`` -- whose docstring says where derived child tables and extra
columns plug in -- and one checkpoint per stream (SQL: ``stream_checkpoints``; files: their state file, see
``_file_output``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._columns import SIDELOAD_COLUMNS, SIDELOADS, TICKET_COLUMNS, Column, Kind, sideload_columns
from ._errors import (
    ForeignOutputError,
    MissingDependencyError,
    OutputCorruptError,
    OutputInUseError,
    SinkError,
)
from ._tables import TABLES, Child, Table, Versioning
from .base import Checkpoint, Page, Sink, StreamState, StreamStatus, WriteResult
from .jsonl import JsonlSink
from .jsonl import read_latest as read_jsonl_latest
from .jsonl import read_rows as read_jsonl_rows
from .parquet import ParquetSink
from .parquet import read_latest as read_parquet_latest
from .parquet import read_latest_table as read_parquet_latest_table
from .parquet import read_rows as read_parquet_rows
from .postgres import PostgresSink
from .sqlite import SQLiteSink

__all__ = [
    "SIDELOADS",
    "TABLES",
    "SIDELOAD_COLUMNS",
    "TICKET_COLUMNS",
    "Checkpoint",
    "Child",
    "Column",
    "ForeignOutputError",
    "JsonlSink",
    "Kind",
    "MissingDependencyError",
    "OutputCorruptError",
    "OutputInUseError",
    "Page",
    "ParquetSink",
    "PostgresSink",
    "SQLiteSink",
    "Sink",
    "SinkError",
    "StreamState",
    "StreamStatus",
    "Table",
    "Versioning",
    "WriteResult",
    "open_sink",
    "read_jsonl_latest",
    "read_jsonl_rows",
    "read_parquet_latest",
    "read_parquet_latest_table",
    "read_parquet_rows",
    "sqlite_path",
]

_SQLITE_PREFIX = "sqlite:///"


def sqlite_path(out: str) -> str:
    """The file path of a SQLite ``--out`` value (``sqlite:///rel.db``, ``sqlite:////abs.db`` or a path)."""
    return out[len(_SQLITE_PREFIX) :] if out.startswith(_SQLITE_PREFIX) else out


def open_sink(out: str, *, include: Sequence[str] = ()) -> Sink:
    """Open (creating if needed) the output named by ``out``, with tables/files for the ``include`` sideloads.

    Raises ValueError for an unknown sideload name and a ``SinkError`` subclass when the output cannot be used
    (not ours, damaged, in use, or its optional dependency missing); nothing is written in either case.
    """
    for name in include:
        sideload_columns(name)
    if out.startswith(("postgresql://", "postgres://")):
        return PostgresSink.from_url(out, include=include)
    if out.endswith(".jsonl"):
        return JsonlSink(out, include=include)
    if out.rstrip("/").endswith(".parquet"):
        return ParquetSink(out.rstrip("/"), include=include)
    return SQLiteSink(sqlite_path(out), include=include)
