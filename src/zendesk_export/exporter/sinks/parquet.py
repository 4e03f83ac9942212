"""Parquet output: a directory ``DIR.parquet/`` with one folder per table, each a log of immutable part files
(one per page that changed the table), plus a state file.

Layout::

    DIR.parquet/_state.json                          every stream's checkpoint, every table's last committed part
    DIR.parquet/_index.db                            the upsert index (SQLite), a cache of what the parts say
    DIR.parquet/latest.sql                           DuckDB views of the current rows of every table
    DIR.parquet/tickets/part-00000001.parquet        the versions page 1 wrote (typed columns + raw_json)
    DIR.parquet/users/part-00000002.parquet          every other stream alike
    DIR.parquet/ticket_tags/part-00000001.parquet    the analyst tables derived from the streams

Parts are numbered by the output's page counter (shared by all streams), so within a table a higher number is
a newer write. The rules are ``_file_output``'s: the current row of a key (``id``; a child table's key columns)
is its row in the highest-numbered part; a reference row a refresh no longer saw is written again with
``_deleted`` true (a column of the reference tables, also set in its ``raw_json``); a child table's removed
rows are written as deletion marks (``_deleted`` true, key columns only). ``read_latest_table`` and
``read_rows`` return the current rows, and ``latest.sql`` defines the same as DuckDB views
(``duckdb -c ".read DIR.parquet/latest.sql" -c "SELECT …FROM tickets"``).

Types: a stream table has its typed columns (``_tables.TABLES``), the custom-field columns bound to it (added
as fields appear: older parts lack them, and the views read them as NULL there) and ``raw_json``; ``tags`` is
``list<string>``; ``custom_fields`` and ``fields`` are ``list<struct<id: int64, value: string>>`` (a value that
is not a string -- a number, a boolean, a multi-select list -- as its JSON text, so ``false`` reads
``'false'``); the ticket id lists (``follower_ids``, …) are ``list<int64>``; other objects are JSON text; an
array of another shape is NULL there, and ``raw_json`` keeps it. Format 1 (every JSON column as text, plus the
``WRITE_ONLY_FIELDS`` columns) is migrated on open: each part is rewritten from its ``raw_json``; format 2 (the
ticket export alone: one page counter, no stream checkpoints) is read as it is.

Memory (peak RSS is a target: under 150 MB whatever the number of tickets). A part is written one row group
at a time: a stream table's groups hold ``ROW_GROUP_ROWS`` (500) rows, each group's Arrow table built just
before it is written and dropped after, so a page never has more than one group's columns in Arrow; a child
table's narrow rows are one group a page (``CHILD_ROW_GROUP_ROWS``). A reader sees the same rows, in more
groups. ``raw_json``, ``description``, ``subject``, ``raw_subject`` and ``url`` are never dictionary-encoded
(their values are long and nearly all distinct: the dictionary only cost its hash table before the writer fell
back to plain encoding). Arrow's buffers come from the system allocator: the writer's through its
``memory_pool``, and the rest because the sink sets ``ARROW_DEFAULT_MEMORY_POOL=system`` before it first
imports pyarrow (unless the variable is set, or pyarrow was imported before: then the process's choice
stands). Arrow's own default, mimalloc, costs 10-20 MB more at the peak of an export once it has started
(the command's ticket export 149 → 139 MB, its ``ticket_events`` 145 → 127 MB; making the system pool the
default with ``set_memory_pool`` after the import kept the cost); ``release_unused`` after each part hands
freed pages back.
A page of the ticket export prepared ahead (``prepare``, on the look-ahead thread) holds its row groups built
while the previous page is written: the library call's peak 117 → 124 MB. A part is encoded into Arrow's memory
and written to its file in one call.
An export reads parts back (a version a page brings again, an index replayed) through ``ParquetFile``:
``pq.read_table`` imports Arrow's dataset module on its first call, ~14 MB the process keeps (only
``read_latest_table``, which no export calls, uses it).
``raw_json`` goes into Arrow as the joined UTF-8 bytes with their offsets, and the ``list<struct>`` columns are
assembled from buffers: ``ListArray.from_arrays(mask=…)`` loads Arrow's compute function registry, ~11 MB the
process keeps. ``raw_json`` stays a string column (DuckDB's JSON functions and the readers take it as text).

Crash safety: a part is written to a temporary name, fsynced and renamed, then ``_state.json`` is replaced
atomically. On open, parts numbered above their table's committed part and temporary files are deleted -- a
page that never committed leaves no trace.

pyarrow is an optional dependency (``pip install 'zendesk-export[parquet]'``); it is imported only when this
sink is used, with a clear error if it is missing.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._columns import (
    Column,
    Kind,
    all_in_int64,
    column_values,
    extract,
    in_int64,
    parse_timestamp,
    top_level_scalar,
)
from ._errors import ForeignOutputError, MissingDependencyError
from ._file_output import STATE, FileOutput, TableWrite, key_text
from ._files import atomic_write, atomic_write_with, fsync_dir, read_state
from ._sql import RAW_JSON
from ._tables import DELETED, TABLES
from ._upsert import Prepared

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetSink", "arrow_schema", "read_latest", "read_latest_table", "read_rows"]

_FORMAT = "zendesk-export/parquet"
_VERSION = 3
_VIEWS = "latest.sql"
_PART = re.compile(r"^part-(\d{8})\.parquet$")
_MARK = Column(DELETED, Kind.BOOLEAN, (DELETED,))


def _pyarrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a MissingDependencyError that says how to install them."""
    # read by Arrow when it starts: a process that imported pyarrow before, or named a pool, keeps its own
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # module doc, "Memory"
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingDependencyError(
            "the Parquet output needs pyarrow: pip install 'zendesk-export[parquet]'"
        ) from None
    return pyarrow, pyarrow.parquet


#: Columns stored as Arrow lists rather than JSON text, by shape.
_STRING_LISTS = frozenset({"tags"})
_FIELD_LISTS = frozenset({"custom_fields", "fields"})
_ID_LISTS = frozenset({"collaborator_ids", "follower_ids", "email_cc_ids", "followup_ids", "sharing_agreement_ids"})


def _field_list_type() -> pa.DataType:
    """``list<struct<id: int64, value: string>>``: the type of ``custom_fields`` and ``fields``."""
    pa, _ = _pyarrow()
    return pa.list_(pa.struct([pa.field("id", pa.int64()), pa.field("value", pa.string())]))


def _arrow_type(column: Column, name: str) -> Any:
    pa, _ = _pyarrow()
    if name == "tickets" and column.name in _STRING_LISTS:
        return pa.list_(pa.string())
    if name == "tickets" and column.name in _FIELD_LISTS:
        return _field_list_type()
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


def _strings(value: Any) -> list[str] | None:
    if type(value) is list and all(type(item) is str for item in value):
        return value
    return None


def _ids(value: Any) -> list[int] | None:
    if type(value) is list and all(type(item) is int and in_int64(item) for item in value):
        return value
    return None


def _field_value(value: Any) -> str | None:
    return value if type(value) is str or value is None else orjson.dumps(value).decode()


_TEXT_TYPES = frozenset({str, type(None)})
_LIST_TYPES = frozenset({list, type(None)})


def _is_fields(value: Any) -> bool:
    return type(value) is list and all(type(item) is dict and type(item.get("id")) is int and in_int64(item["id"])
                                       for item in value)


def _field_texts(flat: list[dict[str, Any]]) -> list[str | None]:
    """The ``value`` of each field as text (absent: None; not a string: its JSON text)."""
    try:
        texts = list(map(operator.itemgetter("value"), flat))
    except KeyError:
        texts = list(map(operator.methodcaller("get", "value"), flat))
    if set(map(type, texts)) <= _TEXT_TYPES:
        return texts
    return [text if type(text) is str or text is None else orjson.dumps(text).decode() for text in texts]


def _field_array(values: list[Any]) -> pa.Array:
    """``list<struct<id, value>>`` built from flat buffers (several times faster than converting dicts); the
    whole page at once, or row by row when some value has another shape."""
    pa, _ = _pyarrow()
    try:  # the type checks map ``type`` over whole lists: no Python call per item
        flat = [item for value in values if value is not None for item in value]
        ids = list(map(operator.itemgetter("id"), flat))
        texts = _field_texts(flat)
        wellformed = set(map(type, values)) <= _LIST_TYPES and set(map(type, ids)) <= {int} and all_in_int64(ids)
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
    return _list_from_buffers(_field_list_type(), offsets, null, entries)


def _list_from_buffers(kind: pa.DataType, offsets: list[int], null: list[bool], entries: pa.Array) -> pa.Array:
    """A list array from its offsets, null flags and flat entries, assembled from buffers.
    ``ListArray.from_arrays(mask=…)`` would do the same but loads Arrow's compute function registry on its first
    call, some 11 MB that the process then keeps (module doc, "Memory")."""
    pa, _ = _pyarrow()
    nulls = sum(null)
    validity = pa.array([not n for n in null], pa.bool_()).buffers()[1] if nulls else None
    return pa.Array.from_buffers(kind, len(null), [validity, pa.array(offsets, pa.int32()).buffers()[1]],
                                 null_count=nulls, children=[entries])


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
def _schema(name: str, columns: tuple[Column, ...], raw: bool) -> pa.Schema:
    """The explicit Arrow schema of ``columns`` of table ``name`` (+ ``raw_json``): never inferred."""
    pa, _ = _pyarrow()
    fields = [pa.field(c.name, _arrow_type(c, name), nullable=c.name != "id") for c in columns]
    return pa.schema([*fields, *([pa.field(RAW_JSON, pa.string(), nullable=False)] if raw else [])])


def arrow_schema(name: str = "tickets") -> pa.Schema:
    """The Arrow schema of stream table ``name`` as declared (bound custom-field columns come after)."""
    table = TABLES[name]
    return _schema(name, (*table.columns, *((_MARK,) if table.snapshot else ())), True)


@functools.cache
def _layout(name: str, columns: tuple[Column, ...]) -> tuple[tuple[Column, ...], tuple[tuple[str, Any], ...]]:
    """Table ``name``'s columns taken through ``extract`` (lists excluded: they are taken from the object,
    never serialised), and its list columns with their converters."""
    lists = name == "tickets"
    scalars = tuple(c for c in columns if not (lists and c.name in _LIST_VALUES))
    return scalars, tuple((c.name, _LIST_VALUES[c.name]) for c in columns if lists and c.name in _LIST_VALUES)


@functools.cache
def _flat(columns: tuple[Column, ...]) -> bool:
    """Whether every column is a ``top_level_scalar``, as a child table's are."""
    return all(map(top_level_scalar, columns))


def _to_table(name: str, columns: tuple[Column, ...], items: Sequence[tuple[dict[str, Any], bytes]],
              raw: bool = True) -> pa.Table:
    pa, _ = _pyarrow()
    scalars, lists = _layout(name, columns)
    transposed: Iterable[Sequence[Any]]
    if _flat(scalars):  # a child table's rows: read column by column (``column_values``)
        objects = [obj for obj, _ in items]
        transposed = [column_values(column, objects) for column in scalars]
    else:
        rows = [extract(scalars, obj) for obj, _ in items]
        transposed = zip(*rows, strict=True) if rows else [()] * len(scalars)  # one C loop, not one per column
    data: dict[str, Any] = {}
    for column, values in zip(scalars, transposed, strict=True):
        timestamps = column.kind is Kind.TIMESTAMP
        data[column.name] = list(map(parse_timestamp, values)) if timestamps else values
    built: list[tuple[Any, list[Any], Any]] = []
    for column_name, convert in lists:
        values = [obj.get(column_name) for obj, _ in items]
        # ``fields`` repeats ``custom_fields`` in every ticket Zendesk sends: one array serves both
        same = next((array for c, v, array in built if c is convert and v == values), None)
        data[column_name] = same if same is not None else convert(values)
        built.append((convert, values, data[column_name]))
    if raw:
        data[RAW_JSON] = _utf8_array([text for _, text in items])
    return pa.Table.from_pydict(data, schema=_schema(name, columns, raw))


def _utf8_array(texts: list[bytes]) -> pa.Array:
    """A string array made of UTF-8 bytes as they are (JSON as orjson writes it: valid UTF-8): one joined
    buffer and its offsets, where converting each as a Python string decoded it and grew Arrow's buffer."""
    pa, _ = _pyarrow()
    offsets = pa.array(list(itertools.accumulate(map(len, texts), initial=0)), pa.int32())
    return pa.Array.from_buffers(pa.string(), len(texts), [None, offsets.buffers()[1], pa.py_buffer(b"".join(texts))])


def _view(path: Path, name: str, info: dict[str, Any]) -> str:
    """The DuckDB view of table ``name``: the row of each key in the highest-numbered part; a child table
    without its deletion marks."""
    glob = str(path / name / "part-*.parquet").replace("'", "''")
    key = ", ".join(f'"{column}"' for column in info.get("key", ["id"]))
    latest = (f"SELECT * EXCLUDE (filename) FROM read_parquet('{glob}', filename = true, union_by_name = true) "
              f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY filename DESC) = 1")
    if "key" in info:
        latest = f'SELECT * EXCLUDE ("{DELETED}") FROM ({latest}) WHERE "{DELETED}" IS NOT TRUE'
    return f'CREATE OR REPLACE VIEW "{name}" AS {latest};'


def _views_sql(path: Path, tables: dict[str, Any]) -> str:
    """``latest.sql``: one DuckDB view per table that holds rows."""
    lines = [
        f"-- The current rows of every table of the zendesk-export Parquet output {path}.",
        f"-- duckdb -c \".read {path / _VIEWS}\" -c \"SELECT count(*) FROM tickets\"",
        "-- A key's current row is in the highest-numbered part (part names sort as numbers); a child table's",
        "-- rows whose last part marks them _deleted are gone. Parts above the committed ones (a page interrupted",
        "-- by a crash) are deleted when the next export opens the output.",
    ]
    lines += [_view(path, name, info) for name, info in sorted(tables.items()) if info["position"]]
    return "\n".join(lines) + "\n"


#: Rows per row group of a stream table (rows of ~2 KB with ``raw_json``): a group's column buffers are built
#: whole before they are written, so smaller groups keep the writer's memory small (module doc, "Memory").
ROW_GROUP_ROWS = 500
#: Rows per row group of a child table: its rows are a few narrow columns (a page's ~12,000 custom-field
#: values fit in well under a megabyte), and each group costs a writer per column, so a page is one group.
CHILD_ROW_GROUP_ROWS = 100_000

#: Columns never dictionary-encoded: their values are (nearly) all distinct and long, so a dictionary would
#: only cost its hash table and its memory before the writer falls back to plain encoding anyway.
_PLAIN_COLUMNS = frozenset({RAW_JSON, "description", "subject", "raw_subject", "url"})


def _groups(name: str, columns: tuple[Column, ...], items: Sequence[tuple[dict[str, Any], bytes]],
            raw: bool = True) -> Iterator[pa.Table]:
    """``items`` as Arrow tables of a row group each, each built when the previous one has been taken."""
    group = ROW_GROUP_ROWS if raw else CHILD_ROW_GROUP_ROWS
    for start in range(0, len(items), group):
        yield _to_table(name, columns, items[start : start + group], raw)


def _write_part(path: Path, name: str, columns: tuple[Column, ...], items: Sequence[tuple[dict[str, Any], bytes]],
                raw: bool = True, groups: Iterable[pa.Table] | None = None) -> None:
    """Write ``items`` as a part atomically (temporary name, fsync, rename), one row group of ``ROW_GROUP_ROWS``
    at a time: each group's Arrow table is built just before it is written and dropped right after, so a page
    never has more than one group in Arrow at once (module doc, "Memory"), unless ``groups`` gives the tables
    built already (a prepared page of the ticket export: its two groups)."""
    pa, pq = _pyarrow()
    schema = _schema(name, columns, raw)
    dictionary = [field.name for field in schema if field.name not in _PLAIN_COLUMNS]
    group = ROW_GROUP_ROWS if raw else CHILD_ROW_GROUP_ROWS

    def write(handle: Any) -> None:
        # into Arrow's own memory, then to the file in one call: written to a Python file object, the writer
        # takes the GIL back for each of its many small writes, and waits for it whenever a thread is busy
        # in Python (the look-ahead parsing the next page)
        part = pa.BufferOutputStream()
        with pq.ParquetWriter(part, schema, use_dictionary=dictionary, memory_pool=pa.system_memory_pool()) as out:
            for table in _groups(name, columns, items, raw) if groups is None else groups:
                out.write_table(table, row_group_size=group)
        handle.write(part.getvalue())

    atomic_write_with(path, write)
    pa.default_memory_pool().release_unused()


def _part_name(seq: int) -> str:
    return f"part-{seq:08d}.parquet"


def _parts(directory: Path, committed: int, after: int = 0) -> list[tuple[int, Path]]:
    """(number, path) of one table's committed parts numbered above ``after``, in order."""
    if not directory.is_dir():
        return []
    parts = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _PART.match(p.name))]
    return [(seq, p) for seq, p in sorted(parts) if after < seq <= committed]


def _read_part(part: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """One part (``columns`` of it) as written. Through ``ParquetFile``: ``pq.read_table`` would import Arrow's
    dataset module on its first call, ~14 MB that an export then keeps (module doc, "Memory")."""
    _, pq = _pyarrow()
    with pq.ParquetFile(part) as file:
        return file.read(columns=columns)


def _objects(part: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(object, bytes) of a stream table part's rows, from ``raw_json``."""
    for raw in _read_part(part, [RAW_JSON]).column(RAW_JSON).to_pylist():
        data = raw.encode()
        yield orjson.loads(data), data


def _rows_of(part: Path, ids: Collection[int]) -> Iterator[tuple[int, bytes]]:
    """(id, bytes) of the rows of a stream table part whose id is in ``ids``; only their JSON is read into
    Python (a part holds one row per id)."""
    table = _read_part(part, ["id", RAW_JSON])
    raws = table.column(RAW_JSON)
    for row, obj_id in enumerate(table.column("id").to_pylist()):
        if obj_id in ids:
            yield obj_id, raws[row].as_py().encode()


class ParquetSink(FileOutput):
    """Every stream and analyst table as Parquet parts under one state file (module doc)."""

    FORMAT = _FORMAT
    VERSION = _VERSION

    def __init__(self, path: str | Path, *, include: Sequence[str] = ()) -> None:
        _pyarrow()
        super().__init__(Path(str(path).rstrip("/")), include=include)
        try:
            self._committed()
        except BaseException:
            self.close()
            raise

    def _upgrade(self, state: dict[str, Any]) -> dict[str, Any]:
        """Formats 1 and 2 held the ticket export alone, with one page counter: every table folder is
        committed up to it (format 1's parts are rewritten first)."""
        version = state.get("version")
        if version == _VERSION:
            return state
        if version not in (1, 2):
            raise ForeignOutputError(f"{self.path} has format version {version}; unknown")
        tables = {folder.name: {"position": state["pages"]} for folder in self._table_folders()
                  if folder.name in TABLES}
        if version == 1:
            self._migrate(state["pages"])
        state = {**state, "version": _VERSION, "tables": tables, "streams": {}, "rows": {}}
        atomic_write(self.path / STATE, orjson.dumps(state))
        return state

    def _migrate(self, pages: int) -> None:
        """Rewrite every committed part of format 1 from its ``raw_json``. Each part is replaced atomically and
        the rewrite reads only ``raw_json``, so an interrupted migration simply runs again on the next open."""
        for folder in sorted(f for f in self._table_folders() if f.name in TABLES):
            for _seq, part in _parts(folder, pages):
                _write_part(part, folder.name, TABLES[folder.name].columns, list(_objects(part)))

    def _discard_uncommitted(self) -> None:
        """Delete what a page that never committed left: later-numbered parts and temporary files."""
        super()._discard_uncommitted()
        for name, info in self._state["tables"].items():
            folder = self.path / name
            if not folder.is_dir():
                continue
            committed = info["position"]
            for part in folder.iterdir():
                match = _PART.match(part.name)
                if part.name.endswith(".tmp") or (match and int(match.group(1)) > committed):
                    part.unlink()

    def _owns(self, folder: Path, entry: Path) -> bool:
        return bool(_PART.match(entry.name)) or (entry.name.startswith("part-") and entry.name.endswith(".tmp"))

    def _committed(self) -> None:
        atomic_write(self.path / _VIEWS, _views_sql(self.path.resolve(), self._state["tables"]).encode())

    def _append(self, write: TableWrite, columns: tuple[Column, ...], seq: int) -> tuple[int, list[int]]:
        folder = self.path / write.name
        if not folder.is_dir():
            folder.mkdir()
            fsync_dir(self.path)
        child = write.child is not None
        marked = child or (write.table is not None and write.table.snapshot)
        columns = (*columns, *((_MARK,) if marked else ()))
        _write_part(folder / _part_name(seq), write.name, columns, write.items, raw=not child,
                    groups=_Built.groups_of(write.prepared.page, write.items, columns))
        return seq, [seq] * len(write.items)

    def prepare(self, tickets: list[dict[str, Any]]) -> Prepared:
        """Beside the tickets' bytes and enriched objects (``FileOutput.prepare``), their row groups in
        Arrow, as a first export writes them: every ticket a winner, none stored before (``_Built``)."""
        table = self._tickets
        prepared = self._prepare(table, tickets)
        columns = self._columns(TableWrite("tickets", table=table), self._state["tables"].get("tickets", {}))
        columns = (*columns, *((_MARK,) if table.snapshot else ()))
        items = [(obj if enriched is None else enriched, raw) for obj, raw, enriched in prepared.made.values()]
        prepared.page = _Built(columns, [raw for _obj, raw in items], list(_groups("tickets", columns, items)))
        return prepared

    def _scan(self, name: str, start: int) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        info = self._state["tables"][name]
        for seq, part in _parts(self.path / name, info["position"], start):
            if "key" in info:
                yield from ((seq, row, b"") for row in _child_rows(part))
            else:
                yield from ((seq, obj, raw) for obj, raw in _objects(part))

    def _read_at(self, name: str, places: Sequence[tuple[int, int]]) -> dict[int, bytes]:
        wanted: dict[int, set[int]] = {}
        for obj_id, seq in places:
            wanted.setdefault(seq, set()).add(obj_id)
        return {obj_id: raw for seq, ids in wanted.items()
                for obj_id, raw in _rows_of(self.path / name / _part_name(seq), ids)}


@dataclass(frozen=True)
class _Built:
    """A prepared page's ticket rows as Arrow row groups, with their columns and the bytes of each row, in order."""

    columns: tuple[Column, ...]
    raws: list[bytes]
    groups: list[pa.Table]

    @staticmethod
    def groups_of(built: Any, items: Sequence[tuple[dict[str, Any], bytes]],
                  columns: tuple[Column, ...]) -> list[pa.Table] | None:
        """The row groups of ``built`` when they hold exactly ``items`` (the very bytes, in order) with
        ``columns``; None otherwise (some ticket lost to a stored version, or columns were added since)."""
        if not isinstance(built, _Built) or built.columns != columns or len(built.raws) != len(items):
            return None
        return built.groups if all(map(operator.is_, built.raws, (raw for _obj, raw in items))) else None


def _child_rows(part: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _read_part(part).to_pylist()
    return rows


def _state(path: Path) -> dict[str, Any]:
    state = read_state(path / STATE, _FORMAT)
    if state is None:
        raise ForeignOutputError(f"{path} has no zendesk-export state file")
    return state


def _committed_parts(path: Path, table: str) -> tuple[dict[str, Any], list[Path]]:
    """The table's state entry (its position as of format 2 when older) and its committed parts."""
    state = _state(path)
    info = state["tables"].get(table) if "tables" in state else {"position": state["pages"]}
    if info is None:
        return {"position": 0}, []
    return info, [part for _seq, part in _parts(path / table, info["position"])]


def read_latest_table(path: str | Path, table: str = "tickets") -> pa.Table:
    """The current row of every id of stream table ``table`` as one typed Arrow table, sorted by id (bound
    custom-field columns included). Reads only committed parts, so it is safe while an export is writing."""
    pa, pq = _pyarrow()
    _info, parts = _committed_parts(Path(path), table)
    if not parts:
        return arrow_schema(table).empty_table()
    data = pa.concat_tables([pq.read_table(part) for part in parts], promote_options="default")
    data = data.append_column("_order", pa.array(range(data.num_rows), type=pa.int64()))
    last = data.group_by("id").aggregate([("_order", "max")]).column("_order_max")
    return data.take(last).drop_columns(["_order"]).sort_by("id")


def read_latest(path: str | Path, table: str = "tickets") -> dict[int, dict[str, Any]]:
    """The current version of every object of stream table ``table`` by id, as stored (a reference row that
    a refresh no longer saw carries ``"_deleted": true``)."""
    latest = read_latest_table(path, table)
    return {obj["id"]: obj for obj in map(orjson.loads, latest.column(RAW_JSON).to_pylist())}


def read_rows(path: str | Path, table: str) -> list[dict[str, Any]]:
    """The current rows of any table as dicts of its columns: one per key, a child table's deletion marks and
    the rows they remove left out."""
    info, parts = _committed_parts(Path(path), table)
    if not parts:
        return []
    if "key" not in info:
        return read_latest_table(path, table).to_pylist()  # type: ignore[no-any-return]
    latest: dict[str, dict[str, Any]] = {}
    for part in parts:
        for row in _child_rows(part):
            latest[key_text(info["key"], row)] = row
    return [{k: v for k, v in row.items() if k != DELETED} for row in latest.values() if row.get(DELETED) is not True]
