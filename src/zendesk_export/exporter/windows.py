"""Concurrent windows: the history cut by ``generated_timestamp`` into windows walked side by side, so that
several export requests are in flight within the rate limit.

A window ``[start, end)`` is an export from ``start`` (a cursor export in cursor mode, a time-based one in time
mode) that stops at the first page reaching ``end``; the tickets of that page at or after ``end`` are left to
the next window, which starts exactly there (``start_time`` is inclusive). The last window has no end: it runs
to ``end_of_stream``, so a ticket that changes during the run (its new version leaves the earlier windows for
the end of the stream) is still caught. Over an unchanging history the windows together deliver exactly the
tickets of one sequential export; a ticket met twice anyway is stored once, the sinks keeping the newest.

Progress: the windows, each with its position after the last page *written* (``at``) and whether it is
``done``, are the checkpoint committed with every page (:class:`Plan`, encoded in the checkpoint's
``position`` as a JSON object, which neither a time position, digits, nor a Zendesk cursor, base64, can be).
A run that stops anywhere resumes every window where its last written page left it. Once every window is done,
the checkpoint is the last window's plain position again, where the next run starts (and may split anew).

:class:`Walkers` runs the windows on worker threads that only fetch; the caller's thread writes, so a sink is
only ever used from one thread, and applies :func:`clip`, the authoritative cut.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson

from .sinks.base import Checkpoint

__all__ = ["MAX_AUTO_CONCURRENCY", "Plan", "Walkers", "Window", "clip", "split"]

MAX_AUTO_CONCURRENCY = 8  # requests in flight chosen automatically; --concurrency may ask for more
_POLL = 0.2  # seconds between looks at the stop flag while a worker waits for room in the queue


class PageLike(Protocol):
    tickets: list[dict[str, Any]]
    checkpoint: Checkpoint | None
    end_of_stream: bool


P = TypeVar("P", bound=PageLike)


@dataclass
class Window:
    """Tickets with ``start <= generated_timestamp < end`` (``end`` None: to the end of the stream); ``at`` is
    the position after its last written page (None before the first), ``done`` whether it is finished."""

    start: int
    end: int | None
    at: str | None = None
    done: bool = False

    def origin(self, mode: str, source: str) -> int | Checkpoint:
        """Where the window's next request starts: its position, or its start before its first page."""
        return Checkpoint(mode, self.at, source) if self.at is not None else self.start


@dataclass
class Plan:
    """The windows of one export and their progress, as stored in a checkpoint."""

    mode: str
    source: str
    windows: list[Window] = field(default_factory=list)

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> Plan | None:
        """The plan a checkpoint holds, or None for a plain (sequential) checkpoint."""
        if not checkpoint.position.startswith("{"):
            return None
        try:
            stored = orjson.loads(checkpoint.position)["windows"]
            windows = [Window(int(w["start"]), _optional_int(w["end"]), w["at"], bool(w["done"])) for w in stored]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return cls(checkpoint.mode, checkpoint.source, windows) if windows else None

    def checkpoint(self) -> Checkpoint:
        """The windows as a checkpoint; when all are done, the last window's own position."""
        last = self.windows[-1]
        if all(window.done for window in self.windows) and last.at is not None:
            return Checkpoint(self.mode, last.at, self.source)
        stored = [{"start": w.start, "end": w.end, "at": w.at, "done": w.done} for w in self.windows]
        return Checkpoint(self.mode, orjson.dumps({"windows": stored}).decode(), self.source)

    def pending(self) -> list[int]:
        return [index for index, window in enumerate(self.windows) if not window.done]

    def resume_point(self) -> int | Checkpoint:
        """Where a finished plan whose last window never got a position goes on: that window's start."""
        return self.windows[-1].origin(self.mode, self.source)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def split(first: int, reached: str, low: int, high: int, count: int) -> list[Window]:
    """``count`` windows: the first from ``first`` (already walked up to position ``reached``, timestamp
    ``low``) up to the first boundary, then equal spans of ``(low, high]``, the last one open-ended."""
    bounds = [low + (high - low) * k // count for k in range(1, count)]
    starts, ends = [first, *bounds], [*bounds, None]
    windows = [Window(start, end) for start, end in zip(starts, ends, strict=True)]
    windows[0].at = reached
    return windows


def crosses(window: Window, page: PageLike, mode: str) -> bool:
    """Whether ``page`` finishes ``window``: the end of the stream, or the window's end reached."""
    if page.end_of_stream:
        return True
    if window.end is None:
        return False
    if any(_timestamp(ticket) >= window.end for ticket in page.tickets):
        return True
    position = page.checkpoint.position if page.checkpoint is not None else ""
    return mode == "time" and position.isascii() and position.isdigit() and int(position) >= window.end


def clip(window: Window, page: PageLike, mode: str) -> list[dict[str, Any]]:
    """Apply ``page`` to ``window`` (its position, whether it is done); the page's tickets that belong to it."""
    if crosses(window, page, mode):
        window.done = True
    if page.checkpoint is not None:
        window.at = page.checkpoint.position
    if window.end is None:
        return page.tickets
    end = window.end
    return [ticket for ticket in page.tickets if _timestamp(ticket) < end]


def _timestamp(ticket: dict[str, Any]) -> int:
    value = ticket.get("generated_timestamp")
    return value if isinstance(value, int) else 0


class Walkers(Generic[P]):
    """Walk the pending windows of ``plan`` on ``workers`` threads; iterate to receive ``(window, page)`` in
    arrival order, and apply each page with :func:`clip` under :attr:`lock` (windows change while others run).

    ``walk(window)`` gives a window's pages; ``started`` maps a window to pages already under way (the walk that
    found the history worth splitting). A worker without a window left takes the second half of the running
    window with the most history ahead of it (the last window's history ends at ``target``, the server's
    "now"; without it the last window is not split), so that concurrency lasts to the end even when tickets
    crowd into some windows. At most ``workers`` pages wait in memory. A worker's error is raised by the
    iteration; leaving it early (or :meth:`stop`) stops the workers."""

    def __init__(self, plan: Plan, walk: Callable[[Window], Iterator[P]], workers: int,
                 started: dict[int, Iterator[P]] | None = None, target: int | None = None) -> None:
        self.plan, self.walk, self.target = plan, walk, target
        self.started = {id(plan.windows[index]): pages for index, pages in (started or {}).items()}
        self.workers = max(1, min(workers, len(plan.pending()) or 1))
        self.lock = threading.Lock()
        self._todo = [plan.windows[index] for index in plan.pending()]
        self._running: list[Window] = []
        self._fetched: dict[int, int] = {}  # id(window) → newest generated_timestamp fetched in it
        last = target if target is not None else max((w.end or w.start for w in plan.windows), default=0)
        self._smallest = max(2, (last - plan.windows[0].start) // (16 * self.workers))
        self._stop = threading.Event()
        self._queue: queue.Queue[tuple[Window, P] | BaseException | None] = queue.Queue(maxsize=self.workers)

    def __iter__(self) -> Iterator[tuple[Window, P]]:
        threads = [threading.Thread(target=self._work, name=f"export-window-{n}", daemon=True)
                   for n in range(self.workers)]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = self._queue.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()

    def _next(self) -> Window | None:
        with self.lock:
            window = self._todo.pop(0) if self._todo else self._split()
            if window is not None:
                self._running.append(window)
            return window

    def _split(self) -> Window | None:
        """A new window: the second half of what lies ahead of the busiest running window (None: nothing worth
        splitting). Its old window now ends where the new one starts; what it fetched lies before that."""
        best, low, high = None, 0, 0
        for window in self._running:
            if id(window) not in self._fetched and window.at is not None:
                continue  # resumed, and where it stands is not known yet
            ahead_from = max(window.start, self._fetched.get(id(window), window.start))
            ahead_to = window.end if window.end is not None else self.target
            if not window.done and ahead_to is not None and ahead_to - ahead_from > high - low:
                best, low, high = window, ahead_from, ahead_to
        if best is None or high - low < 2 * self._smallest:
            return None
        middle = low + (high - low) // 2
        new = Window(middle, best.end)
        best.end = middle
        position = next(n for n, window in enumerate(self.plan.windows) if window is best)
        self.plan.windows.insert(position + 1, new)
        return new

    def _work(self) -> None:
        try:
            while not self._stop.is_set() and (window := self._next()) is not None:
                self._walk(window)
        except BaseException as error:  # handed to the writing thread, which raises it
            self._put(error)
        self._put(None)

    def _walk(self, window: Window) -> None:
        pages = self.started.pop(id(window), None) or self.walk(window)
        try:
            for page in pages:
                with self.lock:
                    if page.tickets:
                        self._fetched[id(window)] = max(_timestamp(ticket) for ticket in page.tickets)
                    finished = crosses(window, page, self.plan.mode)
                if not self._put((window, page)) or finished:
                    return
        finally:
            with self.lock:
                self._running.remove(window)

    def _put(self, item: tuple[Window, P] | BaseException | None) -> bool:
        """Queue ``item`` unless the run is stopping; whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False


def windows_summary(windows: Sequence[Window]) -> str:
    """``3 of 4 windows left`` for people."""
    left = sum(1 for window in windows if not window.done)
    return f"{left} of {len(windows)} windows left"
