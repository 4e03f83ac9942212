"""Bulk ticket endpoints and job statuses: parse the request, run the items (``model.jobs``), answer the job."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from zendesk_export.server.api.tickets import parse_ids
from zendesk_export.server.errors import ParameterMissing, RecordNotFound, TooManyValues
from zendesk_export.server.http import Call, Handler, json_response
from zendesk_export.server.model import jobs
from zendesk_export.server.model.tickets import BULK_LIMIT

__all__ = ["ROUTES"]


def _submit(call: Call, action: str, results: list[dict[str, Any]]) -> Response:
    """Record a finished bulk job and answer with its `queued` status (HTTP 200, as recorded)."""
    job_id, data = jobs.record_job(call.ctx.store, call.account.id, call.now(), action, results)
    return json_response({"job_status": jobs.render_job(call.base_url, job_id, data, reads=0)})


def show_job_status(call: Call) -> Response:
    """`GET /api/v2/job_statuses/{id}`."""
    call.caller()
    job_id = call.request.path_params["job_id"].removesuffix(".json")  # `{job_id:str}` also swallows the suffix
    found = call.ctx.store.read_job(call.account.id, job_id)
    if found is None:
        raise RecordNotFound()
    data, reads = found
    return json_response({"job_status": jobs.render_job(call.base_url, job_id, data, reads)})


def _bulk_payload(call: Call) -> list[dict[str, Any]]:
    """`{"tickets": [...]}` with at most 100 objects (more → 400 TooManyValues, as recorded)."""
    tickets = call.json().get("tickets")
    if not isinstance(tickets, list) or not all(isinstance(t, dict) for t in tickets):
        raise ParameterMissing("tickets")
    if len(tickets) > BULK_LIMIT:
        raise TooManyValues(BULK_LIMIT)
    return tickets


def create_many(call: Call) -> Response:
    """`POST /api/v2/tickets/create_many` → job; results `{"index", "id", "account_id"}` per ticket."""
    caller = call.caller()
    results = jobs.create_many(call.ctx.store, call.account.id, call.now(), caller.id, call.origin(),
                               _bulk_payload(call))
    return _submit(call, "create", results)


def update_many(call: Call) -> Response:
    """`PUT /api/v2/tickets/update_many?ids=…` with `{"ticket": {...}}` (one change for all), or with
    `{"tickets": [{"id", ...}]}` (one change each) → job; results `{"action", "status", "success", "id"}`."""
    caller = call.caller()
    if "ids" in call.params:
        change = call.json().get("ticket")
        if not isinstance(change, dict):
            raise ParameterMissing("ticket")
        items: list[tuple[Any, dict[str, Any]]] = [(ticket_id, change) for ticket_id in parse_ids(call)]
    else:
        items = [(t.get("id"), t) for t in _bulk_payload(call)]
    results = jobs.update_many(call.ctx.store, call.account.id, call.now(), caller.id, call.origin(), items)
    return _submit(call, "update", results)


def destroy_many(call: Call) -> Response:
    """`DELETE /api/v2/tickets/destroy_many?ids=…` → job; each ticket soft-deleted as by a single delete."""
    call.caller()
    results = jobs.destroy_many(call.ctx.store, call.account.id, call.now(), parse_ids(call))
    return _submit(call, "delete", results)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v2/job_statuses/{job_id:str}", show_job_status),
    ("POST", "/api/v2/tickets/create_many", create_many),
    ("PUT", "/api/v2/tickets/update_many", update_many),
    ("DELETE", "/api/v2/tickets/destroy_many", destroy_many),
]
