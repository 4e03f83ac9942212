"""The export loops: walk Zendesk's incremental ticket export page by page, never losing or doubling a ticket.

Rules (the pitfalls of Appendix B of the reference, avoided):

* Stop on ``end_of_stream: true`` only. An empty page or a null URL alone is not the end: an empty page with
  ``end_of_stream: false`` (or a page that does not advance) is asked again after a backoff, at most
  :data:`MAX_STALLS` times in a row, then :class:`ExportStuck` is raised.
* Time mode (``/api/v2/incremental/tickets.json``): the next ``start_time`` is the page's ``end_time``; we
  build the next URL from our own base URL rather than following ``next_page`` (whose host can be the
  account's canonical host, not the one we were given). The tickets of a page that sit at the next
  ``start_time`` come back on the next page; those repeats (same id *and* same ``generated_timestamp``) are
  dropped, so memory is O(page), not O(account). A ticket that changed meanwhile has a new
  ``generated_timestamp`` and is kept.
* Cursor mode (``/api/v2/incremental/tickets/cursor.json``): ``start_time`` on the first request only, then
  ``cursor=after_cursor``; the checkpoint is the ``after_cursor``.
* A walk does not start from a ``start_time`` less than :data:`MIN_AGE` seconds behind the *server's* clock
  (its ``Date`` header; a test server's clock can be frozen or advanced, so the local clock is never used;
  before the first answer, and within a walk whose last page said ``end_of_stream: false``, the server
  judges). A 400/422 "Too recent start_time" means "nothing new": the run ends, successfully.
* Every page goes to the sink with the checkpoint of the *next* request, in one atomic ``sink.write``; a run
  resumes from the sink's checkpoint, and refuses one written for another account or mode.
* One request at a time, the next page is fetched on a helper thread while this one is written
  (:mod:`.prefetch`); writes stay on the calling thread, in the same order, so the rule above is unchanged.
  A sink that can prepare its rows without reading what it stored (``PreparingSink``) does so on the thread
  that fetched the page, so that this work overlaps the previous page's write too.
* Several requests in flight (``concurrency``, automatic by default): when the first page shows that more of
  the history is left than one request at a time can fetch within the rate limit, the rest is cut into
  windows walked side by side under one pacer (:mod:`.windows`, :mod:`.pacer`); the checkpoint then holds every
  window's progress.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from typing import Any

import httpx

from .client import Wait, ZendeskClient
from .errors import CheckpointMismatch, ExportError, ExportStuck, MalformedPage, OutputError, TooRecentStartTime
from .memory import fewer_collections
from .moments import describe_checkpoint
from .outputs import check_output, discard_new_entries, existing_entries
from .pacer import auto_concurrency
from .prefetch import LookAhead
from .settings import ExportConfig
from .sinks._columns import in_int64
from .sinks.base import Checkpoint, Page, Sink, WriteResult
from .windows import MAX_AUTO_CONCURRENCY, Plan, Walkers, Window, clip, split

__all__ = [
    "CURSOR_PATH",
    "MAX_STALLS",
    "MIN_AGE",
    "TIME_PATH",
    "ExportPage",
    "ExportSummary",
    "Progress",
    "iter_pages",
    "iter_tickets",
    "run_export",
]

TIME_PATH = "/api/v2/incremental/tickets.json"
CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"
MIN_AGE = 61  # seconds; Zendesk refuses a start_time less than a minute old
MAX_STALLS = 5  # pages in a row that do not advance the export before giving up


@dataclass
class ExportPage:
    """One page as the loop hands it on: tickets without the repeats of the previous page, sideloads, the
    checkpoint to resume *after* this page, and whether it was the end of the stream. ``prepared`` is what the
    sink of :func:`run_export` made of the tickets on the thread that fetched them (``PreparingSink``)."""

    tickets: list[dict[str, Any]]
    checkpoint: Checkpoint | None
    sideloads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    end_of_stream: bool = False
    repeats: int = 0
    prepared: Any = None


@dataclass(frozen=True)
class Progress:
    """What a progress display needs, sent after every page (``kind="page"``), before every pause
    (``"wait"``, with ``wait``) and at the end (``"done"``). ``reached`` is the newest ``generated_timestamp``
    exported so far, ``origin`` the oldest one of this run, ``target`` the server's "now minus a minute"
    (epoch seconds, None until known): ``(reached - origin) / (target - origin)`` is how far the run has
    come."""

    kind: str
    pages: int
    tickets: int
    requests: int
    retries: int
    rate_limit_waits: int
    waited_seconds: float
    origin: int | None = None
    reached: int | None = None
    target: float | None = None
    wait: Wait | None = None
    checkpoint: Checkpoint | None = None


@dataclass
class ExportSummary:
    """The outcome of :func:`run_export`. ``tickets`` counts ticket versions received (boundary repeats of
    the time-based export removed); ``new``/``updated``/``deleted``/``unchanged`` are the sink's verdicts;
    the rest are the client's counters for this run."""

    tickets: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    duration_seconds: float = 0.0
    mode: str = "time"
    resumed_from: Checkpoint | None = None
    checkpoint: Checkpoint | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> list[str]:
        """The summary as a few human-readable lines (moments as UTC dates, not epochs or cursors)."""
        resumed = f"resumed from {describe_checkpoint(self.resumed_from)}" if self.resumed_from else "first run"
        after = f"next run resumes from {describe_checkpoint(self.checkpoint)}" if self.checkpoint else \
            "no checkpoint yet: the next run starts from --start-time again"
        return [
            f"tickets: {self.tickets} exported ({self.new} new, {self.updated} updated, "
            f"{self.deleted} deleted, {self.unchanged} unchanged)",
            f"pages: {self.pages}, requests: {self.requests}, retries: {self.retries}, "
            f"rate-limit waits: {self.rate_limit_waits} ({self.waited_seconds:.1f}s waited)",
            f"mode: {self.mode}, {resumed}, duration: {self.duration_seconds:.2f}s",
            after,
        ]


@dataclass(frozen=True)
class _Walk:
    mode: str
    include: tuple[str, ...]
    exclude_deleted: bool
    per_page: int
    source: str

    def params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"per_page": self.per_page}
        if self.include:
            params["include"] = ",".join(self.include)
        if self.exclude_deleted:
            params["exclude_deleted"] = "true"
        return params


def iter_pages(client: ZendeskClient, start: int | Checkpoint = 0, *, mode: str | None = None,
               include: Sequence[str] | None = None, exclude_deleted: bool | None = None,
               per_page: int | None = None) -> Iterator[ExportPage]:
    """Pages of the export from ``start`` (epoch seconds, or a :class:`Checkpoint` from an earlier page) until
    ``end_of_stream``. Options default to ``client.config``'s (``mode``: a checkpoint's own mode). Raises the
    errors of :mod:`.errors`."""
    config = client.config
    walk = _Walk(mode or (start.mode if isinstance(start, Checkpoint) else config.mode),
                 tuple(config.include if include is None else include),
                 config.exclude_deleted if exclude_deleted is None else exclude_deleted,
                 per_page or config.per_page, config.source)
    if isinstance(start, Checkpoint):
        _check_resumable(start, walk.mode, walk.source)
    if walk.mode == "cursor":
        return _cursor_pages(client, walk, start)
    if walk.mode != "time":
        raise ExportError(f"unknown mode {walk.mode!r}")
    return _time_pages(client, walk, int(start.position) if isinstance(start, Checkpoint) else start)


def iter_tickets(client_or_config: ZendeskClient | ExportConfig, start_time: int | None = None,
                 mode: str | None = None, *, include: Sequence[str] | None = None,
                 exclude_deleted: bool | None = None, per_page: int | None = None,
                 sleep: Callable[[float], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every ticket changed since ``start_time`` (epoch seconds), as the dicts Zendesk sends, once per
    version.

    Give a :class:`ZendeskClient` (reused, not closed) or an :class:`ExportConfig` (a client is made and
    closed when the iterator ends). Unset options come from the config. A ticket changed during the iteration
    can be yielded again with a newer ``generated_timestamp``: keep the highest. For sideloads and resumable
    checkpoints use :func:`iter_pages` or :func:`run_export`.

    >>> for ticket in iter_tickets(ExportConfig.from_env(), start_time=1700000000):  # doctest: +SKIP
    ...     print(ticket["id"], ticket["status"])
    """
    client = ZendeskClient(client_or_config, sleep=sleep) if isinstance(client_or_config, ExportConfig) \
        else client_or_config
    first = client.config.start_time if start_time is None else start_time
    try:
        for page in iter_pages(client, first, mode=mode, include=include, exclude_deleted=exclude_deleted,
                               per_page=per_page):
            yield from page.tickets
    finally:
        if client is not client_or_config:
            client.close()


@fewer_collections()
def run_export(config: ExportConfig, sink: Sink | str | None = None, *, client: ZendeskClient | None = None,
               sleep: Callable[[float], None] | None = None, transport: httpx.BaseTransport | None = None,
               on_progress: Callable[[Progress], None] | None = None) -> ExportSummary:
    """Export every ticket changed since the sink's checkpoint (or ``config.start_time`` on a new output) into
    ``sink``, page by page, each page and its checkpoint atomically; return an :class:`ExportSummary`.

    ``sink`` is a :class:`Sink`, or an output string for ``open_sink`` (default ``config.out``), opened with
    ``config.include`` and closed at the end. Run it again to continue where it stopped (also after a crash).
    ``sleep``/``transport`` go to the :class:`ZendeskClient` made when ``client`` is not given;
    ``on_progress`` receives :class:`Progress` events.

    >>> summary = run_export(ExportConfig.from_env(out="tickets.db"))  # doctest: +SKIP
    >>> summary.new, summary.updated
    """
    if sink is not None and not isinstance(sink, str):
        return _Run(config, sink, client, sleep, transport, on_progress).run()
    with _owned_sink(sink or config.out, config.include) as target:
        return _Run(config, target, client, sleep, transport, on_progress).run()


class _Run:
    """One run of :func:`run_export`: owns the client (unless given) and the running totals."""

    def __init__(self, config: ExportConfig, sink: Sink, client: ZendeskClient | None,
                 sleep: Callable[[float], None] | None, transport: httpx.BaseTransport | None,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.config, self.sink, self.on_progress = config, sink, on_progress
        self.own_client = client is None
        self.client = client or ZendeskClient(config, sleep=sleep, transport=transport)
        self.chained_on_wait = self.client.on_wait
        self.client.on_wait = self._on_wait
        self.summary = ExportSummary(mode=config.mode)
        self.baseline = replace(self.client.stats)
        self.origin: int | None = None
        self.reached: int | None = None
        self.covered: dict[int, int] = {}  # id(window) → newest generated_timestamp written from it

    def run(self) -> ExportSummary:
        started = time.monotonic()
        try:
            resumed = _load_checkpoint(self.sink)
            self.summary.resumed_from = self.summary.checkpoint = resumed
            self._export(resumed)
        finally:
            self.client.on_wait = self.chained_on_wait
            if self.own_client:
                self.client.close()
            self.summary.duration_seconds = time.monotonic() - started
            self._count_requests()
        self._report("done")
        return self.summary

    def _export(self, resumed: Checkpoint | None) -> None:
        """Go on with the windows of a resumed checkpoint, or walk from its position (or the start time) and
        split into windows when the first page shows that it pays."""
        plan = Plan.of(resumed) if resumed is not None else None
        start: int | Checkpoint = resumed if resumed is not None else self.config.start_time
        if resumed is not None and plan is not None:
            _check_resumable(resumed, self.config.mode, self.config.source)
            if plan.pending():
                self._walk_windows(plan, self.config.concurrency or len(plan.pending()), {}, None)
                return
            start = plan.resume_point()
        pages = self._prepared(iter_pages(self.client, start, mode=self.config.mode))
        first = next(pages, None)
        if first is None:
            return
        plan = self._plan(first)
        if plan is not None:
            self._write(first, force=True, checkpoint=plan.checkpoint())
        else:
            self._write(first)
        del first  # a parsed page is ~9 MB: not held while the rest of the export runs
        if plan is not None:
            target = None if self.client.server_time is None else int(self.client.server_time) - MIN_AGE
            self._walk_windows(plan, len(plan.windows), {0: pages}, target)
            return
        # one request at a time: the next page is fetched on a helper thread while this one is written (.prefetch)
        LookAhead(pages).write_each(self._write)

    def _plan(self, first: ExportPage) -> Plan | None:
        """Windows for the rest of the history after the first page, or None when one request at a time does as
        well: the stream ended, ``concurrency`` is 1 (chosen, or automatic because latency does not limit us),
        or too little history is left."""
        server_time = self.client.server_time
        if first.end_of_stream or first.checkpoint is None or not first.tickets or server_time is None:
            return None
        workers = self.config.concurrency or auto_concurrency(
            self.client.latency or 0.0, self.client.pacer.limit, MAX_AUTO_CONCURRENCY)
        stamps = [_timestamp(ticket) for ticket in first.tickets]
        low, high = max(stamps), int(server_time) - MIN_AGE
        if workers <= 1 or high - low < workers:
            return None
        return Plan(self.config.mode, self.config.source,
                    split(min(stamps), first.checkpoint.position, low, high, workers))

    def _walk_windows(self, plan: Plan, workers: int, started: dict[int, Iterator[ExportPage]],
                      target: int | None) -> None:
        """Fetch the windows' pages on worker threads; write them here, each with every window's progress."""
        def walk(window: Window) -> Iterator[ExportPage]:
            return self._prepared(iter_pages(self.client, window.origin(plan.mode, plan.source), mode=plan.mode))

        walkers = Walkers(plan, walk, workers, started, target)
        self.client.pacer.spread = walkers.workers > 1
        for window, page in walkers:
            with walkers.lock:  # a worker may be splitting a window meanwhile
                before = (window.at, window.done)
                tickets = clip(window, page, plan.mode)
                moved = (window.at, window.done) != before
                checkpoint = plan.checkpoint()
            if tickets:
                self.covered[id(window)] = max(_timestamp(ticket) for ticket in tickets)
            self._write(replace(page, tickets=tickets), force=moved, checkpoint=checkpoint, plan=plan)

    def _prepared(self, pages: Iterator[ExportPage]) -> Iterator[ExportPage]:
        """``pages``, each carrying the sink's preparation of its tickets, made by whichever thread pulls them."""
        prepare = getattr(self.sink, "prepare", None)
        if prepare is None:
            return pages
        return _preparing(pages, prepare)

    def _write(self, page: ExportPage, *, force: bool = False, checkpoint: Checkpoint | None = None,
               plan: Plan | None = None) -> None:
        """Write ``page`` with ``checkpoint`` (default: its own); a page without tickets only when ``force``
        (a window moved or finished)."""
        self.summary.pages += 1
        page = page if checkpoint is None else replace(page, checkpoint=checkpoint)
        if page.checkpoint is not None and (page.tickets or page.sideloads or force):
            result = _write_page(self.sink, Page(page.tickets, page.checkpoint, page.sideloads, page.prepared))
            self._add(result)
            self.summary.checkpoint = page.checkpoint
        self.summary.tickets += len(page.tickets)
        if page.tickets:
            stamps = [_timestamp(ticket) for ticket in page.tickets]
            oldest, newest = min(stamps), max(stamps)
            self.origin = min(oldest, self.origin or oldest)
            self.reached = max(newest, self.reached or 0)
        if plan is not None and self.origin is not None:
            self.reached = self.origin + _covered(plan, self.covered, self.origin)
        self._report("page")

    def _add(self, result: WriteResult) -> None:
        self.summary.new += result.new
        self.summary.updated += result.updated
        self.summary.deleted += result.deleted
        self.summary.unchanged += result.unchanged

    def _count_requests(self) -> None:
        stats, base = self.client.stats, self.baseline
        self.summary.requests = stats.requests - base.requests
        self.summary.retries = stats.retries - base.retries
        self.summary.rate_limit_waits = stats.rate_limit_waits - base.rate_limit_waits
        self.summary.waited_seconds = stats.waited_seconds - base.waited_seconds

    def _on_wait(self, wait: Wait) -> None:
        if self.chained_on_wait is not None:
            self.chained_on_wait(wait)
        self._report("wait", wait)

    def _report(self, kind: str, wait: Wait | None = None) -> None:
        if self.on_progress is None:
            return
        self._count_requests()
        server_time = self.client.server_time
        self.on_progress(Progress(
            kind, self.summary.pages, self.summary.tickets, self.summary.requests, self.summary.retries,
            self.summary.rate_limit_waits, self.summary.waited_seconds, self.origin, self.reached,
            None if server_time is None else server_time - MIN_AGE, wait, self.summary.checkpoint))


def _preparing(pages: Iterator[ExportPage], prepare: Callable[[list[dict[str, Any]]], Any]) -> Iterator[ExportPage]:
    """``pages`` with ``prepare(page.tickets)`` as each page's ``prepared``."""
    try:
        for page in pages:
            page.prepared = prepare(page.tickets)
            yield page
    finally:
        close = getattr(pages, "close", None)
        if callable(close):
            close()  # on this thread, as LookAhead closes its source: the walk's own cleanup runs now


def _covered(plan: Plan, covered: dict[int, int], origin: int) -> int:
    """Seconds of history the windows have written so far (for the progress estimate): a finished window its
    whole span, the others from their start to their newest ticket."""
    total = 0
    for window in list(plan.windows):  # a copy: a worker may be inserting a window
        start = max(window.start, origin)
        if window.done and window.end is not None:
            total += max(0, window.end - start)
        elif id(window) in covered:
            total += max(0, covered[id(window)] - start)
    return total


@cache
def _output_errors() -> tuple[type[Exception], ...]:
    """What a sink raises when the output cannot be used (its own errors, the OS's, SQLite's)."""
    from .sinks import SinkError

    return (SinkError, OSError, sqlite3.Error)


@contextmanager
def _owned_sink(out: str, include: Sequence[str]) -> Iterator[Sink]:
    """The sink named by ``out``, closed at the end. A run that fails before its first page leaves no new
    output behind: what opening created (an empty database, a state file) is removed again."""
    output = check_output(out)
    before = existing_entries(output)
    sink = _open_sink(out, include)
    try:
        yield sink
    except BaseException:
        empty = _holds_nothing(sink)
        sink.close()
        if empty:
            discard_new_entries(output, before)
        raise
    sink.close()


def _holds_nothing(sink: Sink) -> bool:
    """Whether no page was ever committed to ``sink`` (no checkpoint); False when that cannot be told."""
    try:
        return sink.load_checkpoint() is None
    except Exception:
        return False


def _open_sink(out: str, include: Sequence[str]) -> Sink:
    """``open_sink`` from the sinks package; an output that cannot be opened is an :class:`OutputError`."""
    from .sinks import open_sink  # imported late: sinks may pull optional dependencies

    try:
        return open_sink(out, include=include)
    except _output_errors() as error:
        raise OutputError(f"cannot open output {out!r}: {error}") from None


def _load_checkpoint(sink: Sink) -> Checkpoint | None:
    try:
        return sink.load_checkpoint()
    except _output_errors() as error:
        raise OutputError(f"cannot read the output's checkpoint: {error}") from None


def _write_page(sink: Sink, page: Page) -> WriteResult:
    try:
        return sink.write(page)
    except _output_errors() as error:
        if _disk_full(error):
            raise OutputError("cannot write to the output: disk full (free some space, then run the same "
                              "command again to resume)") from None
        raise OutputError(f"cannot write to the output: {error}") from None


def _disk_full(error: BaseException) -> bool:
    """Whether ``error`` or an error it was raised while handling means "no space left". SQLite's own
    rollback after SQLITE_FULL can fail in turn ("no transaction is active"), hiding the cause one level down."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, sqlite3.Error) and "full" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_resumable(checkpoint: Checkpoint, mode: str, source: str) -> None:
    """Refuse to continue another account's or another mode's export into the same output."""
    if checkpoint.source.rstrip("/") != source.rstrip("/"):
        raise CheckpointMismatch(f"the output holds an export of {checkpoint.source}, not {source}; "
                                 "use another --out (or the same --url/--subdomain as before)")
    if checkpoint.mode != mode:
        raise CheckpointMismatch(f"the output was exported with --mode {checkpoint.mode}; resume it with "
                                 f"--mode {checkpoint.mode} or use another --out")


def _timestamp(ticket: dict[str, Any]) -> int:
    value = ticket.get("generated_timestamp")
    return value if isinstance(value, int) else 0


def _tickets(body: dict[str, Any], request: str) -> list[dict[str, Any]]:
    """The page's tickets, each checked to be storable; ``request`` names the page in errors."""
    tickets = body.get("tickets")
    if not isinstance(tickets, list):
        raise MalformedPage(f"unexpected answer to {request}: no 'tickets' list "
                            f"(keys: {', '.join(sorted(body)) or 'none'})")
    for position, ticket in enumerate(tickets):
        problem = _ticket_problem(ticket)
        if problem:
            raise MalformedPage(f"unexpected answer to {request}: ticket {position + 1} of the page {problem}; "
                                "nothing of this page was written")
    return _latest_per_id(tickets)


def _ticket_problem(ticket: Any) -> str | None:
    """What makes ``ticket`` unstorable (the sinks key on its id and order by its generated_timestamp)."""
    return _object_problem(ticket, ("id", "generated_timestamp"))


def _object_problem(obj: Any, keys: Sequence[str] = ("id",)) -> str | None:
    """What makes ``obj`` unstorable: not an object, or one of ``keys`` missing, not an integer or beyond 64
    bits (every output keys on a 64-bit integer: SQLite's INTEGER, PostgreSQL's BIGINT, the file outputs'
    index)."""
    if not isinstance(obj, dict):
        return f"is {type(obj).__name__ if obj is not None else 'null'}, not an object"
    for key in keys:
        value = obj.get(key)
        if key not in obj:
            return f"has no {key}"
        if not isinstance(value, int) or isinstance(value, bool):
            return f"has {key} {value!r}, not an integer"
        if not in_int64(value):
            return f"has {key} {value}, beyond 64 bits"
    return None


def _latest_per_id(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's tickets in order, keeping one (the newest) version of an id that appears twice."""
    ids = {ticket.get("id") for ticket in tickets}
    if len(ids) == len(tickets):
        return tickets
    newest: dict[Any, dict[str, Any]] = {}
    for ticket in tickets:
        seen = newest.get(ticket.get("id"))
        if seen is None or _timestamp(ticket) >= _timestamp(seen):
            newest[ticket.get("id")] = ticket
    return list(newest.values())


def _sideloads(body: dict[str, Any], include: Sequence[str], request: str) -> dict[str, list[dict[str, Any]]]:
    """The page's sideloaded lists that ``include`` asks for, each object checked to be storable."""
    found = {name: body[name] for name in include if isinstance(body.get(name), list)}
    for name, objects in found.items():
        for position, obj in enumerate(objects):
            problem = _object_problem(obj)
            if problem:
                raise MalformedPage(f"unexpected answer to {request}: {name} {position + 1} of the page {problem}; "
                                    "nothing of this page was written")
    return found


class _Stalls:
    """Counts answers in a row that do not advance the export; waits a backoff after each, gives up after
    :data:`MAX_STALLS`."""

    def __init__(self, client: ZendeskClient) -> None:
        self.client, self.count = client, 0

    def record(self, reason: str) -> None:
        self.count += 1
        if self.count > MAX_STALLS:
            raise ExportStuck(f"the export is not advancing: {reason}, {MAX_STALLS + 1} times in a row")
        self.client.pause(reason, self.count - 1)

    def reset(self) -> None:
        self.count = 0


def _too_recent(client: ZendeskClient, start_time: int) -> bool:
    """Whether a walk's first ``start_time`` is too recent by the server's clock as of its last answer (a
    reused client). Unknown before the first answer: then the server judges, and its 422 ends the walk. Within
    a walk the server is always asked: it said ``end_of_stream: false``, so there is more."""
    return client.server_time is not None and start_time > client.server_time - MIN_AGE


def _time_pages(client: ZendeskClient, walk: _Walk, start_time: int) -> Iterator[ExportPage]:
    stalls, repeats, params = _Stalls(client), frozenset[tuple[Any, int]](), walk.params()
    if _too_recent(client, start_time):
        return
    while True:
        try:
            body = client.get(TIME_PATH, {**params, "start_time": start_time}).body
        except TooRecentStartTime:
            return
        request = f"GET {TIME_PATH}?start_time={start_time}"
        tickets, sideloads = _tickets(body, request), _sideloads(body, walk.include, request)
        end_of_stream = body.get("end_of_stream") is True
        end_time = body.get("end_time")
        next_start = max(start_time, end_time) if isinstance(end_time, int) else start_time
        if not end_of_stream and next_start == start_time:
            stalls.record(f"a page at start_time={start_time} with {len(tickets)} tickets did not move on "
                          "(more tickets in one second than a page holds? try --mode cursor)")
            continue
        stalls.reset()
        fresh = [ticket for ticket in tickets if (ticket.get("id"), _timestamp(ticket)) not in repeats]
        checkpoint = Checkpoint("time", str(next_start), walk.source)
        yield ExportPage(fresh, checkpoint, sideloads, end_of_stream, len(tickets) - len(fresh))
        if end_of_stream:
            return
        repeats = frozenset((t.get("id"), _timestamp(t)) for t in tickets if _timestamp(t) >= next_start)
        start_time = next_start


def _cursor_pages(client: ZendeskClient, walk: _Walk, start: int | Checkpoint) -> Iterator[ExportPage]:
    stalls, params = _Stalls(client), walk.params()
    cursor: str | None = None
    first: dict[str, str | int] = {}
    if isinstance(start, Checkpoint):
        cursor = start.position
    elif _too_recent(client, start):
        return
    else:
        first["start_time"] = start
    while True:
        position = {"cursor": cursor} if cursor else first
        try:
            body = client.get(CURSOR_PATH, {**params, **position}).body
        except TooRecentStartTime:
            if cursor is None:
                return
            raise
        where = f"cursor={cursor}" if cursor else f"start_time={first.get('start_time')}"
        request = f"GET {CURSOR_PATH}?{where}"
        tickets, sideloads = _tickets(body, request), _sideloads(body, walk.include, request)
        end_of_stream = body.get("end_of_stream") is True
        after = body.get("after_cursor") if isinstance(body.get("after_cursor"), str) else None
        if (tickets and after is None) or (not end_of_stream and (not tickets or after == cursor)):
            # tickets need a cursor to resume after them; a page that is not the end must move the cursor
            stalls.record(f"a cursor page with {len(tickets)} tickets, after_cursor {after!r} and "
                          f"end_of_stream {end_of_stream} does not advance")
            continue
        stalls.reset()
        cursor = after or cursor
        checkpoint = Checkpoint("cursor", cursor, walk.source) if cursor else None
        yield ExportPage(tickets, checkpoint, sideloads, end_of_stream)
        if end_of_stream:
            return
