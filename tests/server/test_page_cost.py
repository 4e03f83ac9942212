"""A page costs O(page), never O(account): on both stores, the queries an export page runs read through the
feed's (account_id, key, id) index — (account_id, generated_timestamp, id) for tickets — and read as many rows
for an account of 60 items as for one of 6000 (with another account's thousands beside it).

The queries are the ones the server really runs for a page: they are recorded as the store executes them during
a real HTTP request, then explained through the same store. Rows read: PostgreSQL's ``EXPLAIN (ANALYZE)`` row
counts of every scan of the feed's table; SQLite has no row counter, so its virtual-machine steps are counted
instead (a scan of the table costs steps per row; a range scan of the index costs steps per row returned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import STORES
from zendesk_export.testing import ZendeskServer
from zendesk_export.tickets import TICKET_FIELDS

T0 = 1_700_000_000
PER_PAGE = 20
START = T0 + 30 * 60  # the page starts after the first 30 items (one a minute)


@dataclass(frozen=True)
class Feed:
    path: str
    table: str
    key: str  # the export key, ordered by (key, id)
    index: str
    covering: bool = False  # SQLite's index holds every column the page reads


FEEDS = {
    "tickets-time": Feed("/api/v2/incremental/tickets.json", "tickets", "generated_timestamp", "tickets_export",
                         covering=True),
    "tickets-cursor": Feed("/api/v2/incremental/tickets/cursor.json", "tickets", "generated_timestamp",
                           "tickets_export", covering=True),
    "users-cursor": Feed("/api/v2/incremental/users/cursor.json", "users", "updated_at", "users_changes"),
}


def make_ticket(minute: int) -> dict[str, Any]:
    """A complete ticket as the Tickets API stores it, changed ``minute`` minutes after T0."""
    timestamp = T0 + 60 * minute
    ticket = {f.name: f.default for f in TICKET_FIELDS}
    ticket.update(via={"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}, created_at=timestamp,
                  updated_at=timestamp, subject="Printer jams", description="It jams", requester_id=1,
                  submitter_id=1, generated_timestamp=timestamp, deleted_at=None)
    return ticket


def make_user(minute: int) -> dict[str, Any]:
    """An end-user created (and last changed) ``minute`` minutes after T0."""
    return {"name": f"Customer {minute}", "email": f"customer{minute}@example.net", "role": "end-user",
            "created_at": T0 + 60 * minute}


@pytest.fixture(params=STORES)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ZendeskServer]:
    """A new server on a new database of each store (fresh tables, as after a first bulk insert)."""
    url = str(tmp_path / "page-cost.db") if request.param == "sqlite" else request.getfixturevalue("new_schema")
    started = ZendeskServer.start(url)
    started.admin.freeze(T0 + 30 * 24 * 3600)
    yield started
    started.stop()


def add(server: ZendeskServer, table: str, minutes: range, account: str | None = None) -> None:
    """Bulk-insert tickets or users (the seeding paths) into the default account or a named one."""
    store = server.running.store
    if account is not None:
        with store._transaction() as db:  # type: ignore[attr-defined]  # no admin route creates accounts
            db.execute(f"INSERT INTO accounts (subdomain) VALUES ('{account}') ON CONFLICT DO NOTHING", ())
    found = store.account(account)
    assert found is not None
    if table == "tickets":
        store.insert_tickets(found.id, (make_ticket(m) for m in minutes))
    else:
        store.add_users(found.id, [make_user(m) for m in minutes])


class Recorder:
    """Records the queries of a feed's table the store runs (its ``_rows``/``_dicts`` are every read), and
    explains them afterwards through the store's own connection."""

    def __init__(self, server: ZendeskServer, feed: Feed, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server, self.feed, self.store = server, feed, server.running.store
        self.run: Callable[[str, Any], list[Any]] = self.store._rows  # type: ignore[attr-defined]
        self.queries: list[tuple[str, Any]] = []
        for name in ("_rows", "_dicts"):
            monkeypatch.setattr(self.store, name, self._recording(getattr(self.store, name)))

    def _recording(self, read: Callable[[str, Any], list[Any]]) -> Callable[[str, Any], list[Any]]:
        def recorded(query: str, args: Any) -> list[Any]:
            if f" FROM {self.feed.table} " in query:
                self.queries.append((query, args))
            return read(query, args)

        return recorded

    def page(self, **params: str) -> list[tuple[str, Any]]:
        """The feed table's queries of one real page request."""
        self.queries.clear()
        with self.server.client() as client:
            response = client.get(self.feed.path, params={"start_time": START, "per_page": PER_PAGE, **params})
        assert response.status_code == 200, response.text
        assert len(response.json()[self.feed.table]) == PER_PAGE
        return list(self.queries)

    def is_feed(self, query: str) -> bool:
        return f"ORDER BY {self.feed.key}, id" in query

    def plan(self, query: str, args: Any) -> list[str]:
        """The query plan, one line per step: SQLite's EXPLAIN QUERY PLAN details, PostgreSQL's plan nodes as
        ``<node type> <index name or relation>``."""
        if self.store.dialect.mark == "?":
            return [row[3] for row in self.run("EXPLAIN QUERY PLAN " + query, args)]
        return [f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name', '')}".strip()
                for n in _nodes(self.run("EXPLAIN (FORMAT JSON) " + query, args)[0][0][0]["Plan"])]

    def cost(self, query: str, args: Any) -> int:
        """Rows of the feed's table read (PostgreSQL), or virtual-machine steps (SQLite), running ``query``."""
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
                   for n in _nodes(plan) if n.get("Relation Name") == self.feed.table)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("kind", FEEDS)
def test_a_page_reads_through_the_feeds_index(server: ZendeskServer, kind: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after a bulk insert, with another account beside it: the page query is one ordered range scan of
    the feed's index (no table scan, no sort). The page's other queries of that table (the scrub check of
    deleted tickets, the login's lookup by email) read through indexes too: only the scrub check sorts, and
    only the tickets due for scrubbing, never the account."""
    feed = FEEDS[kind]
    add(server, feed.table, range(3000))
    add(server, feed.table, range(3000), account="bee")
    recorder = Recorder(server, feed, monkeypatch)
    plans = {query: recorder.plan(query, args) for query, args in recorder.page()}
    pages = [plan for query, plan in plans.items() if recorder.is_feed(query)]
    steps = [step for query, plan in plans.items() if not recorder.is_feed(query) for step in plan]
    if server.running.store.dialect.mark == "?":
        using = "COVERING INDEX" if feed.covering else "INDEX"
        assert pages == [[f"SEARCH {feed.table} USING {using} {feed.index} (account_id=? AND {feed.key}>? AND "
                          f"{feed.key}<?)"]]
        assert not [step for step in steps if step.startswith("SCAN")], steps
    else:
        assert pages == [["Limit", f"Index Scan {feed.index}"]]
        assert not [step for step in steps if step.startswith(("Seq Scan", "Bitmap"))], steps


@pytest.mark.parametrize("include", ["users,groups,organizations", "brands,ticket_forms,custom_statuses"])
def test_an_include_page_reads_the_export_index_alone_on_sqlite(server: ZendeskServer, include: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the ids the sideloads look up, and the status ``exclude_deleted`` filters on, are in the export
    index beside the stored JSON: a page with sideloads reads no ticket row either."""
    if server.running.store.dialect.mark != "?":
        pytest.skip("PostgreSQL's export index holds the key only (its entries stop at ~2.7 KB)")
    feed = FEEDS["tickets-time"]
    add(server, feed.table, range(100))
    recorder = Recorder(server, feed, monkeypatch)
    queries = recorder.page(include=include, exclude_deleted="true")
    pages = [recorder.plan(query, args) for query, args in queries if recorder.is_feed(query)]
    assert pages == [["SEARCH tickets USING COVERING INDEX tickets_export (account_id=? AND "
                      "generated_timestamp>? AND generated_timestamp<?)"]]


@pytest.mark.parametrize("kind", FEEDS)
def test_rows_read_for_a_page_do_not_grow_with_the_account(server: ZendeskServer, kind: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of an account of 6000 items (another's 6000 beside it) reads that page's rows and no more:
    PostgreSQL reads the page's 20 rows (a cursor page one more, to know if the stream ends; a users page one
    more again, the admin's own row read to log in); SQLite runs no more steps than for a 60-item account."""
    feed = FEEDS[kind]
    add(server, feed.table, range(60))
    recorder = Recorder(server, feed, monkeypatch)
    small = sum(recorder.cost(query, args) for query, args in recorder.page())
    add(server, feed.table, range(-3000, 0))  # before the page: a scan from the account's start would read them
    add(server, feed.table, range(60, 3000))  # after it: a scan to the end, or a sort, would read them
    add(server, feed.table, range(-3000, 3000), account="bee")
    large = sum(recorder.cost(query, args) for query, args in recorder.page())
    if server.running.store.dialect.mark == "?":
        assert large == small
    else:
        assert large == {"tickets-time": 20, "tickets-cursor": 21, "users-cursor": 22}[kind]
