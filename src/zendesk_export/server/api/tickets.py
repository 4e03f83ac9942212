"""Tickets API handlers: create, show, update, delete, show_many. The rules live in ``model.tickets``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from zendesk_export.server.errors import InvalidParameter, ParameterMissing, RecordNotFound, TooManyValues
from zendesk_export.server.http import Call, Handler, raw_json
from zendesk_export.server.model.ids import ascii_digits, id_from_text
from zendesk_export.server.model.tickets import BULK_LIMIT, create_one, delete_one, update_one
from zendesk_export.tickets import render_body, ticket_json

__all__ = ["ROUTES", "parse_ids", "ticket_payload"]


def ticket_payload(call: Call) -> dict[str, Any]:
    ticket = call.json().get("ticket")
    if not isinstance(ticket, dict):
        raise ParameterMissing("ticket")
    return ticket


def _ticket_response(call: Call, ticket: dict[str, Any], audit: dict[str, Any] | None, status: int = 200,
                     headers: dict[str, str] | None = None) -> Response:
    body = ticket_json(call.base_url, ticket["id"], render_body(ticket))
    parts = [b'{"ticket":', body]
    if audit is not None:
        parts += [b',"audit":', orjson.dumps(audit)]
    return raw_json(b"".join(parts) + b"}", status, headers)


def create_ticket(call: Call) -> Response:
    """`POST /api/v2/tickets` → 201, Location, `{ticket, audit}`."""
    caller = call.caller()
    ticket, saved = create_one(call.ctx.store, call.account.id, call.now(), caller.id, call.origin(),
                               ticket_payload(call))
    location = {"Location": f"{call.base_url}/api/v2/tickets/{ticket['id']}.json"}
    return _ticket_response(call, ticket, saved, 201, location)


def show_ticket(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}`."""
    call.caller()
    ticket = call.ctx.store.get_ticket(call.account.id, call.path_int("ticket_id"))
    if ticket is None or ticket["status"] == "deleted":
        raise RecordNotFound()
    return _ticket_response(call, ticket, None)


def update_ticket(call: Call) -> Response:
    """`PUT /api/v2/tickets/{id}` → `{ticket, audit}`; a `comment` adds a comment."""
    caller = call.caller()
    ticket, saved = update_one(call.ctx.store, call.account.id, call.now(), caller.id, call.origin(),
                               call.path_int("ticket_id"), ticket_payload(call))
    return _ticket_response(call, ticket, saved)


def delete_ticket(call: Call) -> Response:
    """`DELETE /api/v2/tickets/{id}` → 204. A soft delete: the export shows the ticket as `deleted`."""
    call.caller()
    delete_one(call.ctx.store, call.account.id, call.now(), call.path_int("ticket_id"))
    return Response(status_code=204)


def parse_ids(call: Call) -> list[int]:
    """`?ids=1,2,3` (required, ≤ 100, integers) → ids in the order given, without repeats. An id beyond
    Zendesk's range is a 404 for the whole request, before anything is read or written."""
    raw = call.params.get("ids", "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise ParameterMissing("ids")
    if not all(ascii_digits(p) for p in parts):
        raise InvalidParameter(f"ids must be a comma-separated list of integers, got {raw[:100]!r}")
    ids = list(dict.fromkeys(id_from_text(p) for p in parts))
    if len(ids) > BULK_LIMIT:
        raise TooManyValues(BULK_LIMIT)
    return ids


def show_many(call: Call) -> Response:
    """`GET /api/v2/tickets/show_many?ids=…` — the live tickets among ids, in the order asked (unknown and
    deleted ids are left out), with the offset-pagination keys of a list."""
    call.caller()
    ids = parse_ids(call)
    rows = {r.id: r for r in call.ctx.store.tickets_by_id(call.account.id, ids)}
    found = [ticket_json(call.base_url, i, rows[i].body) for i in ids if i in rows]
    body = (b'{"tickets":[' + b",".join(found) + b'],"next_page":null,"previous_page":null,"count":'
            + str(len(found)).encode() + b"}")
    return raw_json(body)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v2/tickets/show_many", show_many),
    ("POST", "/api/v2/tickets", create_ticket),
    ("GET", "/api/v2/tickets/{ticket_id:id}", show_ticket),
    ("PUT", "/api/v2/tickets/{ticket_id:id}", update_ticket),
    ("DELETE", "/api/v2/tickets/{ticket_id:id}", delete_ticket),
]
