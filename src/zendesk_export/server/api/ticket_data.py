"""Handlers of what is read from tickets and their history: the tickets list, audits, comments, metrics, metric
events, satisfaction ratings, deleted tickets and job statuses. Each parses the request, runs one page on a
source (``export.ticket_data``, paged by ``export.paging``) and renders Zendesk's envelope.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.responses import Response

from zendesk_export.server.api.tickets import parse_ids
from zendesk_export.server.errors import InvalidParameter, RecordNotFound
from zendesk_export.server.export.feeds import ExportQuery
from zendesk_export.server.export.paging import CURSOR, OFFSET, PageRequest, Source, envelope, fetch, parse_page
from zendesk_export.server.export.ticket_data import (
    TableSource,
    metric_events_cursor,
    metric_events_export,
    metric_sets,
    replays,
)
from zendesk_export.server.http import Call, Handler, json_response, raw_json
from zendesk_export.server.model import jobs
from zendesk_export.server.model.deleted import DELETED_WHERE, destroy_for_good, restore_one
from zendesk_export.server.model.ids import MAX_ID, ascii_digits
from zendesk_export.server.model.metrics import metric_set
from zendesk_export.server.model.ratings import SCORES, render_rating
from zendesk_export.server.model.scrub import scrub_due
from zendesk_export.server.resources.operations import TICKET_DATA, Operation
from zendesk_export.tickets import format_time, ticket_json

__all__ = ["ROUTES"]

_LIVE = (("status", "!=", "deleted"),)


def _page(call: Call, key: str, source: Source[Any], request: PageRequest,
          render: Callable[[list[Any]], list[Any]]) -> dict[str, Any]:
    page = fetch(source, request)
    url = f"{call.base_url}{call.request.url.path}"
    return envelope(key, render(page.items), page, url, call.params.multi_items())


def _ticket_dicts(call: Call, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [orjson.loads(ticket_json(call.base_url, r["id"], r["body"])) for r in rows]


def _live_ticket(call: Call, ticket_id: int) -> dict[str, Any]:
    ticket = call.ctx.store.get_ticket(call.account.id, ticket_id)
    if ticket is None or ticket["status"] == "deleted":
        raise RecordNotFound()
    return ticket


# -- tickets list ------------------------------------------------------------------------------------------
def list_tickets(call: Call) -> Response:
    """`GET /api/v2/tickets` (offset or cursor, by id); `include=metric_sets` adds a top-level `metric_sets`
    array (recorded). Deleted tickets are not listed. Cursor pages leave out `fields` (every recorded cursor page
    does; offset pages have it)."""
    call.caller()
    request = parse_page(call.params, "nice_id")
    source = TableSource(call.ctx.store, call.account.id, "tickets", _LIVE)

    def render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tickets = _ticket_dicts(call, rows)
        if request.style == CURSOR:
            for ticket in tickets:
                del ticket["fields"]
        return tickets

    body = _page(call, "tickets", source, request, render)
    includes = {n.strip() for n in call.params.get("include", "").split(",")}
    if "metric_sets" in includes:
        sets = metric_sets(call.ctx.store, call.account.id, call.base_url, body["tickets"])
        body = {"tickets": body.pop("tickets"), "metric_sets": sets, **body}
    return json_response(body)


def count_tickets(call: Call) -> Response:
    """`GET /api/v2/tickets/count` → `{"count": {"value": n, "refreshed_at": …}}` (live tickets; Zendesk's count
    may lag, ours is exact and refreshed now)."""
    call.caller()
    total = call.ctx.store.count_where(call.account.id, "tickets", _LIVE)
    refreshed = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(call.now()))
    return json_response({"count": {"value": total, "refreshed_at": refreshed}})


def ticket_incidents(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}/incidents` (offset or cursor, by id): the live incidents linked to a problem."""
    call.caller()
    problem_id = _live_ticket(call, call.path_int("ticket_id"))["id"]
    request = parse_page(call.params, "nice_id")
    source = TableSource(call.ctx.store, call.account.id, "tickets", (*_LIVE, ("problem_id", "=", problem_id)))
    return json_response(_page(call, "tickets", source, request, lambda rows: _ticket_dicts(call, rows)))


def scoped_tickets(op: Operation) -> Handler:
    """A scoped list of live tickets (offset or cursor, by id): an organization's (`/organizations/{id}/tickets`),
    a requester's (`/users/{id}/tickets/requested`); 404 RecordNotFound for a parent the account does not have."""
    parent_table, column = op.scope

    def handler(call: Call) -> Response:
        call.caller()
        parent_id = call.path_int("parent_id")
        found = (call.ctx.store.user(call.account.id, parent_id) if parent_table == "users"
                 else call.ctx.store.records_by_id(call.account.id, parent_table, [parent_id]))
        if not found:
            raise RecordNotFound()
        request = parse_page(call.params, "nice_id")
        source = TableSource(call.ctx.store, call.account.id, "tickets", (*_LIVE, (column, "=", parent_id)))
        return json_response(_page(call, "tickets", source, request, lambda rows: _ticket_dicts(call, rows)))

    handler.__name__ = op.name
    return handler


def list_problems(call: Call) -> Response:
    """`GET /api/v2/problems` (offset or cursor, by id): the live tickets of type problem."""
    call.caller()
    request = parse_page(call.params, "nice_id")
    source = TableSource(call.ctx.store, call.account.id, "tickets", (*_LIVE, ("type", "=", "problem")))
    return json_response(_page(call, "tickets", source, request, lambda rows: _ticket_dicts(call, rows)))


# -- audits and comments -------------------------------------------------------------------------------------
def _audit_source(call: Call, ticket_id: int | None, comments: bool = False) -> TableSource:
    where: list[tuple[str, str, Any]] = [] if ticket_id is None else [("ticket_id", "=", ticket_id)]
    if comments:
        where.append(("data", "contains", '"type":"comment"'))
    return TableSource(call.ctx.store, call.account.id, "audits", where, ("created_at", False))


def ticket_audits(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}/audits` (offset or cursor), oldest first."""
    call.caller()
    ticket_id = _live_ticket(call, call.path_int("ticket_id"))["id"]
    request = parse_page(call.params, "created_at,id")
    return json_response(_page(call, "audits", _audit_source(call, ticket_id), request,
                               lambda rows: [r["audit"] for r in rows]))


def all_audits(call: Call) -> Response:
    """`GET /api/v2/ticket_audits` (cursor only, as Zendesk has it), oldest first."""
    call.caller(admin=True)
    request = parse_page(call.params, "created_at,id", styles=(CURSOR,))
    return json_response(_page(call, "audits", _audit_source(call, None), request,
                               lambda rows: [r["audit"] for r in rows]))


def _comment(audit: dict[str, Any]) -> dict[str, Any]:
    event = next(e for e in audit["events"] if e.get("type") == "Comment")
    keys = ("id", "type", "author_id", "body", "html_body", "plain_body", "public", "attachments", "audit_id")
    return {**{k: event.get(k) for k in keys}, "via": audit.get("via"), "created_at": audit["created_at"],
            "metadata": audit.get("metadata")}


def ticket_comments(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}/comments` (offset or cursor), oldest first."""
    call.caller()
    ticket_id = _live_ticket(call, call.path_int("ticket_id"))["id"]
    request = parse_page(call.params, "created_at,id")
    return json_response(_page(call, "comments", _audit_source(call, ticket_id, comments=True), request,
                               lambda rows: [_comment(r["audit"]) for r in rows]))


# -- metrics -----------------------------------------------------------------------------------------------
def list_metrics(call: Call) -> Response:
    """`GET /api/v2/ticket_metrics` (offset or cursor), newest ticket first (Zendesk's `-created_at,id`)."""
    call.caller()
    request = parse_page(call.params, "-created_at,id")
    source = TableSource(call.ctx.store, call.account.id, "tickets", _LIVE, ("created_at", True))

    def render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return metric_sets(call.ctx.store, call.account.id, call.base_url, _ticket_dicts(call, rows))

    return json_response(_page(call, "ticket_metrics", source, request, render))


def show_metric(call: Call) -> Response:
    """`GET /api/v2/tickets/{id}/metrics` and `GET /api/v2/ticket_metrics/{id}` → `{"ticket_metric": {…}}`
    (a metric set's id is its ticket's id)."""
    call.caller()
    ticket = _live_ticket(call, call.path_int("ticket_id"))
    rendered = orjson.loads(ticket_json(call.base_url, ticket["id"], _body(call, ticket["id"])))
    state = replays(call.ctx.store, call.account.id, [ticket["id"]])[ticket["id"]]
    return json_response({"ticket_metric": metric_set(call.base_url, rendered, state)})


def _body(call: Call, ticket_id: int) -> bytes:
    rows = call.ctx.store.tickets_by_id(call.account.id, [ticket_id])
    if not rows:
        raise RecordNotFound()
    return rows[0].body


def metric_events(call: Call) -> Response:
    """`GET /api/v2/incremental/ticket_metric_events?start_time=…`: the time-based export envelope, or with
    `page[size]` the cursor list envelope."""
    call.caller(admin=True)
    query = ExportQuery(call.ctx.store, call.account, call.base_url, call.params, call.params.multi_items(),
                        call.time())
    if any(name.startswith("page[") for name in call.params):
        return json_response(metric_events_cursor(query, f"{call.base_url}{call.request.url.path}"))
    return raw_json(metric_events_export(query))


# -- satisfaction ratings ----------------------------------------------------------------------------------
def _epoch_param(call: Call, name: str) -> int | None:
    raw = call.params.get(name)
    if raw is None or raw == "":
        return None
    if not ascii_digits(raw) or int(raw) > MAX_ID:
        raise InvalidParameter(f"{name} must be an integer epoch time in seconds, got {raw[:100]!r}")
    return int(raw)


def list_ratings(call: Call) -> Response:
    """`GET /api/v2/satisfaction_ratings` (offset or cursor; by id, or by time when a window or
    `sort=created_at` is asked): `start_time` (inclusive) and `end_time` (exclusive) bound when a rating was
    given, `score` picks one score."""
    call.caller()
    where: list[tuple[str, str, Any]] = []
    start, end = _epoch_param(call, "start_time"), _epoch_param(call, "end_time")
    if start is not None:
        where.append(("created_at", ">=", start))
    if end is not None:
        where.append(("created_at", "<", end))
    score = call.params.get("score")
    if score:
        if score not in SCORES:
            raise InvalidParameter(f"score must be one of {', '.join(SCORES)}")
        where.append(("score", "=", score))
    # A time window (or `sort=created_at`, as connectors send) reads the ratings in time order, along an index.
    by_time = bool(where and where[0][0] == "created_at") or call.params.get("sort") == "created_at"
    order = ("created_at", False) if by_time else ("id", False)
    source = TableSource(call.ctx.store, call.account.id, "satisfaction_ratings", where, order)
    request = parse_page(call.params, "created_at,id" if by_time else "id")
    return json_response(_page(call, "satisfaction_ratings", source, request,
                               lambda rows: [render_rating(call.base_url, r) for r in rows]))


def show_rating(call: Call) -> Response:
    """`GET /api/v2/satisfaction_ratings/{id}`."""
    call.caller()
    found = call.ctx.store.records_by_id(call.account.id, "satisfaction_ratings", [call.path_int("rating_id")])
    if not found:
        raise RecordNotFound()
    return json_response({"satisfaction_rating": render_rating(call.base_url, found[0])})


# -- deleted tickets, job statuses -------------------------------------------------------------------------
def list_deleted(call: Call) -> Response:
    """`GET /api/v2/deleted_tickets` (offset or cursor): soft-deleted tickets not yet scrubbed, by id, or by
    deletion time with `sort=deleted_at` (cursor) or `sort_by=deleted_at` (offset)."""
    call.caller()
    scrub_due(call.ctx.store, call.account.id, call.now())  # a ticket whose 30 days are up is listed no more
    by_time = "deleted_at" in (call.params.get("sort", "").lstrip("-"), call.params.get("sort_by"))
    request = parse_page(call.params, "updated_at,id" if by_time else "nice_id")
    descending = call.params.get("sort", "").startswith("-") or call.params.get("sort_order") == "desc"
    order = ("deleted_at", descending) if by_time else ("id", False)
    source = TableSource(call.ctx.store, call.account.id, "tickets", DELETED_WHERE, order)
    return json_response(_page(call, "deleted_tickets", source, request, lambda rows: _deleted(call, rows)))


def _deleted(call: Call, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    states = replays(call.ctx.store, call.account.id, [r["id"] for r in rows])
    out = []
    for row in rows:
        ticket = orjson.loads(b"{" + row["body"] + b"}")
        out.append({"id": row["id"], "subject": ticket["subject"], "description": ticket["description"],
                    "deleted_at": format_time(row["deleted_at"]),
                    "previous_state": states[row["id"]].status or "open"})
    return out


def restore(call: Call) -> Response:
    """`PUT /api/v2/deleted_tickets/{id}/restore` → 200, empty body."""
    call.caller()
    restore_one(call.ctx.store, call.account.id, call.now(), call.path_int("ticket_id"))
    return Response(status_code=200)


def restore_many(call: Call) -> Response:
    """`PUT /api/v2/deleted_tickets/restore_many?ids=…` → 200, empty body; unknown ids are skipped."""
    call.caller()
    for ticket_id in (i for i in parse_ids(call) if i <= MAX_ID):
        try:
            restore_one(call.ctx.store, call.account.id, call.now(), ticket_id)
        except RecordNotFound:
            continue
    return Response(status_code=200)


def _destroy(call: Call, ticket_ids: list[int]) -> Response:
    ticket_ids = [i for i in ticket_ids if i <= MAX_ID]
    done = destroy_for_good(call.ctx.store, call.account.id, call.now(), ticket_ids)
    results = [{"action": "delete", "status": "Deleted", "success": True, "id": i} for i in done]
    job_id, data = jobs.record_job(call.ctx.store, call.account.id, call.now(), "delete", results)
    return json_response({"job_status": jobs.render_job(call.base_url, job_id, data, reads=0)})


def destroy(call: Call) -> Response:
    """`DELETE /api/v2/deleted_tickets/{id}` → a queued job status; the ticket is scrubbed."""
    call.caller()
    return _destroy(call, [call.path_int("ticket_id")])


def destroy_many(call: Call) -> Response:
    """`DELETE /api/v2/deleted_tickets/destroy_many?ids=…` → a queued job status."""
    call.caller()
    return _destroy(call, parse_ids(call))


def list_jobs(call: Call) -> Response:
    """`GET /api/v2/job_statuses` (offset): the account's jobs as they stand (listing does not advance them)."""
    call.caller()
    request = parse_page(call.params, "id", styles=(OFFSET,))
    source = TableSource(call.ctx.store, call.account.id, "job_statuses")

    def render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [jobs.render_job(call.base_url, r["id"], r, r["reads"]) for r in rows]

    return json_response(_page(call, "job_statuses", source, request, render))


_HANDLERS: dict[str, Handler] = {
    "list_tickets": list_tickets, "count_tickets": count_tickets, "ticket_incidents": ticket_incidents,
    "list_problems": list_problems, "ticket_audits": ticket_audits, "all_audits": all_audits,
    "ticket_comments": ticket_comments, "list_metrics": list_metrics, "show_metric": show_metric,
    "show_ticket_metric": show_metric, "metric_events": metric_events, "list_ratings": list_ratings,
    "show_rating": show_rating, "list_deleted": list_deleted, "restore_many": restore_many, "restore": restore,
    "destroy_many": destroy_many, "destroy": destroy, "list_jobs": list_jobs,
}


def _handler(op: Operation) -> Handler:
    return scoped_tickets(op) if op.scope[0] else _HANDLERS[op.name]


# The routes are the declared operations (``resources.operations``), each bound to its handler by name; a scoped
# list is the tickets list of its parent.
ROUTES: list[tuple[str, str, Handler]] = [(op.method, op.path, _handler(op)) for op in TICKET_DATA]
