"""Parquet sink: a directory ``DIR.parquet/`` of immutable part files, one per page, plus a state file.

Layout::

    DIR.parquet/_state.json                      checkpoint and the number of committed pages
    DIR.parquet/tickets/part-00000001.parquet    the versions page 1 wrote (typed columns + raw_json)
    DIR.parquet/users/part-00000001.parquet      sideloads, same scheme

Like the JSONL sink this is a *log of versions*: a page's part holds only the versions that are newer than
the stored ones (see ``_upsert``), and the current state of an id is its row in the highest-numbered part.
``read_latest`` and ``read_latest_table`` return exactly one row per id; a query engine can do the same with
``row_number() over (partition by id order by generated_timestamp desc, part desc)``.

Crash safety: a part is written to a temporary name, fsynced and renamed, then ``_state.json`` (page count
and checkpoint) is replaced atomically. On open, parts numbered above the committed count and temporary files
are deleted -- a page that never committed leaves no trace. The upsert index is rebuilt on open by reading
the key columns of every committed part (O(data) once; each write is O(page)).

pyarrow is an optional dependency (``pip install 'zendesk-export[parquet]'``); it is imported only when this
sink is used, with a clear error if it is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._columns import TICKET_COLUMNS, Column, Kind, extract, parse_timestamp, sideload_columns
from ._errors import ForeignOutputError, MissingDependencyError
from ._files import (
    atomic_write,
    atomic_write_with,
    checkpoint_from_json,
    checkpoint_to_json,
    fsync_dir,
    lock_exclusively,
    read_state,
)
from ._sql import RAW_JSON
from ._upsert import Plan, Stored, content_digest, key_function, plan_writes
from .base import Checkpoint, ClosingSink, Page, WriteResult

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetSink", "arrow_schema", "read_latest", "read_latest_table"]

_FORMAT = "zendesk-export/parquet"
_VERSION = 1
_STATE = "_state.json"
_PART = re.compile(r"^part-(\d{8})\.parquet$")


def _pyarrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a MissingDependencyError that says how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingDependencyError(
            "the Parquet output needs pyarrow: pip install 'zendesk-export[parquet]'"
        ) from None
    return pyarrow, pyarrow.parquet


def _columns(name: str) -> tuple[Column, ...]:
    return TICKET_COLUMNS if name == "tickets" else sideload_columns(name)


def arrow_schema(name: str = "tickets") -> pa.Schema:
    """The explicit Arrow schema of table ``name``: derived from the column table, never inferred."""
    pa, _ = _pyarrow()
    types = {
        Kind.INTEGER: pa.int64(),
        Kind.TEXT: pa.string(),
        Kind.BOOLEAN: pa.bool_(),
        Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        Kind.JSON: pa.string(),
    }
    fields = [pa.field(c.name, types[c.kind], nullable=c.name != "id") for c in _columns(name)]
    return pa.schema([*fields, pa.field(RAW_JSON, pa.string(), nullable=False)])


def _to_table(name: str, plan: Plan) -> pa.Table:
    pa, _ = _pyarrow()
    columns = _columns(name)
    rows = [extract(columns, obj) for obj, _ in plan.writes.values()]
    data: dict[str, list[Any]] = {}
    for position, column in enumerate(columns):
        values = [row[position] for row in rows]
        data[column.name] = [parse_timestamp(v) for v in values] if column.kind is Kind.TIMESTAMP else values
    data[RAW_JSON] = [raw.decode() for _, raw in plan.writes.values()]
    return pa.Table.from_pydict(data, schema=arrow_schema(name))


def _part_name(seq: int) -> str:
    return f"part-{seq:08d}.parquet"


def _committed_parts(directory: Path, committed: int) -> list[Path]:
    """The committed part files of one table directory, in page order."""
    if not directory.is_dir():
        return []
    parts = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _PART.match(p.name))]
    return [p for seq, p in sorted(parts) if seq <= committed]


class ParquetSink(ClosingSink):
    """Tickets (and sideloads) as Parquet part files with an atomically replaced state file (module doc)."""

    def __init__(self, path: str | Path, *, include: Sequence[str] = ()) -> None:
        _pyarrow()
        self.path = Path(path)
        for name in include:
            sideload_columns(name)
        self._dir_fd = self._open_directory()
        try:
            lock_exclusively(self._dir_fd, self.path)
            state = self._load_or_create_state()
            self._checkpoint = checkpoint_from_json(state["checkpoint"])
            self._seq: int = state["pages"]
            self._discard_uncommitted()
            self._index = {name: self._scan(name) for name in ("tickets", *include)}
        except BaseException:
            self.close()
            raise

    def _open_directory(self) -> int:
        if self.path.exists() and not self.path.is_dir():
            raise ForeignOutputError(f"{self.path} exists and is not a directory; refusing to touch it")
        self.path.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)

    def _load_or_create_state(self) -> dict[str, Any]:
        """The state document; a new output gets one before any part, so parts without one are not ours."""
        state = read_state(self.path / _STATE, _FORMAT)
        if state is not None:
            if state.get("version") != _VERSION:
                raise ForeignOutputError(f"{self.path} has format version {state.get('version')}; unknown")
            return state
        if any(p.name != _STATE + ".tmp" for p in self.path.iterdir()):
            raise ForeignOutputError(f"{self.path} is a non-empty directory without zendesk-export state")
        state = {"format": _FORMAT, "version": _VERSION, "checkpoint": None, "pages": 0}
        atomic_write(self.path / _STATE, orjson.dumps(state))
        return state

    def _discard_uncommitted(self) -> None:
        """Delete what a page that never committed left behind: later-numbered parts and temporary files."""
        for directory in (p for p in self.path.iterdir() if p.is_dir()):
            for part in directory.iterdir():
                match = _PART.match(part.name)
                if part.name.endswith(".tmp") or (match and int(match.group(1)) > self._seq):
                    part.unlink()

    def _scan(self, name: str) -> dict[int, Stored]:
        """The stored version of every id of table ``name``, from its committed parts."""
        _, pq = _pyarrow()
        key = key_function(name)
        index: dict[int, Stored] = {}
        for part in _committed_parts(self.path / name, self._seq):
            for raw in pq.read_table(part, columns=[RAW_JSON]).column(RAW_JSON).to_pylist():
                obj_id, version, deleted = key(orjson.loads(raw))
                index[obj_id] = Stored(version, deleted, content_digest(raw.encode()))
        return index

    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the last committed page, or None for a new output."""
        return self._checkpoint

    def write(self, page: Page) -> WriteResult:
        """Write the page's newer versions as durable parts, then replace the state (the commit point)."""
        for name in page.sideloads:
            if name not in self._index:
                sideload_columns(name)
                self._index[name] = self._scan(name)
        tables = {"tickets": page.tickets, **page.sideloads}
        plans = {name: self._plan(name, objects) for name, objects in tables.items()}
        seq = self._seq + 1
        for name, plan in plans.items():
            if plan.writes:
                self._write_part(name, seq, plan)
        state = {"format": _FORMAT, "version": _VERSION, "checkpoint": checkpoint_to_json(page.checkpoint)}
        atomic_write(self.path / _STATE, orjson.dumps({**state, "pages": seq}))
        self._seq, self._checkpoint = seq, page.checkpoint
        for name, plan in plans.items():
            self._index[name].update(plan.stored)
        return plans["tickets"].result

    def _plan(self, name: str, objects: list[dict[str, Any]]) -> Plan:
        index = self._index[name]
        ids = (obj.get("id") for obj in objects)
        stored = {i: index[i] for i in ids if isinstance(i, int) and i in index}
        return plan_writes(objects, stored, key_function(name))

    def _write_part(self, name: str, seq: int, plan: Plan) -> None:
        _, pq = _pyarrow()
        directory = self.path / name
        if not directory.is_dir():
            directory.mkdir()
            fsync_dir(self.path)
        atomic_write_with(directory / _part_name(seq), lambda handle: pq.write_table(_to_table(name, plan), handle))

    def close(self) -> None:
        """Release the directory lock; nothing is pending (a write is committed when it returns)."""
        with contextlib.suppress(OSError):
            os.close(self._dir_fd)
        self._dir_fd = -1


def _committed(path: Path, name: str) -> list[Path]:
    state = read_state(path / _STATE, _FORMAT)
    if state is None:
        raise ForeignOutputError(f"{path} has no zendesk-export state file")
    return _committed_parts(path / name, state["pages"])


def read_latest_table(path: str | Path, *, sideload: str | None = None) -> pa.Table:
    """The current version of every ticket (or ``sideload`` object) as one typed Arrow table, one row per id.

    Reads only committed parts, so it is safe while an export is writing.
    """
    pa, pq = _pyarrow()
    name = sideload or "tickets"
    schema = arrow_schema(name)
    parts = _committed(Path(path), name)
    if not parts:
        return schema.empty_table()
    table = pa.concat_tables([pq.read_table(part, schema=schema) for part in parts])
    table = table.append_column("_order", pa.array(range(table.num_rows), type=pa.int64()))
    last = table.group_by("id").aggregate([("_order", "max")]).column("_order_max")
    return table.take(last).drop_columns(["_order"]).sort_by("id")


def read_latest(path: str | Path, *, sideload: str | None = None) -> dict[int, dict[str, Any]]:
    """The current version of every ticket (or ``sideload`` object) as received, by id."""
    table = read_latest_table(path, sideload=sideload)
    return {obj["id"]: obj for obj in map(orjson.loads, table.column(RAW_JSON).to_pylist())}
