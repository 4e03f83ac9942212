"""JSON Lines output: a directory ``DIR.jsonl/`` with one folder per table, each an append-only *log of
versions*, one object per line.

Layout::

    DIR.jsonl/_state.json                  every stream's checkpoint and every log's committed length
    DIR.jsonl/_index.db                    the upsert index (SQLite), a cache of what the logs say
    DIR.jsonl/tickets/tickets.jsonl        the tickets stream
    DIR.jsonl/users/users.jsonl            every other stream (and the ticket export's sideloads) alike
    DIR.jsonl/ticket_tags/ticket_tags.jsonl    the analyst tables derived from the streams

Reading it (the rules are ``_file_output``'s): a key can appear on several lines, each newer version appended,
nothing rewritten, so the current row of a key is its **last** line. ``read_latest`` (a stream table, by id)
and ``read_rows`` (any table, child tables without their deleted rows) return exactly that. A stream table's
line is the object as received (orjson re-serialisation of the parsed object: same keys, same order, compact);
a reference row a refresh no longer saw is appended again with ``"_deleted": true``. A child table's line is
its row (``{"ticket_id": 1, "tag": "vip"}``), or a deletion mark with ``"_deleted": true``. JSON Lines has no
typed columns: custom fields stay in each object (and in ``ticket_custom_field_values``).

Crash safety: a page's lines are written at the committed end of each log and fsynced, *then* the state file
is replaced. Bytes past a committed length are a write that never finished (perhaps a torn last line);
opening the output truncates them away. A log *shorter* than its committed length cannot come from a crash and
is reported as ``OutputCorruptError``.

Earlier versions wrote one file, ``tickets.jsonl``, with ``tickets.jsonl.state.json`` beside it. Such an output
is refused (an output error that names this layout): export into a new ``--out`` directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ._columns import Column
from ._errors import ForeignOutputError, OutputCorruptError
from ._file_output import STATE, FileOutput, TableWrite, key_text
from ._files import fsync_dir, read_state
from ._tables import DELETED

__all__ = ["JsonlSink", "log_path", "read_latest", "read_rows"]

_FORMAT = "zendesk-export/jsonl-tables"


def log_path(path: str | Path, table: str = "tickets") -> Path:
    """The log of ``table`` in the JSONL output ``path``."""
    return Path(path) / table / f"{table}.jsonl"


def _lines(path: Path, length: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) of the complete lines between byte ``start`` (a line boundary) and
    ``length`` of ``path``."""
    with open(path, "rb") as handle:
        handle.seek(start)
        offset = start
        for line in handle:
            if offset + len(line) > length or not line.endswith(b"\n"):
                return
            yield offset, line[:-1]
            offset += len(line)


class JsonlSink(FileOutput):
    """Every stream and analyst table as JSON Lines logs under one state file (module doc)."""

    FORMAT = _FORMAT
    VERSION = 1
    TYPED_COLUMNS = False  # a line is the object's bytes as received

    def _refuse_other_layouts(self) -> None:
        old_state = self.path.with_name(self.path.name + ".state.json")
        if self.path.is_file() or old_state.exists():
            raise ForeignOutputError(
                f"{self.path} is a JSONL output of the earlier one-file layout (tickets.jsonl beside "
                f"{old_state.name}); outputs are now directories with one folder per table "
                f"(DIR.jsonl/tickets/tickets.jsonl, DIR.jsonl/users/users.jsonl, …): export into a new --out")

    def _owns(self, folder: Path, entry: Path) -> bool:
        return entry.name in (f"{folder.name}.jsonl", f"{folder.name}.jsonl.tmp")

    def _discard_uncommitted(self) -> None:
        """Cut every log back to its committed length; refuse a log that lost committed bytes."""
        super()._discard_uncommitted()
        for name, info in self._state["tables"].items():
            log = log_path(self.path, name)
            size = log.stat().st_size if log.exists() else 0
            if size < info["position"]:
                raise OutputCorruptError(f"{log} has {size} bytes but {info['position']} were committed")
            if size > info["position"]:
                with open(log, "r+b") as handle:
                    handle.truncate(info["position"])
                    os.fsync(handle.fileno())

    def _append(self, write: TableWrite, columns: tuple[Column, ...], seq: int) -> tuple[int, list[int]]:
        log = log_path(self.path, write.name)
        if not log.parent.is_dir():
            log.parent.mkdir()
            fsync_dir(self.path)
        length = self._state["tables"].get(write.name, {}).get("position", 0)
        created = not log.exists()
        fd = os.open(log, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, length)  # drop what a failed earlier attempt may have left
            offsets, data = [], bytearray()
            child = write.child is not None  # a child row comes without its bytes: serialised here, as written
            for obj, raw in write.items:
                offsets.append(length + len(data))
                data += orjson.dumps(obj) if child else raw
                data += b"\n"
            os.pwrite(fd, data, length)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(log.parent)
        return length + len(data), offsets

    def _scan(self, name: str, start: int) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        log = log_path(self.path, name)
        if not log.exists():
            return
        for offset, line in _lines(log, self._state["tables"][name]["position"], start):
            yield offset, orjson.loads(line), line

    def _read_at(self, name: str, places: Sequence[tuple[int, int]]) -> dict[int, bytes]:
        found = {}
        with open(log_path(self.path, name), "rb") as handle:
            for obj_id, offset in places:
                handle.seek(offset)
                found[obj_id] = handle.readline().removesuffix(b"\n")
        return found


def _committed_lines(path: str | Path, table: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(the table's state entry, object) of each committed line of ``table`` (safe while an export writes)."""
    state = read_state(Path(path) / STATE, _FORMAT)
    if state is None:
        raise ForeignOutputError(f"{path} has no zendesk-export state file")
    info = state["tables"].get(table)
    if info is None:
        return
    for _offset, line in _lines(log_path(path, table), info["position"]):
        yield info, orjson.loads(line)


def read_latest(path: str | Path, table: str = "tickets") -> dict[int, dict[str, Any]]:
    """The current version of every object of stream table ``table`` by id, as stored (a reference row that
    a refresh no longer saw carries ``"_deleted": true``). Reads only committed lines."""
    return {obj["id"]: obj for _info, obj in _committed_lines(path, table)}


def read_rows(path: str | Path, table: str) -> list[dict[str, Any]]:
    """The current rows of any table: one per key (``id``, or a child table's key columns), its last line;
    a child table's keys whose last line is a deletion mark are gone."""
    latest: dict[str, dict[str, Any]] = {}
    child = False
    for info, obj in _committed_lines(path, table):
        child = "key" in info
        latest[key_text(info.get("key", ["id"]), obj)] = obj
    return [row for row in latest.values() if not (child and row.get(DELETED) is True)]
