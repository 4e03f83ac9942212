"""HTTP handlers of the incremental ticket exports (time, cursor, sample). The paging rules live in ``incremental``
and ``cursor``, the envelopes in ``feeds``."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response

from zendesk_export.server.app import Call
from zendesk_export.server.feeds import Feed, Rendered, cursor_export, time_export
from zendesk_export.server.scrub import scrub_due
from zendesk_export.server.sideloads import parse_include, ticket_sideloads
from zendesk_export.server.store import ExportRow
from zendesk_export.tickets import ticket_json

__all__ = ["ROUTES", "TICKETS", "incremental_tickets", "incremental_tickets_cursor", "incremental_tickets_sample"]


def _prepare_tickets(call: Call) -> None:
    """Before a ticket page: refuse `include=last_audits`, and scrub tickets whose 30 days are up."""
    parse_include(call.params)
    scrub_due(call.ctx.store, call.account.id, int(call.ctx.clock.now()))


def _render_tickets(call: Call, rows: Sequence[ExportRow]) -> Rendered:
    side = ticket_sideloads(call, rows, parse_include(call.params))
    items = []
    for r in rows:
        item = ticket_json(call.base_url, r.id, r.body, r.generated_timestamp)
        extra = side.properties.get(r.id)
        items.append(item[:-1] + extra + b"}" if extra else item)
    return Rendered(items, side.arrays)


TICKETS = Feed("tickets", "tickets", "/api/v2/incremental/tickets", _render_tickets, _prepare_tickets,
               count_first=True)


def incremental_tickets(call: Call) -> Response:
    """`GET /api/v2/incremental/tickets?start_time=…` — the time-based export."""
    return time_export(call, TICKETS)


def incremental_tickets_cursor(call: Call) -> Response:
    """`GET /api/v2/incremental/tickets/cursor?start_time=…|cursor=…` — the cursor-based export."""
    return cursor_export(call, TICKETS)


def incremental_tickets_sample(call: Call) -> Response:
    """`GET /api/v2/incremental/tickets/sample?start_time=…` — at most 50 tickets, same envelope."""
    return time_export(call, TICKETS, sample=True)


ROUTES = [
    ("GET", "/api/v2/incremental/tickets", incremental_tickets),
    ("GET", "/api/v2/incremental/tickets/cursor", incremental_tickets_cursor),
    ("GET", "/api/v2/incremental/tickets/sample", incremental_tickets_sample),
]
