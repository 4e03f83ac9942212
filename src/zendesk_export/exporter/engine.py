"""The whole-account run: every chosen stream of :mod:`.streams` into one output.

Each stream has its own connection to the output (a file output: one sink shared by the streams, whose lock
keeps each page whole), so its pages and its checkpoint commit on their own: a stream that fails loses nothing
another stream wrote, and the next run resumes each stream from its own checkpoint. Tickets go through
:func:`.export.run_export` unchanged (windows, cursor mode, sideloads, the ticket checkpoint); its stream
checkpoint (status row) is written when it ends.

Threads: the incremental streams run one after another on one thread, tickets first; each reference list
runs on a thread of its own beside them. An incremental page is a thousand objects (1-2 MB of JSON, ten
times that parsed), so the incremental streams side by side held five of them and their rows at once: peak
memory was their sum. One after another, it is the largest stream's; each stream's connection is closed as
it ends and the memory its pages used is handed back to the system (:func:`.memory.return_freed_memory`)
before the next begins. Each fetches its next page while it writes one (:mod:`.prefetch`), so the server's
work on a page still overlaps ours. Against Zendesk they share one budget (below), which the ticket export's
windows fill on their own, as does every other stream whose pages take under six seconds each; without
limits, 50,000 tickets' whole account takes about as long one stream at a time (``docs/benchmarks.md``,
"2026-12-06": Parquet 0.98, SQLite 1.08 times as long).

Budgets: the incremental streams (tickets included) share one pacer -- Zendesk's incremental-export limit:
every request of a window's credit is spent while any of them has work left, then the next waits for the
reset, and no request meets a 429 (the pacer counts the requests in flight against the credit the last
answer announced). The reference lists share a second pacer, which follows the account's plan limit (200 to
2,500 a minute by plan: a large account's lists spend a minute's in seconds) but leaves the exports' limit
and ``FIELD_PAGES`` of every minute to the others: every request of the account counts in that bucket, the
exports' too, so they never meet it empty. The field definitions an incremental stream fetches before its
first write go on a third pacer: on the lists', they waited for the lists' next minute, and the stream
with them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import httpx

from .client import ZendeskClient
from .errors import CheckpointMismatch, ExportError, MalformedPage, OutputError, TooRecentStartTime
from .export import (
    ExportSummary,
    Progress,
    _object_problem,
    _output_errors,
    _owned_sink,
    _Stalls,
    _too_recent,
    run_export,
)
from .memory import fewer_collections, return_freed_memory
from .outputs import check_output, discard_new_entries, existing_entries, parse_output
from .pacer import DEFAULT_EXPORT_LIMIT, Pacer
from .prefetch import LookAhead
from .settings import ExportConfig
from .sinks._tables import TABLES
from .sinks.base import StreamState, WriteResult
from .streams import Stream, parse_streams, stream
from .warehouse import FIELD_STREAMS, BindingSink

__all__ = ["LIST_PAGE_SIZE", "RunSummary", "StreamResult", "default_streams", "export_tickets", "run_streams"]

LIST_PAGE_SIZE = 100  # Zendesk's largest cursor page for the reference lists
#: Requests of each minute of the account's bucket the reference lists leave for the field definitions (a page
#: of ticket, user and organization fields each), beside the exports' limit: module doc, "Budgets".
FIELD_PAGES = 3


@dataclass
class StreamResult:
    """One stream's outcome: rows received and the sink's verdicts, pages written, whether it reached its end,
    and the error that stopped it (None: it did not fail)."""

    stream: str
    rows: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    pages: int = 0
    complete: bool = False
    error: str | None = None
    exit_code: int = 0

    def add(self, result: WriteResult, rows: int) -> None:
        self.rows += rows
        self.pages += 1
        self.new += result.new
        self.updated += result.updated
        self.deleted += result.deleted
        self.unchanged += result.unchanged

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.stream}: FAILED after {self.rows} rows: {self.error}"
        end = "complete" if self.complete else "not complete"
        return (f"{self.stream}: {self.rows} rows ({self.new} new, {self.updated} updated, {self.deleted} deleted, "
                f"{self.unchanged} unchanged), {self.pages} pages, {end}")


@dataclass
class RunSummary:
    """The outcome of :func:`run_streams`: the tickets summary (None when tickets were not chosen) and every
    stream's :class:`StreamResult`, in declaration order."""

    streams: dict[str, StreamResult] = field(default_factory=dict)
    tickets: ExportSummary | None = None
    duration_seconds: float = 0.0

    @property
    def failed(self) -> list[StreamResult]:
        return [result for result in self.streams.values() if result.error is not None]

    @property
    def exit_code(self) -> int:
        """0 when every stream succeeded, else the exit code of the first failed stream."""
        return next((result.exit_code for result in self.failed), 0)

    def describe(self) -> list[str]:
        return [result.describe() for result in self.streams.values()]

    def as_dict(self) -> dict[str, Any]:
        return {"streams": {name: asdict(result) for name, result in self.streams.items()},
                "tickets": None if self.tickets is None else self.tickets.as_dict(),
                "duration_seconds": self.duration_seconds}


@fewer_collections()
def run_streams(config: ExportConfig, out: str | None = None, streams: str | Sequence[str] | None = None, *,
                sleep: Callable[[float], None] | None = None, transport: httpx.BaseTransport | None = None,
                on_progress: Callable[[Progress], None] | None = None) -> RunSummary:
    """Export the chosen ``streams`` (default ``config.streams``; ``"all"``) into ``out`` (default
    ``config.out``), each resumable from its own checkpoint; return a :class:`RunSummary` (failed streams are
    in it, with their errors: the others' data is kept). ``on_progress`` receives the tickets stream's
    :class:`Progress` events."""
    target = out or config.out
    output = check_output(target)
    chosen = config.streams if streams is None else streams
    names = parse_streams(chosen) if chosen else default_streams()
    before = existing_entries(output)
    run = _StreamsRun(config, target, names, sleep, transport, on_progress)
    summary = run.run()
    if summary.failed and not run.wrote:
        discard_new_entries(output, before)  # nothing committed anywhere: leave no new output behind
    return summary


def export_tickets(config: ExportConfig, *, on_progress: Callable[[Progress], None] | None = None) -> ExportSummary:
    """The ticket export alone (``--streams tickets``), as :func:`.export.run_export` runs it, with the tickets'
    derived tables and custom-field columns, named from the ticket fields fetched before the
    first write (one request on the plan budget; the ``ticket_fields`` stream itself is not written)."""
    def fields() -> list[dict[str, Any]]:
        with ZendeskClient(config, pacer=Pacer()) as client:
            return _field_definitions(client, "tickets")

    with _owned_sink(config.out, config.include) as sink:
        return run_export(config, BindingSink(sink, "tickets", fields), on_progress=on_progress)


def _field_definitions(client: ZendeskClient, obj: str) -> list[dict[str, Any]]:
    """Every field definition of ``obj`` (tickets, users, organizations), all pages."""
    definitions = stream(FIELD_STREAMS[obj])
    return [field for objects, _after, _last in _list_pages(client, definitions, "") for field in objects]


def default_streams() -> tuple[str, ...]:
    """What an export writes when ``--streams`` is not given: every stream, into every output."""
    return parse_streams("all")


class _StreamsRun:
    def __init__(self, config: ExportConfig, out: str, names: Sequence[str], sleep: Callable[[float], None] | None,
                 transport: httpx.BaseTransport | None, on_progress: Callable[[Progress], None] | None) -> None:
        self.config, self.out, self.names, self.on_progress = config, out, names, on_progress
        self.sleep, self.transport = sleep, transport
        exports, self.fields_pacer = Pacer(), Pacer()  # the budgets: module doc
        lists = Pacer(leave=lambda: (exports.limit or DEFAULT_EXPORT_LIMIT) + FIELD_PAGES)
        self.pacers = {True: exports, False: lists}
        self.summary = RunSummary({name: StreamResult(name) for name in names})
        self.stop = threading.Event()
        self.kind = parse_output(out).kind
        self.shared: Any = None  # a file output, opened once for every stream
        self.wrote = False
        self.closed: set[str] = set()  # the streams whose connection their thread closed
        self.interrupted: BaseException | None = None

    def run(self) -> RunSummary:
        """Open every stream's connection here, one after the other (SQLite: Python must not open the file while
        another connection holds its locks), then walk the streams on their threads."""
        started = time.monotonic()
        sinks: dict[str, Any] = {}
        threads: dict[str, threading.Thread] = {}  # each stream's thread
        try:
            for name in self.names:
                sinks[name] = self._open(name)
            for name in self.names:
                if sinks[name] is not None:  # with the analyst tables
                    sinks[name] = BindingSink(sinks[name], name, partial(self._fields, name))
            for lane in self._lanes([name for name in self.names if sinks[name] is not None]):
                thread = threading.Thread(target=self._walk, args=(lane, sinks), name=f"streams-{lane[0]}",
                                          daemon=True)
                threads.update((name, thread) for name in lane)
            self._join(list(dict.fromkeys(threads.values())))
        finally:
            for name, sink in sinks.items():
                # a stream still running (Ctrl-C) keeps its connection: closing it under the thread could
                # fail mid-statement; the process ends and its uncommitted page is rolled back
                if sink is not None and name not in self.closed and not (name in threads and threads[name].is_alive()):
                    sink.close()
            if self.shared is not None and not any(thread.is_alive() for thread in threads.values()):
                self.shared.close()
            self.summary.duration_seconds = time.monotonic() - started
        if self.interrupted is not None:
            raise self.interrupted
        return self.summary

    @staticmethod
    def _lanes(names: Sequence[str]) -> list[list[str]]:
        """The streams each thread walks, in order: the incremental ones together, each reference list alone."""
        incremental = [name for name in names if stream(name).incremental]
        lanes = [[name] for name in names if not stream(name).incremental]
        return [incremental, *lanes] if incremental else lanes

    def _walk(self, lane: Sequence[str], sinks: Mapping[str, Any]) -> None:
        """Each stream of ``lane`` in turn, its connection closed when it ends and the memory its pages used
        handed back before the next."""
        for position, name in enumerate(lane):
            if self.stop.is_set():
                return
            self._guarded(stream(name), sinks[name])
            sinks[name].close()
            self.closed.add(name)
            if position + 1 < len(lane):
                return_freed_memory()

    def _open(self, name: str) -> Any:
        """The output opened for stream ``name``; None (and the stream failed) when it cannot be opened. A SQL
        output gets a connection per stream; a file output is opened once (it is locked to one writer) and
        each stream borrows it: its lock keeps each stream's page whole."""
        from .sinks import open_sink  # imported late: sinks may pull optional dependencies

        try:
            if self.kind not in ("jsonl", "parquet"):
                return open_sink(self.out)
            if self.shared is None:
                self.shared = open_sink(self.out)
            return _Borrowed(self.shared)
        except _output_errors() as error:
            result = self.summary.streams[name]
            result.error, result.exit_code = f"cannot open output {self.out!r}: {error}", OutputError.exit_code
            return None

    def _join(self, threads: list[threading.Thread]) -> None:
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # short joins: Ctrl-C reaches the main thread
        except BaseException:
            self.stop.set()
            raise

    def _client(self, pacer: Pacer) -> ZendeskClient:
        """A client of its own (its counts are its own), on ``pacer``'s budget (module doc, "Budgets")."""
        return ZendeskClient(self.config, sleep=self.sleep, transport=self.transport, pacer=pacer)

    def _fields(self, name: str) -> list[dict[str, Any]]:
        """The field definitions of ``name``'s custom fields, on a pacer of their own."""
        with self._client(self.fields_pacer) as client:
            return _field_definitions(client, name)

    def _guarded(self, item: Stream, sink: Any) -> None:
        result = self.summary.streams[item.name]
        try:
            with self._client(self.pacers[item.incremental]) as client:
                self._one(item, client, sink, result)
        except ExportError as error:
            result.error, result.exit_code = str(error), error.exit_code
        except _output_errors() as error:
            result.error, result.exit_code = f"cannot write to the output: {error}", OutputError.exit_code
        except Exception as error:  # a bug must not take the other streams down; it is reported, exit 1
            result.error, result.exit_code = f"{type(error).__name__}: {error}", ExportError.exit_code
        except BaseException as error:  # Ctrl-C raised inside a stream: the whole run stops with it
            self.interrupted = error
            self.stop.set()
        if result.pages:
            self.wrote = True

    def _one(self, item: Stream, client: ZendeskClient, sink: Any, result: StreamResult) -> None:
        if item.kind == "tickets":
            self._tickets(client, sink, result)
        elif item.kind == "incremental":
            self._incremental(item, client, sink, result)
        else:
            self._reference(item, client, sink, result)

    def _tickets(self, client: ZendeskClient, sink: Any, result: StreamResult) -> None:
        """The ticket export as :func:`run_export` does it alone; then its status row."""
        summary = run_export(self.config, sink, client=client, on_progress=self.on_progress)
        self.summary.tickets = summary
        result.rows, result.pages = summary.tickets, summary.pages
        result.new, result.updated, result.deleted, result.unchanged = \
            summary.new, summary.updated, summary.deleted, summary.unchanged
        result.complete = True
        if summary.checkpoint is not None:
            checkpoint = summary.checkpoint
            sink.save_stream_state(StreamState("tickets", checkpoint.mode, checkpoint.position, checkpoint.source,
                                               complete=True))

    def _incremental(self, item: Stream, client: ZendeskClient, sink: Any, result: StreamResult) -> None:
        """A time-based export from the stream's checkpoint (or ``--start-time``), page by page."""
        state = self._resumable(sink, item)
        start = int(state.position) if state is not None else self.config.start_time
        result.complete = state is not None and state.complete
        table = TABLES[item.name]
        pages = _time_pages(client, item, start, self.config.per_page)
        # each page freed here, not by the helper (``LookAhead.write_each``): Parquet's streams, bound by the
        # interpreter, took longer when the helper freed a page before its next request (docs/benchmarks.md)
        for objects, next_start, end in LookAhead(pages, name=f"look-ahead-{item.name}"):
            new_state = StreamState(item.name, "time", str(next_start), self.config.source, complete=end)
            result.add(_write(sink, table, objects, new_state), len(objects))
            result.complete = end
            if self.stop.is_set():
                return

    def _reference(self, item: Stream, client: ZendeskClient, sink: Any, result: StreamResult) -> None:
        """A refresh of a reference list, from the list's start. An interrupted refresh keeps its number (what it
        wrote stays counted as seen) but is walked again from the start rather than resumed at its cursor: some
        lists are newest first (``ticket_metrics``), and an object created while the run was down sits before
        that cursor, where a resumed walk would never reach it and the refresh would end without it."""
        state = self._resumable(sink, item)
        last = state.refresh if state is not None else 0
        refresh = last + 1 if state is None or state.complete else last  # a finished refresh: a new one after it
        cursor = ""
        table = TABLES[item.name]
        for objects, after, last in _list_pages(client, item, cursor):
            new_state = StreamState(item.name, "list", "" if last else after, self.config.source, refresh, last)
            result.add(_write(sink, table, objects, new_state, finish=last), len(objects))
            result.complete = last
            if self.stop.is_set():
                return

    def _resumable(self, sink: Any, item: Stream) -> StreamState | None:
        state: StreamState | None = sink.load_stream_state(item.name)
        if state is not None and state.source.rstrip("/") != self.config.source.rstrip("/"):
            raise CheckpointMismatch(f"the output holds an export of {state.source}, not {self.config.source}; "
                                     "use another --out (or the same --url/--subdomain as before)")
        return state


class _Borrowed:
    """A stream's handle on a file output shared by every stream: closing it leaves the output open."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def close(self) -> None:
        """The run closes the shared output once its streams are done."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.sink, attribute)


def _write(sink: Any, table: Any, objects: list[dict[str, Any]], state: StreamState, *,
           finish: bool = False) -> WriteResult:
    result: WriteResult = sink.write_stream(table, objects, state, finish=finish)
    return result


def _objects(body: Mapping[str, Any], item: Stream, request: str) -> list[dict[str, Any]]:
    """The page's objects, each checked to be storable (``export._object_problem``)."""
    objects = body.get(item.data_key)
    if not isinstance(objects, list):
        raise MalformedPage(f"unexpected answer to {request}: no {item.data_key!r} list "
                            f"(keys: {', '.join(sorted(body)) or 'none'})")
    for position, obj in enumerate(objects):
        problem = _object_problem(obj)
        if problem:
            raise MalformedPage(f"unexpected answer to {request}: object {position + 1} of the page {problem}; "
                                "nothing of this page was written")
    return objects


_TimePage = tuple[list[dict[str, Any]], int, bool]
_ListPage = tuple[list[dict[str, Any]], str, bool]


def _time_pages(client: ZendeskClient, item: Stream, start_time: int, per_page: int) -> Iterator[_TimePage]:
    """(objects, next start_time, end_of_stream) of a time-based export from ``start_time``; the same rules
    as the ticket export (:mod:`.export`): a page that does not move is asked again, "too recent" is "nothing
    new", the end is ``end_of_stream`` only."""
    stalls = _Stalls(client)
    if _too_recent(client, start_time):
        return
    while True:
        try:
            body = client.get(item.path, {**item.params, "per_page": per_page, "start_time": start_time}).body
        except TooRecentStartTime:
            return
        objects = _objects(body, item, f"GET {item.path}?start_time={start_time}")
        end = body.get("end_of_stream") is True
        end_time = body.get("end_time")
        next_start = max(start_time, end_time) if isinstance(end_time, int) else start_time
        if not end and next_start == start_time:
            stalls.record(f"a {item.name} page at start_time={start_time} did not move on")
            continue
        stalls.reset()
        yield objects, next_start, end
        if end:
            return
        start_time = next_start


def _list_pages(client: ZendeskClient, item: Stream, cursor: str) -> Iterator[_ListPage]:
    """(objects, cursor after them, last page) of a reference list from ``cursor`` ("" for the start)."""
    stalls = _Stalls(client)
    while True:
        params: dict[str, str | int] = {"page[size]": LIST_PAGE_SIZE, **({"page[after]": cursor} if cursor else {})}
        body = client.get(item.path, params).body
        objects = _objects(body, item, f"GET {item.path}")
        meta: Mapping[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
        more = meta.get("has_more") is True
        after = meta.get("after_cursor")
        if more and (not isinstance(after, str) or after == cursor):
            stalls.record(f"a {item.name} page says has_more but its after_cursor {after!r} does not advance")
            continue
        stalls.reset()
        yield objects, after if isinstance(after, str) else "", not more
        if not more:
            return
        cursor = str(after)

