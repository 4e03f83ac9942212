"""Fetch the next page while this one is written: a one-page look-ahead on a thread of its own.

Without it a sequential export alternates: download and parse page n, write it, download page n+1, write it.
Downloading mostly waits (on the network, on the server) and SQLite, PostgreSQL and file writes release the GIL,
so the two halves overlap well. :class:`LookAhead` runs the pages iterator (requests, retries, parsing, the walk's
rules) on a helper thread and hands its pages to the calling thread, which keeps doing every write:

* **Same guarantees.** The caller writes page n (rows and checkpoint, atomically, as before) before it asks for
  page n+1, so the order of writes and checkpoints is exactly that of the plain loop; a crash at any instant
  leaves what the plain loop would have left, plus at most one page fetched and not written (fetched again by
  the next run, from the checkpoint).
* **Bounded.** The helper starts fetching page n+2 only once page n+1 has been taken: at most one page waits
  besides the one being written, whatever the length of the export.
* **Errors.** An exception raised while fetching is raised by the iteration where its page would have come: the
  same exception object, so the same message and exit code as without the look-ahead. Pages fetched before it
  are handed over (and written) first.
* **Freed beside the writes.** ``write_each`` hands each written item to the helper, which drops it before it
  fetches the next one: a parsed page is ~100,000 Python objects, and freeing them on the calling thread took
  it 5-7 ms a page, between two writes, while the database it writes to waited.
* **No thread left behind.** Leaving the iteration for any reason (the end, an error in writing, ``break``,
  KeyboardInterrupt) stops the helper: it starts no other request, closes the pages iterator on its own thread,
  and is joined. A request already under way is finished first (bounded by the client's timeout and retries).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Generic, TypeVar

__all__ = ["LookAhead"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Failed:
    """What the helper's ``next()`` raised, carried to the calling thread."""

    error: BaseException


class _End:
    """The pages iterator is exhausted."""


class LookAhead(Generic[T]):
    """Iterate ``source`` one item ahead on a helper thread (see the module docstring). Iterate it once."""

    def __init__(self, source: Iterator[T], *, name: str = "export-look-ahead") -> None:
        self._source = source
        self._handed: SimpleQueue[T | _Failed | _End] = SimpleQueue()
        self._turn = threading.Semaphore(1)  # released when the caller takes an item: the helper may fetch one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, name=name, daemon=True)
        self._written: list[T] = []  # items the caller is done with, dropped by the helper (``write_each``)

    def __iter__(self) -> Iterator[T]:
        self._thread.start()
        try:
            while True:
                item = self._handed.get()
                self._turn.release()
                if isinstance(item, _End):
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item
                del item  # not held while the next one is awaited (``write_each``)
        finally:
            self._close()

    def write_each(self, write: Callable[[T], object]) -> None:
        """``write`` every item in turn, as ``for item in self: write(item)`` does, except that each item is
        freed on the helper thread (module doc); one that ``write`` still refers to is freed wherever that
        reference goes."""
        for item in self:
            write(item)
            self._written.append(item)
            del item  # the helper holds the last reference once this iterator takes the next item

    def _close(self) -> None:
        self._stop.set()
        self._turn.release()  # wake the helper if it waits for its turn, so that it sees the stop
        self._thread.join()

    def _fetch(self) -> None:
        """The helper thread: one item per turn, until the end, an error or a stop."""
        try:
            while self._turn.acquire() and not self._stop.is_set():
                self._written.clear()
                item = self._next_item()
                self._handed.put(item)
                if isinstance(item, (_End, _Failed)):
                    return
        finally:
            _close_source(self._source)

    def _next_item(self) -> T | _Failed | _End:
        try:
            return next(self._source)
        except StopIteration:
            return _End()
        except BaseException as error:  # handed to the calling thread, which raises it
            return _Failed(error)

def _close_source(source: Iterator[object]) -> None:
    """Close a generator on the thread that ran it (its ``finally`` blocks run here, not at garbage collection)."""
    close = getattr(source, "close", None)
    if callable(close):
        close()
