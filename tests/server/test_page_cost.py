"""A page costs O(page), never O(account): on both stores, the queries an export page runs read the tickets
through the (account_id, generated_timestamp, id) index, and read as many rows for an account of 60 tickets as
for one of 6000 (with another account's thousands beside it).

The queries are the ones the server really runs for a page: they are recorded as the store executes them during
a real HTTP request, then explained through the same store. Rows read: PostgreSQL's ``EXPLAIN (ANALYZE)`` row
counts of every scan of ``tickets``; SQLite has no row counter, so its virtual-machine steps are counted instead
(a scan of the table costs steps per row; a range scan of the index costs steps per row returned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import STORES
from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import TICKET_FIELDS

T0 = 1_700_000_000
PER_PAGE = 20
START = T0 + 30 * 60  # the page starts after the first 30 tickets (one a minute)
PAGES = {"time": ("/api/v2/incremental/tickets.json", {"start_time": START, "per_page": PER_PAGE}),
         "cursor": ("/api/v2/incremental/tickets/cursor.json", {"start_time": START, "per_page": PER_PAGE})}


def make_ticket(minute: int) -> dict[str, Any]:
    """A complete ticket as the Tickets API stores it, changed ``minute`` minutes after T0."""
    timestamp = T0 + 60 * minute
    ticket = {f.name: f.default for f in TICKET_FIELDS}
    ticket.update(via={"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}, created_at=timestamp,
                  updated_at=timestamp, subject="Printer jams", description="It jams", requester_id=1,
                  submitter_id=1, generated_timestamp=timestamp, deleted_at=None)
    return ticket


@pytest.fixture(params=STORES)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ZendeskServer]:
    """A new server on a new database of each store (a fresh table, as after a first bulk insert)."""
    url = str(tmp_path / "page-cost.db") if request.param == "sqlite" else request.getfixturevalue("new_schema")
    started = ZendeskServer.start(url)
    started.admin.freeze(T0 + 30 * 24 * 3600)
    yield started
    started.stop()


def add_tickets(server: ZendeskServer, minutes: range, account: str | None = None) -> None:
    """Bulk-insert tickets (the seeding path) into the default account or a named one."""
    store = server.running.store
    if account is not None:
        with store._transaction() as db:  # type: ignore[attr-defined]  # no admin route creates accounts
            db.execute(f"INSERT INTO accounts (subdomain) VALUES ('{account}') ON CONFLICT DO NOTHING", ())
    found = store.account(account)
    assert found is not None
    store.insert_tickets(found.id, (make_ticket(m) for m in minutes))


class Recorder:
    """Records the tickets queries the store runs (its ``_rows`` is every read), and explains them afterwards
    through the store's own connection."""

    def __init__(self, server: ZendeskServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store = server.running.store
        self.run: Callable[[str, Any], list[Any]] = self.store._rows  # type: ignore[attr-defined]
        self.queries: list[tuple[str, Any]] = []
        monkeypatch.setattr(self.store, "_rows", self._record)

    def _record(self, query: str, args: Any) -> list[Any]:
        if " FROM tickets " in query:
            self.queries.append((query, args))
        return self.run(query, args)

    def page(self, server: ZendeskServer, kind: str) -> list[tuple[str, Any]]:
        """The tickets queries of one real page request."""
        path, params = PAGES[kind]
        self.queries.clear()
        with server.client() as client:
            response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        assert len(response.json()["tickets"]) == PER_PAGE
        return list(self.queries)

    def plan(self, query: str, args: Any) -> list[str]:
        """The query plan, one line per step: SQLite's EXPLAIN QUERY PLAN details, PostgreSQL's plan nodes as
        ``<node type> <index name or relation>``."""
        if self.store.dialect.mark == "?":
            return [row[3] for row in self.run("EXPLAIN QUERY PLAN " + query, args)]
        return [f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name', '')}".strip()
                for n in _nodes(self.run("EXPLAIN (FORMAT JSON) " + query, args)[0][0][0]["Plan"])]

    def cost(self, query: str, args: Any) -> int:
        """Rows of ``tickets`` read (PostgreSQL), or virtual-machine steps (SQLite), running ``query``."""
        if self.store.dialect.mark == "?":
            steps = 0

            def step() -> int:
                nonlocal steps
                steps += 1
                return 0

            conn = self.store._conn()  # type: ignore[attr-defined]
            conn.set_progress_handler(step, 1)
            try:
                self.run(query, args)
            finally:
                conn.set_progress_handler(None, 1)
            return steps
        plan = self.run("EXPLAIN (ANALYZE, FORMAT JSON) " + query, args)[0][0][0]["Plan"]
        return sum(int(n["Actual Rows"] * n["Actual Loops"] + n.get("Rows Removed by Filter", 0)
                       + n.get("Rows Removed by Index Recheck", 0))
                   for n in _nodes(plan) if n.get("Relation Name") == "tickets")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("kind", PAGES)
def test_a_page_reads_tickets_through_the_export_index(server: ZendeskServer, kind: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after a bulk insert, with another account beside it: the page query is one ordered range scan of
    the export index (no table scan, no sort); the only other tickets query, the scrub check, reads through its
    partial index of deleted tickets (its sort is over the tickets due for scrubbing, not the account)."""
    add_tickets(server, range(3000))
    add_tickets(server, range(3000), account="bee")
    recorder = Recorder(server, monkeypatch)
    plans = {query: recorder.plan(query, args) for query, args in recorder.page(server, kind)}
    feed = [plan for query, plan in plans.items() if "ORDER BY generated_timestamp, id" in query]
    others = [plan for query, plan in plans.items() if "ORDER BY generated_timestamp, id" not in query]
    if server.running.store.dialect.mark == "?":
        assert feed == [["SEARCH tickets USING INDEX tickets_export (account_id=? AND generated_timestamp>? AND "
                         "generated_timestamp<?)"]]
        assert all(plan[0].startswith("SEARCH tickets USING INDEX tickets_scrub_due") for plan in others), others
    else:
        assert feed == [["Limit", "Index Scan tickets_export"]]
        assert all(plan[-1] == "Index Scan tickets_scrub_due" for plan in others), others


@pytest.mark.parametrize("kind", PAGES)
def test_rows_read_for_a_page_do_not_grow_with_the_account(server: ZendeskServer, kind: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of an account of 6000 tickets (another's 6000 beside it) reads that page's rows and no more:
    PostgreSQL reads the page's 20 rows (21 for a cursor page, which reads one more to know if the stream
    ends); SQLite runs no more steps than for the same page of a 60-ticket account."""
    add_tickets(server, range(60))
    recorder = Recorder(server, monkeypatch)
    small = sum(recorder.cost(query, args) for query, args in recorder.page(server, kind))
    add_tickets(server, range(-3000, 0))  # before the page: a scan from the account's start would read them
    add_tickets(server, range(60, 3000))  # after it: a scan to the end, or a sort, would read them
    add_tickets(server, range(-3000, 3000), account="bee")
    large = sum(recorder.cost(query, args) for query, args in recorder.page(server, kind))
    if server.running.store.dialect.mark == "?":
        assert large == small
    else:
        assert large == {"time": 20, "cursor": 21}[kind]
