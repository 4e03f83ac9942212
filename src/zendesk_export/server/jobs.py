"""Job statuses of the bulk ticket endpoints (reference §8): `queued` → `working` → `completed`, as recorded.

The work itself runs when the job is submitted (each item in its own transaction, so the tickets exist and are
exported as soon as the request returns); the job status then progresses *on reads*: the submit response says
`queued`, the first `GET /api/v2/job_statuses/{id}` says `working` (half done, "Creating ticket #N"), every later
read says `completed` with the results. This is deterministic — no timer, no background thread — and a polling
client (zenpy's tests poll until `completed`) sees the same three states a real account shows it.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.responses import Response

from zendesk_export.server.app import Call, json_response
from zendesk_export.server.errors import ParameterMissing, RecordNotFound, TooManyValues, ZendeskError
from zendesk_export.server.tickets_api import BULK_LIMIT, create_one, delete_one, parse_ids, update_one

__all__ = ["ROUTES", "VERBS", "submit", "render_job", "show_job_status", "create_many", "update_many", "destroy_many"]

VERBS = {"create": "Creating", "update": "Updating", "delete": "Deleting"}


def submit(call: Call, action: str, total: int, results: list[dict[str, Any]]) -> Response:
    """Record a finished bulk job and answer with its `queued` status (HTTP 200, as recorded)."""
    job_id = "V3-" + secrets.token_hex(16)
    data = {"action": action, "total": total, "results": results, "completed_at": int(call.ctx.clock.now())}
    call.ctx.store.put_job(call.account.id, job_id, data)
    return json_response({"job_status": render_job(call.base_url, job_id, data, reads=0)})


def render_job(base_url: str, job_id: str, data: dict[str, Any], reads: int) -> dict[str, Any]:
    """The job_status object after ``reads`` reads: queued (0), working (1, when there is work), completed."""
    total = data["total"]
    job = {"id": job_id, "url": f"{base_url}/api/v2/job_statuses/{job_id}.json", "total": total,
           "progress": None, "status": "queued", "message": None, "results": None}
    if reads == 0:
        return job
    if reads == 1 and total > 1:
        progress = total // 2
        return {**job, "progress": progress, "status": "working",
                "message": f"{VERBS[data['action']]} ticket #{progress}"}
    stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(data["completed_at"]))
    return {**job, "progress": total, "status": "completed", "message": f"Completed at {stamp}",
            "results": data["results"]}


def show_job_status(call: Call) -> Response:
    """`GET /api/v2/job_statuses/{id}`."""
    call.caller()
    job_id = call.request.path_params["job_id"].removesuffix(".json")  # `{job_id:str}` also swallows the suffix
    found = call.ctx.store.read_job(call.account.id, job_id)
    if found is None:
        raise RecordNotFound()
    data, reads = found
    return json_response({"job_status": render_job(call.base_url, job_id, data, reads)})


# -- bulk ticket jobs ------------------------------------------------------------------------------
def _bulk_payload(call: Call) -> list[dict[str, Any]]:
    """`{"tickets": [...]}` with at most 100 objects (more → 400 TooManyValues, as recorded)."""
    tickets = call.json().get("tickets")
    if not isinstance(tickets, list) or not all(isinstance(t, dict) for t in tickets):
        raise ParameterMissing("tickets")
    if len(tickets) > BULK_LIMIT:
        raise TooManyValues(BULK_LIMIT)
    return tickets


def _failure(error: ZendeskError) -> dict[str, Any]:
    body = error.body()
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return {"error": type(error).__name__, "details": str(error)}
    return {"error": body["error"], "details": body.get("details") or body.get("description")}


def create_many(call: Call) -> Response:
    """`POST /api/v2/tickets/create_many` → job; results `{"index", "id", "account_id"}` per ticket."""
    caller = call.caller()
    results: list[dict[str, Any]] = []
    for index, payload in enumerate(_bulk_payload(call)):
        try:
            ticket, _ = create_one(call, caller.id, payload)
            results.append({"index": index, "id": ticket["id"], "account_id": call.account.id})
        except ZendeskError as error:
            results.append({"index": index, **_failure(error)})
    return submit(call, "create", len(results), results)


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
    results = [_update_result(call, caller.id, ticket_id, change) for ticket_id, change in items]
    return submit(call, "update", len(results), results)


def _update_result(call: Call, caller_id: int, ticket_id: Any, change: dict[str, Any]) -> dict[str, Any]:
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        return {"action": "update", "status": "Failed", "success": False, "id": ticket_id,
                "error": "InvalidValue", "details": "id is required"}
    try:
        update_one(call, caller_id, ticket_id, {k: v for k, v in change.items() if k != "id"})
    except ZendeskError as error:
        return {"action": "update", "status": "Failed", "success": False, "id": ticket_id, **_failure(error)}
    return {"action": "update", "status": "Updated", "success": True, "id": ticket_id}


def destroy_many(call: Call) -> Response:
    """`DELETE /api/v2/tickets/destroy_many?ids=…` → job; each ticket soft-deleted as by a single delete."""
    call.caller()
    results = []
    for ticket_id in parse_ids(call):
        try:
            delete_one(call, ticket_id)
            results.append({"action": "delete", "status": "Deleted", "success": True, "id": ticket_id})
        except ZendeskError as error:
            results.append({"action": "delete", "status": "Failed", "success": False, "id": ticket_id,
                            **_failure(error)})
    return submit(call, "delete", len(results), results)


ROUTES = [
    ("GET", "/api/v2/job_statuses/{job_id:str}", show_job_status),
    ("POST", "/api/v2/tickets/create_many", create_many),
    ("PUT", "/api/v2/tickets/update_many", update_many),
    ("DELETE", "/api/v2/tickets/destroy_many", destroy_many),
]
