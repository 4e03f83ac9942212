"""HTTP handlers of the incremental exports. The paging rules themselves live in ``incremental``."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from zendesk_export.server.app import Call, raw_json
from zendesk_export.server.incremental import (
    VISIBILITY_DELAY,
    next_page_url,
    parse_bool,
    parse_per_page,
    parse_start_time,
    time_page,
)
from zendesk_export.tickets import ticket_json

__all__ = ["ROUTES", "incremental_tickets"]


def incremental_tickets(call: Call) -> Response:
    """`GET /api/v2/incremental/tickets?start_time=…` — the time-based export."""
    call.caller(admin=True)
    now = call.ctx.clock.now()
    start = parse_start_time(call.params, now)
    per_page = parse_per_page(call.params)
    exclude_deleted = parse_bool(call.params, "exclude_deleted")
    store, account_id = call.ctx.store, call.account.id
    rows = store.export_rows(account_id, start, int(now) - VISIBILITY_DELAY, per_page, exclude_deleted)
    page = time_page(rows, per_page, lambda ts: store.export_group(account_id, ts, exclude_deleted))

    tickets = b",".join(ticket_json(call.base_url, r.id, r.body, r.generated_timestamp) for r in page.rows)
    next_page = b"null"
    if page.end_time is not None:
        url = next_page_url(
            call.base_url, "/api/v2/incremental/tickets", call.params.multi_items(), ("start_time", str(page.end_time))
        )
        next_page = orjson.dumps(url)
    body = (
        b'{"tickets":[' + tickets + b'],"count":' + str(len(page.rows)).encode()
        + b',"end_of_stream":' + (b"true" if page.end_of_stream else b"false")
        + b',"next_page":' + next_page
        + b',"end_time":' + (str(page.end_time).encode() if page.end_time is not None else b"null") + b"}"
    )
    return raw_json(body)


ROUTES = [
    ("GET", "/api/v2/incremental/tickets", incremental_tickets),
]
