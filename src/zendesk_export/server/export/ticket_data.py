"""What is derived from tickets and their audits, a page at a time: list sources over store tables, metric sets
for a page of tickets, and the time-based ticket metric events export.

Every page costs one query for its rows plus one for the audits of the tickets on it, whatever the account's
size: metric sets and metric events are replayed from those audits (``model.metrics``), never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from zendesk_export.server.export.feeds import ExportQuery
from zendesk_export.server.export.incremental import next_page_url, parse_per_page, parse_start_time, time_page
from zendesk_export.server.export.paging import CURSOR, Key, envelope, fetch, parse_page
from zendesk_export.server.model.metrics import Replay, metric_event_json, metric_set, replay
from zendesk_export.server.store import ExportRow, Store

__all__ = ["METRIC_EVENTS_PATH", "TableSource", "replays", "metric_sets", "metric_events_export",
           "metric_events_cursor"]

METRIC_EVENTS_PATH = "/api/v2/incremental/ticket_metric_events"
EVENTS_PAGE_MAX = 1000  # page[size] of the cursor-paged metric events


@dataclass
class TableSource:
    """A store table as a paging ``Source``: rows matching ``where`` in (order column, id) order."""

    store: Store
    account_id: int
    table: str
    where: Sequence[tuple[str, str, Any]] = ()
    order: tuple[str, bool] = ("id", False)
    _total: int | None = field(default=None, repr=False)

    def total(self) -> int:
        if self._total is None:
            self._total = self.store.count_where(self.account_id, self.table, self.where)
        return self._total

    def offset(self, start: int, limit: int) -> list[dict[str, Any]]:
        return self.store.select_page(self.account_id, self.table, self.where, self.order, offset=start, limit=limit)

    def after(self, key: Key | None, limit: int) -> list[dict[str, Any]]:
        return self.store.select_page(self.account_id, self.table, self.where, self.order, after=key, limit=limit)

    def before(self, key: Key, limit: int) -> list[dict[str, Any]]:
        return self.store.select_page(self.account_id, self.table, self.where, self.order, before=key, limit=limit)

    def key(self, item: dict[str, Any]) -> Key:
        column = self.order[0]
        return (item["id"],) if column == "id" else (item[column], item["id"])


def replays(store: Store, account_id: int, ticket_ids: Sequence[int]) -> dict[int, Replay]:
    """Each ticket's replayed history, from one query of their audits."""
    by_ticket: dict[int, list[tuple[int, dict[str, Any]]]] = {t: [] for t in ticket_ids}
    for row in store.audits_of_tickets(account_id, ticket_ids):
        audit = orjson.loads(row.body)
        by_ticket.setdefault(audit["ticket_id"], []).append((row.generated_timestamp, audit))
    return {ticket_id: replay(ticket_id, audits) for ticket_id, audits in by_ticket.items()}


def metric_sets(store: Store, account_id: int, base_url: str, tickets: Sequence[Mapping[str, Any]]
                ) -> list[dict[str, Any]]:
    """The metric set of each ticket (rendered ticket JSON), in the order given."""
    states = replays(store, account_id, [t["id"] for t in tickets])
    return [metric_set(base_url, dict(t), states[t["id"]]) for t in tickets]


def metric_events_export(query: ExportQuery) -> bytes:
    """`GET /api/v2/incremental/ticket_metric_events?start_time=…`: the events of the audits in the page's
    window, with the time-based export's paging rules (pages hold up to ``per_page`` audits)."""
    start = parse_start_time(query.params, query.now)
    per_page = parse_per_page(query.params)
    store, account_id, cutoff = query.store, query.account.id, query.cutoff
    rows = store.changes(account_id, "audits", (start, 0), cutoff, per_page)
    page = time_page(rows, per_page, lambda ts: store.changes(account_id, "audits", (ts, 0), ts, -1))
    events = _events_of(store, account_id, page.rows)
    next_page = None
    if page.end_time is not None:
        next_page = next_page_url(query.base_url, METRIC_EVENTS_PATH, query.pairs, ("start_time", str(page.end_time)))
    return orjson.dumps({"ticket_metric_events": events, "next_page": next_page, "count": len(events),
                         "end_of_stream": page.end_of_stream, "end_time": page.end_time})


def metric_events_cursor(query: ExportQuery, url: str) -> dict[str, Any]:
    """The same events paged by cursor (`page[size]`, up to 1000 audits a page, `links.next`), as connectors
    that send `page[size]` read them: the list envelope with `meta` and `links`."""
    start = parse_start_time(query.params, query.now)
    request = parse_page(query.params, "created_at,id", styles=(CURSOR,), max_size=EVENTS_PAGE_MAX)
    window = [("created_at", ">=", start), ("created_at", "<=", query.cutoff)]
    source = TableSource(query.store, query.account.id, "audits", window, ("created_at", False))
    page = fetch(source, request)
    rows = [ExportRow(r["id"], r["created_at"], orjson.dumps(r["audit"])) for r in page.items]
    return envelope("ticket_metric_events", _events_of(query.store, query.account.id, rows), page, url,
                    list(query.pairs))


def _events_of(store: Store, account_id: int, rows: Sequence[ExportRow]) -> list[dict[str, Any]]:
    """The metric events the page's audits caused: each ticket is replayed from all its audits (a metric's
    state depends on what came before), and only the events of the page's audits are kept."""
    wanted = {row.id for row in rows}
    ticket_ids = sorted({orjson.loads(row.body)["ticket_id"] for row in rows})
    out: list[dict[str, Any]] = []
    states = replays(store, account_id, ticket_ids)
    by_audit: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, state in states.items():
        for event in state.events:
            if event.audit_id in wanted:
                by_audit.setdefault(event.audit_id, []).append(metric_event_json(ticket_id, event))
    for row in rows:
        out += by_audit.get(row.id, [])
    return out
