"""Durable-file primitives shared by the file sinks (JSONL, Parquet).

The file sinks' crash safety rests on one ordering: data is written and fsynced, *then* a small state file
is replaced atomically (temp file, fsync, ``os.replace``, fsync of the directory). Whatever the state file
says is therefore on disk, and anything beyond it is an unfinished write that reopening discards.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from ._errors import ForeignOutputError, OutputInUseError
from .base import Checkpoint

__all__ = [
    "atomic_write",
    "atomic_write_with",
    "checkpoint_from_json",
    "checkpoint_to_json",
    "fsync_dir",
    "lock_exclusively",
    "read_state",
]


def fsync_dir(path: Path) -> None:
    """Make a rename or a file creation in ``path`` durable (POSIX needs the directory itself synced)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content, never a mix."""
    atomic_write_with(path, lambda handle: handle.write(data))


def atomic_write_with(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """``atomic_write`` of what ``write`` writes to the (temporary) file handle it is given."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_state(path: Path, fmt: str) -> dict[str, Any] | None:
    """The state document at ``path`` (None if there is none); refuses a file that is not our ``fmt``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = orjson.loads(raw)
    except orjson.JSONDecodeError:
        state = None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise ForeignOutputError(f"{path} exists but is not a zendesk-export state file; refusing it")
    return state


def lock_exclusively(fd: int, path: Path) -> None:
    """Hold an exclusive advisory lock for the life of ``fd``: two exports into one output would mix."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputInUseError(f"{path} is being written by another process") from None


def checkpoint_to_json(checkpoint: Checkpoint | None) -> dict[str, str] | None:
    """The checkpoint as a JSON-able dict (the state files' representation)."""
    if checkpoint is None:
        return None
    return {"mode": checkpoint.mode, "position": checkpoint.position, "source": checkpoint.source}


def checkpoint_from_json(value: Any) -> Checkpoint | None:
    """The inverse of ``checkpoint_to_json``."""
    if value is None:
        return None
    return Checkpoint(mode=value["mode"], position=value["position"], source=value["source"])
