"""The exported resources: each one a ``Feed`` (store feed, array key, path, rendering, upkeep before a page)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from zendesk_export.server.export.events import TICKET_EVENTS
from zendesk_export.server.export.feeds import ExportQuery, Feed, Rendered
from zendesk_export.server.export.sideloads import parse_include, ticket_sideloads, wanted_columns
from zendesk_export.server.model.scrub import scrub_due
from zendesk_export.server.model.users import RENDERERS
from zendesk_export.server.store import ExportRow
from zendesk_export.tickets import ticket_url_prefix

__all__ = ["TICKETS", "TICKETS_CURSOR", "TICKET_EVENTS", "USERS", "ORGANIZATIONS"]


def _prepare_tickets(query: ExportQuery) -> None:
    """Before a ticket page: refuse `include=last_audits`, and scrub tickets whose 30 days are up."""
    parse_include(query.params)
    scrub_due(query.store, query.account.id, int(query.now))


def _render_tickets(query: ExportQuery, rows: Sequence[ExportRow], *, per_ticket: bool = False) -> Rendered:
    """Each ticket's JSON spliced from its stored bytes (``tickets.ticket_json``'s form). The page's pieces are
    joined at once: a page is a thousand tickets, and a bytes object made per ticket costs more than its bytes."""
    side = ticket_sideloads(query, rows, parse_include(query.params), metric_set_per_ticket=per_ticket)
    head, extra = b',{"url":"' + ticket_url_prefix(query.base_url).encode(), side.properties
    pieces = [piece for r in rows for piece in (head, b'%d.json",' % r.id, r.body, b',"generated_timestamp":%d'
                                                % r.generated_timestamp, extra.get(r.id, b""), b"}")]
    if pieces:
        pieces[0] = pieces[0][1:]  # no comma before the first ticket
    return Rendered([b"".join(pieces)], side.arrays)


def _render_records(table: str) -> Callable[[ExportQuery, Sequence[ExportRow]], Rendered]:
    def render(query: ExportQuery, rows: Sequence[ExportRow]) -> Rendered:
        renderer = RENDERERS[table]
        return Rendered([orjson.dumps(renderer(query.base_url, orjson.loads(r.body))) for r in rows], [])

    return render


def _render_cursor_tickets(query: ExportQuery, rows: Sequence[ExportRow]) -> Rendered:
    return _render_tickets(query, rows, per_ticket=True)


TICKETS = Feed("tickets", "tickets", "/api/v2/incremental/tickets", _render_tickets, _prepare_tickets,
               count_first=True, columns=wanted_columns)
# The cursor export: the same tickets, but `include=metric_sets` puts a `metric_set` on each ticket.
TICKETS_CURSOR = Feed("tickets", "tickets", "/api/v2/incremental/tickets", _render_cursor_tickets,
                      _prepare_tickets, count_first=True, columns=wanted_columns)
USERS = Feed("users", "users", "/api/v2/incremental/users", _render_records("users"))
ORGANIZATIONS = Feed("organizations", "organizations", "/api/v2/incremental/organizations",
                     _render_records("organizations"))
