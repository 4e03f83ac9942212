"""Helpers for the exporter's tests: the four real outputs (``output``), a fault-injecting transport in front of the
real server, a replay of recorded Zendesk responses, and the server's own view of its tickets (the truth)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.exporter.sinks.conftest import SINKS, SinkCase, make_case
from tests.reference import cassette
from tests.truth import store_truth
from zendesk_export.exporter import ExportConfig
from zendesk_export.exporter.sinks.base import Checkpoint, Page, Sink, WriteResult
from zendesk_export.testing import ZendeskServer


@pytest.fixture(autouse=True)
def _tickets_stream_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export command's tests (their processes inherit the environment) export the tickets stream alone, as
    the command did before whole-account runs: what they check is the ticket export, and fifteen streams would
    multiply their cost. Tests marked ``whole_account`` run the command's default, every stream."""
    if request.node.get_closest_marker("whole_account") is None:
        monkeypatch.setenv("ZENDESK_EXPORT_STREAMS", "tickets")


@dataclass
class Output:
    """A real output of one kind (SQLite, JSONL, Parquet, PostgreSQL) and an independent reader of it."""

    case: SinkCase

    @property
    def kind(self) -> str:
        return self.case.kind

    @property
    def out(self) -> str:
        return self.case.out

    def exists(self) -> bool:
        if self.case.path is not None:
            return self.case.path.exists()
        found = self.case.query(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                                f"'{self.case.schema}' AND table_name = 'tickets'")
        return bool(found[0])

    def tickets(self) -> dict[int, dict[str, Any]]:
        """The latest version of every stored ticket, read back from the output (nothing: an empty dict)."""
        if not self.exists():
            return {}
        latest = self.case.latest()
        if self.kind in ("sqlite", "postgres"):
            assert self.case.stored_rows() == len(latest), "more than one row for a ticket"
        return latest

    def versions(self) -> dict[int, int]:
        """id → generated_timestamp of the stored version of each ticket."""
        return {ticket_id: ticket["generated_timestamp"] for ticket_id, ticket in self.tickets().items()}

    def checkpoint(self) -> Checkpoint | None:
        with self.case.open() as sink:
            return sink.load_checkpoint()

    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a checkpoint with an empty page, as an earlier run would have."""
        with self.case.open() as sink:
            sink.write(Page([], checkpoint, {}))


@pytest.fixture
def new_output(tmp_path: Path) -> Iterator[Callable[[str], Output]]:
    """Make fresh outputs of a kind; PostgreSQL schemas are dropped after the test."""
    made: list[Iterator[SinkCase]] = []

    def make(kind: str) -> Output:
        folder = tmp_path / f"output-{len(made)}"
        folder.mkdir()
        made.append(make_case(kind, folder))
        return Output(next(made[-1]))

    yield make
    for case in made:
        next(case, None)


@pytest.fixture(params=SINKS)
def output(request: pytest.FixtureRequest, new_output: Callable[[str], Output]) -> Output:
    """Every real sink in turn, with a fresh output."""
    return new_output(request.param)


class FailingSink:
    """A real sink whose ``fail_on``-th write raises first, as a full disk would; the page is not written."""

    def __init__(self, sink: Sink, fail_on: int) -> None:
        self.sink, self.fail_on, self.writes = sink, fail_on, 0

    def load_checkpoint(self) -> Checkpoint | None:
        return self.sink.load_checkpoint()

    def write(self, page: Page) -> WriteResult:
        self.writes += 1
        if self.writes == self.fail_on:
            raise OSError(28, "No space left on device")
        return self.sink.write(page)

    def close(self) -> None:
        self.sink.close()


@dataclass
class Fault:
    """One injected failure for ``times`` matching requests after ``skip`` good ones. ``kind``:
    ``status`` (answer ``status`` with ``headers``/``body``), ``drop_before`` (connection closed before an
    answer), ``drop_mid`` (closed in the middle of the body), ``truncate`` (half the body, cleanly),
    ``timeout``, ``empty_page`` (an empty page with ``end_of_stream: false``)."""

    kind: str
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error":"ServiceUnavailable","description":"try later"}'
    path: str = "/api/v2/incremental/"


class _BrokenStream(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 2]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class FaultyTransport(httpx.BaseTransport):
    """A real HTTP transport to the server, with faults injected in front of it; ``journal`` lists every
    request as (path, params, fault kind or None)."""

    def __init__(self, *faults: Fault) -> None:
        self.inner = httpx.HTTPTransport()
        self.faults = list(faults)
        self.journal: list[tuple[str, dict[str, str], str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._take(request)
        self.journal.append((request.url.path, dict(request.url.params), fault.kind if fault else None))
        if fault is None:
            return self.inner.handle_request(request)
        return self._inject(fault, request)

    def _take(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and request.url.path.startswith(fault.path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def _inject(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.kind == "status":
            return httpx.Response(fault.status, headers=fault.headers, content=fault.body)
        if fault.kind == "drop_before":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault.kind == "empty_page":
            return httpx.Response(200, json=_empty_page(request.url.path))
        real = self.inner.handle_request(request)
        data = real.read()
        headers = {k: v for k, v in real.headers.items() if k not in ("content-length", "content-encoding")}
        if fault.kind == "drop_mid":
            return httpx.Response(real.status_code, headers=headers, stream=_BrokenStream(data))
        if fault.kind == "truncate":
            return httpx.Response(real.status_code, headers=headers, content=data[: len(data) // 2])
        raise ValueError(f"unknown fault {fault.kind}")

    def close(self) -> None:
        self.inner.close()

    def requests_to(self, path_part: str) -> list[dict[str, str]]:
        return [params for path, params, _ in self.journal if path_part in path]


def _empty_page(path: str) -> dict[str, Any]:
    if "cursor" in path:
        return {"tickets": [], "after_url": None, "before_url": None, "after_cursor": None,
                "before_cursor": None, "end_of_stream": False}
    return {"tickets": [], "count": 0, "end_of_stream": False, "next_page": None, "end_time": None}


class Replay:
    """Serves recorded real Zendesk responses by (path, query); anything not recorded gets ``fallback``."""

    def __init__(self, interactions: list[dict[str, Any]], fallback: dict[str, Any]) -> None:
        self.answers = {self._key(i["request"]["uri"]): i["response"] for i in interactions}
        self.fallback = fallback
        self.requested: list[str] = []

    @staticmethod
    def _key(uri: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        parts = urlsplit(uri)  # per_page=1000 is Zendesk's default: the same request with or without it
        return parts.path, tuple(sorted(p for p in parse_qsl(parts.query) if p != ("per_page", "1000")))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        answer = self.answers.get(self._key(str(request.url)))
        if answer is None:
            return httpx.Response(200, json=self.fallback)
        return httpx.Response(answer["status"]["code"], content=json.dumps(answer["body"]).encode(),
                              headers={"content-type": "application/json"})


@pytest.fixture
def recorded() -> Callable[[str], list[dict[str, Any]]]:
    return cassette


def server_config(server: ZendeskServer, **options: Any) -> ExportConfig:
    """An export config for the test server's demo admin, in no-backoff mode."""
    options.setdefault("no_backoff", True)
    return ExportConfig(url=server.url, email=server.email, token=server.token, **options)


def server_truth(server: ZendeskServer, exclude_deleted: bool = False) -> dict[int, int]:
    """id → generated_timestamp of every ticket of the default account, read from the server's store."""
    return store_truth(server.running.store, exclude_deleted)


def create_tickets(server: ZendeskServer, count: int) -> list[int]:
    """Create ``count`` tickets through the API; their ids."""
    with server.client() as http:
        return [_check(http.post("/api/v2/tickets.json", json={"ticket": {
            "subject": f"ticket {n}", "comment": {"body": f"body of ticket {n}"}}}))["ticket"]["id"]
            for n in range(count)]


def update_tickets(server: ZendeskServer, ids: list[int], status: str = "open") -> None:
    with server.client() as http:
        for ticket_id in ids:
            _check(http.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": status}}))


def delete_tickets(server: ZendeskServer, ids: list[int]) -> None:
    with server.client() as http:
        for ticket_id in ids:
            assert http.delete(f"/api/v2/tickets/{ticket_id}.json").status_code == 204


def _check(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()
