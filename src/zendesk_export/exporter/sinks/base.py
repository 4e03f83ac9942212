"""The contract between the export loop and the places tickets are written to.

A sink stores tickets and the checkpoint that says where the next run resumes. ``write`` applies one page
atomically: either the page's rows *and* its checkpoint are durable, or neither is (SQLite and PostgreSQL: one
transaction; files: data written and fsynced before the checkpoint file is replaced). Rows are upserted by ticket
id and a row is only replaced by a version with a greater or equal ``generated_timestamp``, so re-delivered or
out-of-order pages never move a ticket backwards and never double it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Self


@dataclass(frozen=True)
class Checkpoint:
    """Where the next request of an export starts.

    ``mode`` is ``"time"`` (``position`` is the next ``start_time``, decimal string) or ``"cursor"``
    (``position`` is the last ``after_cursor``). ``source`` identifies the account (its base URL) so that a
    checkpoint is never applied to another account's export.
    """

    mode: str
    position: str
    source: str


@dataclass(frozen=True)
class StreamState:
    """Where one stream of a whole-account export stands, committed with each of its pages.

    ``mode``: ``"time"`` (``position`` is the next ``start_time``) or ``"list"`` (a reference list: ``position``
    is the cursor after the last page written, ``""`` for the first page). ``refresh`` numbers a reference
    list's walks (its rows carry the number of the walk that last saw them); ``complete`` says the stream
    reached its end (incremental: ``end_of_stream``; list: the last page, deletions marked). ``written_at``
    is filled in by the sink when read back.
    """

    stream: str
    mode: str
    position: str
    source: str
    refresh: int = 0
    complete: bool = False
    written_at: str | None = None


@dataclass(frozen=True)
class StreamStatus:
    """What ``zendesk-export status`` shows of one stream: its state (None: never written) and its rows."""

    stream: str
    state: StreamState | None
    rows: int
    deleted: int = 0


@dataclass
class Page:
    """One page of an export, ready to be written: ticket objects as received, sideloads by name, and what the
    sink's ``prepare`` made of the tickets beforehand (None: nothing)."""

    tickets: list[dict[str, Any]]
    checkpoint: Checkpoint
    sideloads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prepared: Any = None


@dataclass
class WriteResult:
    """How a page changed the sink: counts of tickets first seen, replaced by a newer version, newly deleted
    (status ``deleted`` where the stored version was not), and ignored because the stored one is as new."""

    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.new += other.new
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        return self


class Sink(Protocol):
    def load_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the last page written, or None for a new output."""
        ...

    def write(self, page: Page) -> WriteResult:
        """Store the page's tickets (upsert by id, highest generated_timestamp wins), its sideloads, and its
        checkpoint, atomically."""
        ...

    def close(self) -> None: ...


class PreparingSink(Sink, Protocol):
    """A sink that can do part of a page's write before it: ``prepare`` turns tickets into what ``write`` will
    store (serialised bytes, row values), reading nothing stored, so it runs on the thread that fetched the page
    while the previous page is written (the export loop hands the result on as ``Page.prepared``). ``write``
    uses a preparation only for the very ticket objects it was made from and with the settings it was made
    with, and prepares anything else itself: a missing or stale preparation costs time, never correctness."""

    def prepare(self, tickets: list[dict[str, Any]]) -> Any: ...


class ClosingSink:
    """``with sink:`` closes the sink when the block ends; the sinks inherit this and define ``close``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
