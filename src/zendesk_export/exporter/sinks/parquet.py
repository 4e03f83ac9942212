"""Parquet sink: a directory ``DIR.parquet/`` of immutable part files, one per page, plus a state file.

Layout::

    DIR.parquet/_state.json                      checkpoint and the number of committed pages
    DIR.parquet/_index.db                        the upsert index (SQLite), a cache of what the parts say
    DIR.parquet/latest.sql                       DuckDB views of the latest version of each row
    DIR.parquet/tickets/part-00000001.parquet    the versions page 1 wrote (typed columns + raw_json)
    DIR.parquet/users/part-00000001.parquet      sideloads, same scheme

Like the JSONL sink this is a *log of versions*: a page's part holds only the versions that are newer than
the stored ones (see ``_upsert``), and the current state of an id is its row in the highest-numbered part.
``read_latest`` and ``read_latest_table`` return exactly one row per id, and ``latest.sql`` defines the same
as DuckDB views (``duckdb -c ".read DIR.parquet/latest.sql" -c "SELECT …FROM tickets"``): the row of each id in
the highest-numbered part.

Types: ``tags`` is ``list<string>``; ``custom_fields`` and ``fields`` are ``list<struct<id: int64, value:
string>>`` (a value that is not a string -- a number, a boolean, a multi-select list -- as its JSON text, so
``false`` reads ``'false'``); the id lists (``follower_ids``, …) are ``list<int64>``; other objects are JSON
text; an array of another shape is NULL there, and ``raw_json`` keeps it. Format 1 (every JSON column as text,
plus the ``WRITE_ONLY_FIELDS`` columns) is migrated on open: each part is rewritten from its ``raw_json``.

Crash safety: a part is written to a temporary name, fsynced and renamed, then ``_state.json`` (page count
and checkpoint) is replaced atomically. On open, parts numbered above the committed count and temporary files
are deleted -- a page that never committed leaves no trace. The upsert index lives in ``_index.db`` (see
``_index``): flat memory whatever the account's size, O(page) per write; the parts it does not cover yet
(none, or the last page after a crash, or all of them for an output without the file) are read on open.

pyarrow is an optional dependency (``pip install 'zendesk-export[parquet]'``); it is imported only when this
sink is used, with a clear error if it is missing.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
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
from ._index import VersionIndex, replay
from ._sql import RAW_JSON
from ._upsert import Plan, Stored, content_digest, key_function, plan_writes
from .base import Checkpoint, ClosingSink, Page, WriteResult

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetSink", "arrow_schema", "read_latest", "read_latest_table"]

_FORMAT = "zendesk-export/parquet"
_VERSION = 2
_READABLE = (1, 2)
_STATE = "_state.json"
_INDEX = "_index.db"
_VIEWS = "latest.sql"
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


#: Columns stored as Arrow lists rather than JSON text, by shape.
_STRING_LISTS = frozenset({"tags"})
_FIELD_LISTS = frozenset({"custom_fields", "fields"})
_ID_LISTS = frozenset({"collaborator_ids", "follower_ids", "email_cc_ids", "followup_ids", "sharing_agreement_ids"})


def _arrow_type(column: Column, name: str) -> Any:
    pa, _ = _pyarrow()
    if name == "tickets" and column.name in _STRING_LISTS:
        return pa.list_(pa.string())
    if name == "tickets" and column.name in _FIELD_LISTS:
        return pa.list_(pa.struct([pa.field("id", pa.int64()), pa.field("value", pa.string())]))
    if name == "tickets" and column.name in _ID_LISTS:
        return pa.list_(pa.int64())
    types = {
        Kind.INTEGER: pa.int64(),
        Kind.TEXT: pa.string(),
        Kind.BOOLEAN: pa.bool_(),
        Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        Kind.JSON: pa.string(),
        Kind.NUMBER: pa.float64(),
    }
    return types[column.kind]


@functools.cache
def arrow_schema(name: str = "tickets") -> pa.Schema:
    """The explicit Arrow schema of table ``name``: derived from the column table, never inferred."""
    pa, _ = _pyarrow()
    fields = [pa.field(c.name, _arrow_type(c, name), nullable=c.name != "id") for c in _columns(name)]
    return pa.schema([*fields, pa.field(RAW_JSON, pa.string(), nullable=False)])


def _strings(value: Any) -> list[str] | None:
    if type(value) is list and all(type(item) is str for item in value):
        return value
    return None


def _ids(value: Any) -> list[int] | None:
    if type(value) is list and all(type(item) is int for item in value):
        return value
    return None


def _field_value(value: Any) -> str | None:
    return value if type(value) is str or value is None else orjson.dumps(value).decode()


def _is_fields(value: Any) -> bool:
    return type(value) is list and all(type(item) is dict and type(item.get("id")) is int for item in value)


def _field_array(values: list[Any]) -> pa.Array:
    """``list<struct<id, value>>`` built from flat buffers (several times faster than converting dicts); the
    whole page at once, or row by row when some value has another shape."""
    pa, _ = _pyarrow()
    try:
        flat = [item for value in values if value is not None for item in value]
        ids = [item["id"] for item in flat]
        texts = [_field_value(item.get("value")) for item in flat]
        wellformed = all(type(v) is list for v in values if v is not None) and all(type(i) is int for i in ids)
    except (TypeError, KeyError, AttributeError):
        wellformed = False
    if wellformed:
        null = [v is None for v in values]
        offsets = list(itertools.accumulate((0 if v is None else len(v) for v in values), initial=0))
    else:
        offsets, ids, texts, null = [0], [], [], []
        for value in values:
            usable = _is_fields(value)
            if usable:
                ids.extend([item["id"] for item in value])
                texts.extend([_field_value(item.get("value")) for item in value])
            null.append(not usable)
            offsets.append(len(ids))
    entries = pa.StructArray.from_arrays([pa.array(ids, pa.int64()), pa.array(texts, pa.string())], ["id", "value"])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), entries, mask=pa.array(null, pa.bool_()))


def _list_array(item_type: str, usable: Callable[[Any], Any]) -> Callable[[list[Any]], pa.Array]:
    """A list column converted by Arrow for the whole page at once; row by row (a value of another shape
    becoming NULL) only when Arrow refuses the page."""

    def convert(values: list[Any]) -> pa.Array:
        pa, _ = _pyarrow()
        kind = pa.list_(getattr(pa, item_type)())
        if all(type(v) is list for v in values if v is not None):  # Arrow would split a string into letters
            try:
                return pa.array(values, kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                pass
        return pa.array([usable(v) for v in values], kind)

    return convert


#: How a list column is built from the objects' values (NULL where a value has another shape).
_LIST_VALUES: dict[str, Callable[[list[Any]], Any]] = {
    **dict.fromkeys(_STRING_LISTS, _list_array("string", _strings)),
    **dict.fromkeys(_FIELD_LISTS, _field_array),
    **dict.fromkeys(_ID_LISTS, _list_array("int64", _ids)),
}


@functools.cache
def _layout(name: str) -> tuple[tuple[Column, ...], tuple[tuple[str, Callable[[list[Any]], Any]], ...]]:
    """Table ``name``'s columns taken through ``extract`` (lists excluded: they are taken from the object,
    never serialised), and its list columns with their converters."""
    columns = _columns(name)
    lists = name == "tickets"
    scalars = tuple(c for c in columns if not (lists and c.name in _LIST_VALUES))
    return scalars, tuple((c.name, _LIST_VALUES[c.name]) for c in columns if lists and c.name in _LIST_VALUES)


def _to_table(name: str, items: Sequence[tuple[dict[str, Any], bytes]]) -> pa.Table:
    pa, _ = _pyarrow()
    scalars, lists = _layout(name)
    rows = [extract(scalars, obj) for obj, _ in items]
    data: dict[str, list[Any]] = {}
    for position, column in enumerate(scalars):
        values = [row[position] for row in rows]
        data[column.name] = [parse_timestamp(v) for v in values] if column.kind is Kind.TIMESTAMP else values
    for column_name, convert in lists:
        data[column_name] = convert([obj.get(column_name) for obj, _ in items])
    data[RAW_JSON] = [raw.decode() for _, raw in items]
    return pa.Table.from_pydict(data, schema=arrow_schema(name))


def _views_sql(path: Path, names: Sequence[str]) -> str:
    """``latest.sql``: one DuckDB view per table, the row of each id in the highest-numbered part."""
    lines = [
        f"-- The latest version of each row of the zendesk-export Parquet output {path}.",
        f"-- duckdb -c \".read {path / _VIEWS}\" -c \"SELECT count(*) FROM tickets\"",
        "-- A row's latest version is in the highest-numbered part (part names sort as numbers). Parts above the",
        "-- committed count (a page interrupted by a crash) are deleted when the next export opens the output.",
    ]
    for name in names:
        glob = str(path / name / "part-*.parquet").replace("'", "''")
        lines.append(
            f'CREATE OR REPLACE VIEW "{name}" AS SELECT * EXCLUDE (filename) '
            f"FROM read_parquet('{glob}', filename = true, union_by_name = true) "
            "QUALIFY row_number() OVER (PARTITION BY id ORDER BY filename DESC) = 1;"
        )
    return "\n".join(lines) + "\n"


def _write_table(path: Path, table: pa.Table) -> None:
    """Write a part atomically (temporary name, fsync, rename), then hand Arrow's freed buffers back to the
    system: its allocator otherwise keeps tens of megabytes of pages across writes."""
    pa, pq = _pyarrow()
    atomic_write_with(path, lambda handle: pq.write_table(table, handle))
    pa.default_memory_pool().release_unused()


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
        self._index: VersionIndex | None = None
        self._dir_fd = self._open_directory()
        try:
            lock_exclusively(self._dir_fd, self.path)
            state = self._load_or_create_state()
            self._checkpoint = checkpoint_from_json(state["checkpoint"])
            self._seq: int = state["pages"]
            self._discard_uncommitted()
            if state["version"] != _VERSION:
                self._migrate(state)
            self._index = VersionIndex(self.path / _INDEX)
            self._tables: set[str] = set()
            for name in ("tickets", *include):
                self._open_table(name)
            self._write_views()
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
            if state.get("version") not in _READABLE:
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

    def _migrate(self, state: dict[str, Any]) -> None:
        """Rewrite every committed part of an older format from its ``raw_json``, then record the new format.

        Each part is replaced atomically and the rewrite reads only ``raw_json``, so an interrupted migration
        simply runs again on the next open."""
        _, pq = _pyarrow()
        for directory in sorted(p for p in self.path.iterdir() if p.is_dir()):
            for part in _committed_parts(directory, self._seq):
                raws = pq.read_table(part, columns=[RAW_JSON]).column(RAW_JSON).to_pylist()
                items = [(orjson.loads(raw), raw.encode()) for raw in raws]
                _write_table(part, _to_table(directory.name, items))
        atomic_write(self.path / _STATE, orjson.dumps({**state, "version": _VERSION}))

    def _open_table(self, name: str) -> None:
        """Bring table ``name`` of the index up to the committed parts (reading only the parts it lacks)."""
        assert self._index is not None
        start = self._index.open_table(name, self._seq)
        if start < self._seq:
            replay(self._index, name, self._scan(name, start), self._seq)
        self._tables.add(name)

    def _scan(self, name: str, after: int) -> Iterator[tuple[int, Stored]]:
        """The version of every row of table ``name`` in the committed parts numbered above ``after``."""
        _, pq = _pyarrow()
        key = key_function(name)
        for part in _committed_parts(self.path / name, self._seq):
            if int(_PART.match(part.name).group(1)) <= after:  # type: ignore[union-attr]
                continue
            for raw in pq.read_table(part, columns=[RAW_JSON]).column(RAW_JSON).to_pylist():
                obj_id, version, deleted = key(orjson.loads(raw))
                yield obj_id, Stored(version, deleted, content_digest(raw.encode()))

    def _write_views(self) -> None:
        names = sorted(p.name for p in self.path.iterdir() if p.is_dir())
        atomic_write(self.path / _VIEWS, _views_sql(self.path.resolve(), names or ["tickets"]).encode())

    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the last committed page, or None for a new output."""
        return self._checkpoint

    def write(self, page: Page) -> WriteResult:
        """Write the page's newer versions as durable parts, then replace the state (the commit point)."""
        assert self._index is not None
        for name in page.sideloads:
            if name not in self._tables:
                sideload_columns(name)
                self._open_table(name)
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
            self._index.update(name, plan.stored, seq)
        return plans["tickets"].result

    def _plan(self, name: str, objects: list[dict[str, Any]]) -> Plan:
        assert self._index is not None
        stored = self._index.stored(name, (obj.get("id") for obj in objects))
        return plan_writes(objects, stored, key_function(name))

    def _write_part(self, name: str, seq: int, plan: Plan) -> None:
        directory = self.path / name
        created = not directory.is_dir()
        if created:
            directory.mkdir()
            fsync_dir(self.path)
        _write_table(directory / _part_name(seq), _to_table(name, list(plan.writes.values())))
        if created:
            self._write_views()

    def close(self) -> None:
        """Release the directory lock; nothing is pending (a write is committed when it returns)."""
        if self._index is not None:
            self._index.close()
            self._index = None
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
