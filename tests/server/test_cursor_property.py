"""Property: for any history of creates, updates, deletes and clock moves, interleaved with an exporter that
follows `after_url` (with any `per_page`), the exporter ends with exactly the server's tickets; it saw every
change at most once, in strict (generated_timestamp, id) order; a full export from `start_time=0` yields every
ticket's latest version exactly once; and resuming from any cursor it saved yields exactly what came after it.

Runs against the session's real server (reset per example) with its clock driven in-process, to stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zendesk_export.clock import Clock
from zendesk_export.server.export.cursor import decode_cursor
from zendesk_export.testing import ZendeskServer

T0 = 1_700_000_000
CURSOR = "/api/v2/incremental/tickets/cursor.json"

OPS = st.lists(st.one_of(
    st.tuples(st.just("create"), st.just(0)),
    st.tuples(st.just("update"), st.integers(0, 15)),
    st.tuples(st.just("delete"), st.integers(0, 15)),
    st.tuples(st.just("advance"), st.integers(0, 70)),
    st.tuples(st.just("sync"), st.integers(1, 4)),
), max_size=30)


@dataclass
class Exporter:
    """A minimal cursor exporter: upsert by id, remember every cursor it was given."""

    client: httpx.Client
    cursor: str | None = None
    mirror: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen: list[tuple[int, int]] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)

    def sync(self, per_page: int) -> None:
        while True:
            params: dict[str, Any] = {"per_page": per_page}
            params.update({"cursor": self.cursor} if self.cursor else {"start_time": 0})
            page = self.client.get(CURSOR, params=params).json()
            for ticket in page["tickets"]:
                self.mirror[ticket["id"]] = ticket
                self.seen.append((ticket["generated_timestamp"], ticket["id"]))
            self.cursor = page["after_cursor"]
            self.cursors.append(page["after_cursor"])
            if page["end_of_stream"]:
                return


def walk(client: httpx.Client, per_page: int, cursor: str | None = None) -> list[dict[str, Any]]:
    return _walk(Exporter(client, cursor), per_page)


def _walk(exporter: Exporter, per_page: int) -> list[dict[str, Any]]:
    before = len(exporter.seen)
    exporter.sync(per_page)
    order = exporter.seen[before:]
    return [exporter.mirror[i] | {"_position": (ts, i)} for ts, i in order]


def apply(client: httpx.Client, clock: Clock, ids: list[int], op: str, arg: int, exporter: Exporter) -> None:
    if op == "create":
        body = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "new", "comment": "c"}}).json()
        ids.append(body["ticket"]["id"])
    elif op == "update" and ids:
        client.put(f"/api/v2/tickets/{ids[arg % len(ids)]}.json", json={"ticket": {"subject": f"s{len(ids)}-{arg}",
                                                                                   "comment": "more"}})
    elif op == "delete" and ids:
        client.delete(f"/api/v2/tickets/{ids[arg % len(ids)]}.json")
    elif op == "advance":
        clock.advance(arg)
    elif op == "sync":
        exporter.sync(arg)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops=OPS, final_per_page=st.integers(1, 5))
def test_cursor_export_loses_nothing_and_repeats_nothing(server_on_each_store: ZendeskServer,
                                                         ops: list[tuple[str, int]], final_per_page: int) -> None:
    server = server_on_each_store
    server.admin.reset()
    clock = server.running.clock
    clock.freeze(T0)
    try:
        with server.client() as client:
            ids: list[int] = []
            exporter = Exporter(client)
            for op, arg in ops:
                apply(client, clock, ids, op, arg, exporter)
            clock.advance(61)
            exporter.sync(final_per_page)
            full = walk(client, final_per_page)
            check(exporter, full, ids)
            for saved in exporter.cursors:
                resumed = walk(client, final_per_page, saved)
                assert [t["_position"] for t in resumed] == [t["_position"] for t in full
                                                             if t["_position"] > decode_cursor(saved)]
    finally:
        clock.reset()


def check(exporter: Exporter, full: list[dict[str, Any]], ids: list[int]) -> None:
    positions = [t["_position"] for t in full]
    assert positions == sorted(set(positions)), "full export: strict (ts, id) order"
    assert sorted(t["id"] for t in full) == sorted(ids), "full export: every ticket exactly once"
    assert exporter.seen == sorted(set(exporter.seen)), "incremental: each change at most once, in order"
    truth = {t["id"]: {k: v for k, v in t.items() if k != "_position"} for t in full}
    assert exporter.mirror == truth, "incremental: ends with exactly the server's tickets"
