"""JSON Lines sink: ``tickets.jsonl`` is an append-only *log of ticket versions*, one object per line.

Reading it: a ticket can appear on several lines (each newer version is appended, nothing is rewritten), so
the current state of a ticket is its **last** line. ``read_latest`` returns exactly that, one object per id.
A version is appended only when it is newer than the one already in the file (see ``_upsert``), so
re-delivered pages and stale versions never add lines. Each line is the object as received (orjson
re-serialisation of the parsed object: same keys, same order, compact).

Files, for ``--out tickets.jsonl``:

* ``tickets.jsonl`` -- the ticket log; sideloads go to ``tickets.users.jsonl``, ``tickets.groups.jsonl``,
  ``tickets.organizations.jsonl`` (same rules, keyed by ``updated_at``).
* ``tickets.jsonl.state.json`` -- the checkpoint and the committed byte length of each log, replaced
  atomically.
* ``tickets.jsonl.index.db`` -- the upsert index (SQLite), a cache of what the logs say (see ``_index``).

Crash safety: a page's lines are written at the committed end of each log and fsynced, *then* the state file
is replaced. Bytes past a committed length are a write that never finished (perhaps a torn last line);
opening the output truncates them away, so the logs always match the checkpoint. A log *shorter* than its
committed length cannot come from a crash and is reported as ``OutputCorruptError``. A new output gets its
state file before any data, so a non-empty log without a state file is never ours and is refused.

Upsert index: to append only newer versions the sink must know each id's stored version. It keeps them in
``tickets.jsonl.index.db`` (``_index.VersionIndex``), updated after each commit, so memory stays flat whatever
the number of tickets and each ``write`` is O(page). An output without that file (written by an earlier
version, or the file deleted) gets it rebuilt by one scan of the logs on open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ._columns import sideload_columns
from ._errors import ForeignOutputError, OutputCorruptError
from ._files import (
    atomic_write,
    checkpoint_from_json,
    checkpoint_to_json,
    fsync_dir,
    lock_exclusively,
    read_state,
)
from ._index import VersionIndex, replay
from ._upsert import Plan, Stored, content_digest, key_function, plan_writes
from .base import Checkpoint, ClosingSink, Page, WriteResult

__all__ = ["JsonlSink", "index_path", "log_path", "read_latest", "state_path"]

_FORMAT = "zendesk-export/jsonl"
_VERSION = 1


def index_path(path: str | Path) -> Path:
    """The upsert index beside a JSONL output."""
    path = Path(path)
    return path.with_name(path.name + ".index.db")


def state_path(path: str | Path) -> Path:
    """The state file beside a JSONL output."""
    path = Path(path)
    return path.with_name(path.name + ".state.json")


def log_path(path: str | Path, name: str = "tickets") -> Path:
    """The log of ``name`` (``tickets`` or a sideload) for the output ``path``."""
    path = Path(path)
    return path if name == "tickets" else path.with_name(f"{path.stem}.{name}{path.suffix}")


def _lines(path: Path, length: int, start: int = 0) -> Iterator[bytes]:
    """The complete lines between byte ``start`` (a line boundary) and ``length`` of ``path``, without their
    newline."""
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = length - start
        for line in handle:
            if remaining <= 0 or not line.endswith(b"\n") or len(line) > remaining:
                return
            remaining -= len(line)
            yield line[:-1]


class _Log:
    """One append-only log file: its committed length, its open descriptor and its table of the index."""

    def __init__(self, path: Path, name: str, committed: int, index: VersionIndex) -> None:
        self.path, self.name, self.length, self.index = path, name, committed, index
        self.key = key_function(name)
        created = not path.exists()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if created:
                fsync_dir(path.parent)
            self._recover()
            start = index.open_table(name, committed)
            if start < committed:
                replay(index, name, self._scan(start), committed)
        except BaseException:
            os.close(self.fd)
            raise

    def _recover(self) -> None:
        """Cut an unfinished write off the end; refuse a log that lost committed bytes."""
        size = os.fstat(self.fd).st_size
        if size < self.length:
            raise OutputCorruptError(f"{self.path} has {size} bytes but {self.length} were committed")
        if size > self.length:
            os.ftruncate(self.fd, self.length)
            os.fsync(self.fd)

    def _scan(self, start: int) -> Iterator[tuple[int, Stored]]:
        """The version of each line of the committed log from byte ``start`` on, in order."""
        for line in _lines(self.path, self.length, start):
            obj_id, version, deleted = self.key(orjson.loads(line))
            yield obj_id, Stored(version, deleted, content_digest(line))

    def stored(self, objects: Sequence[Mapping[str, Any]]) -> dict[int, Stored]:
        """The stored versions of the objects' ids (O(page): one indexed look-up per 500 ids)."""
        return self.index.stored(self.name, (obj.get("id") for obj in objects))

    def append(self, plan: Plan) -> int:
        """Write the plan's versions at the committed end and fsync them; the new (uncommitted) length."""
        data = b"".join(raw + b"\n" for _, raw in plan.writes.values())
        os.ftruncate(self.fd, self.length)  # drop what a failed earlier attempt may have left
        if data:
            os.pwrite(self.fd, data, self.length)
        os.fsync(self.fd)
        return self.length + len(data)

    def commit(self, length: int, plan: Plan) -> None:
        """Adopt a length and index entries once the state file that covers them is durable."""
        self.length = length
        self.index.update(self.name, plan.stored, length)

    def close(self) -> None:
        os.close(self.fd)


class JsonlSink(ClosingSink):
    """Tickets (and sideloads) as JSON Lines logs with an atomically replaced state file (module doc)."""

    def __init__(self, path: str | Path, *, include: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.state_path = state_path(self.path)
        for name in include:
            sideload_columns(name)
        if self.path.is_dir():
            raise ForeignOutputError(f"{self.path} is a directory, not a JSONL file")
        self._logs: dict[str, _Log] = {}
        self._index: VersionIndex | None = None
        # Lock before reading the state: another writer must not commit between our read and our recovery.
        self._lock_fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            lock_exclusively(self._lock_fd, self.path)
            state = self._load_or_create_state(include)
            self._checkpoint = checkpoint_from_json(state["checkpoint"])
            self._index = VersionIndex(index_path(self.path))
            for name, committed in state["lengths"].items():
                self._logs[name] = _Log(log_path(self.path, name), name, committed, self._index)
        except BaseException:
            self.close()
            raise

    def _load_or_create_state(self, include: Sequence[str]) -> dict[str, Any]:
        """The state document; a new output gets one *before* any data file exists, so data without a state
        file is never ours."""
        state = read_state(self.state_path, _FORMAT)
        if state is not None and state.get("version") != _VERSION:
            version = state.get("version")
            raise ForeignOutputError(f"{self.state_path} has version {version}; this one reads {_VERSION}")
        names = ["tickets", *include]
        if state is None:
            self._refuse_unowned_logs(names)
            state = {"format": _FORMAT, "version": _VERSION, "checkpoint": None, "lengths": {}}
        missing = [name for name in names if name not in state["lengths"]]
        if missing:
            self._refuse_unowned_logs(missing)
            state["lengths"].update(dict.fromkeys(missing, 0))
            atomic_write(self.state_path, orjson.dumps(state))
        return state

    def _refuse_unowned_logs(self, names: Sequence[str]) -> None:
        for name in names:
            path = log_path(self.path, name)
            if path.exists() and path.stat().st_size > 0:
                raise ForeignOutputError(f"{path} exists but has no zendesk-export state file; refusing it")

    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the last committed page, or None for a new output."""
        return self._checkpoint

    def write(self, page: Page) -> WriteResult:
        """Append the page's newer versions, fsync them, then replace the state file (the commit point)."""
        for name in page.sideloads:
            self._ensure_log(name)
        plans = {"tickets": self._plan("tickets", page.tickets)}
        plans.update((name, self._plan(name, objects)) for name, objects in page.sideloads.items())
        lengths = {name: log.length for name, log in self._logs.items()}
        lengths.update((name, self._logs[name].append(plan)) for name, plan in plans.items())
        self._save_state(lengths, page.checkpoint)
        for name, plan in plans.items():
            self._logs[name].commit(lengths[name], plan)
        self._checkpoint = page.checkpoint
        return plans["tickets"].result

    def _plan(self, name: str, objects: list[dict[str, Any]]) -> Plan:
        log = self._logs[name]
        return plan_writes(objects, log.stored(objects), log.key)

    def _ensure_log(self, name: str) -> None:
        """Register a new sideload log in the state file (length 0) before its file is created."""
        if name in self._logs:
            return
        sideload_columns(name)
        self._refuse_unowned_logs([name])
        lengths = {log_name: log.length for log_name, log in self._logs.items()}
        self._save_state({**lengths, name: 0}, self._checkpoint)
        assert self._index is not None
        self._logs[name] = _Log(log_path(self.path, name), name, 0, self._index)

    def _save_state(self, lengths: dict[str, int], checkpoint: Checkpoint | None) -> None:
        state = {"format": _FORMAT, "version": _VERSION, "checkpoint": checkpoint_to_json(checkpoint)}
        atomic_write(self.state_path, orjson.dumps({**state, "lengths": lengths}))

    def close(self) -> None:
        """Close the logs and release the lock; nothing is pending (a write is committed when it returns)."""
        for log in self._logs.values():
            log.close()
        self._logs = {}
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def read_latest(path: str | Path, *, sideload: str | None = None) -> dict[int, dict[str, Any]]:
    """The current version of every ticket (or of every object of ``sideload``) in a JSONL output, by id.

    Reads only the committed part of the log (per the state file, when there is one), so it is safe to call
    while an export is writing; the last line of an id wins, as the writer only ever appends newer versions.
    """
    name = sideload or "tickets"
    if sideload is not None:
        sideload_columns(sideload)
    state = read_state(state_path(path), _FORMAT)
    data = log_path(path, name)
    if not data.exists():
        return {}
    length = state["lengths"].get(name, 0) if state is not None else data.stat().st_size
    key = key_function(name)
    latest: dict[int, dict[str, Any]] = {}
    for line in _lines(data, length):
        obj = orjson.loads(line)
        latest[key(obj)[0]] = obj
    return latest
