"""Bulk ticket jobs and their statuses (reference §8): `queued` → `working` → `completed`, as recorded.

The work itself runs when the job is submitted, each item in its own transaction, so the tickets exist and are
exported as soon as the request returns. An item that fails, for whatever reason, is rolled back alone and
reported failed in the results: the job never answers 500 after committing earlier items. The job status then
progresses *on reads*: the submit response says `queued`, the first `GET /api/v2/job_statuses/{id}` says
`working` (half done, "Creating ticket #N"), every later read says `completed` with the results. This is
deterministic — no timer, no background thread — and a polling client (zenpy's tests poll until `completed`)
sees the same three states a real account shows it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from zendesk_export.server.errors import InternalError, ZendeskError
from zendesk_export.server.model.audits import Origin
from zendesk_export.server.model.tickets import create_one, delete_one, update_one
from zendesk_export.server.store import Store

__all__ = ["VERBS", "record_job", "render_job", "create_many", "update_many", "destroy_many"]

VERBS = {"create": "Creating", "update": "Updating", "delete": "Deleting"}
_LOG = logging.getLogger("zendesk_export.server")


def record_job(store: Store, account_id: int, now: int, action: str, results: list[dict[str, Any]]
               ) -> tuple[str, dict[str, Any]]:
    """Store a finished bulk job; its new id and data."""
    job_id = "V3-" + secrets.token_hex(16)
    data = {"action": action, "total": len(results), "results": results, "completed_at": now}
    store.put_job(account_id, job_id, data)
    return job_id, data


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


def _attempt(work: Callable[[], Any]) -> tuple[Any, ZendeskError | None]:
    """Run one item's work (its own transaction, rolled back on failure) → (result, None) or (None, error).

    An unexpected exception fails the item, not the job: earlier items are committed, so a 500 would make the
    client retry work already done. The traceback goes to the server log; the item's result says InternalError.
    """
    try:
        return work(), None
    except ZendeskError as error:
        return None, error
    except Exception:
        _LOG.exception("bulk job item failed")
        return None, InternalError()


def _failure(error: ZendeskError) -> dict[str, Any]:
    body = error.body()
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return {"error": error.error, "details": str(error)}
    return {"error": body["error"], "details": body.get("details") or body.get("description")}


def create_many(store: Store, account_id: int, now: int, caller_id: int, origin: Origin,
                payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each ticket created on its own; results `{"index", "id", "account_id"}` or the item's error."""
    results: list[dict[str, Any]] = []
    for index, payload in enumerate(payloads):
        created, error = _attempt(partial(create_one, store, account_id, now, caller_id, origin, payload))
        if error is None:
            results.append({"index": index, "id": created[0]["id"], "account_id": account_id})
        else:
            results.append({"index": index, **_failure(error)})
    return results


def update_many(store: Store, account_id: int, now: int, caller_id: int, origin: Origin,
                items: Sequence[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each `(ticket id, change)` applied on its own; results `{"action", "status", "success", "id"}`."""
    return [_update_result(store, account_id, now, caller_id, origin, ticket_id, change)
            for ticket_id, change in items]


def _update_result(store: Store, account_id: int, now: int, caller_id: int, origin: Origin, ticket_id: Any,
                   change: dict[str, Any]) -> dict[str, Any]:
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        return {"action": "update", "status": "Failed", "success": False, "id": ticket_id,
                "error": "InvalidValue", "details": "id is required"}
    change = {k: v for k, v in change.items() if k != "id"}
    _, error = _attempt(lambda: update_one(store, account_id, now, caller_id, origin, ticket_id, change))
    if error is not None:
        return {"action": "update", "status": "Failed", "success": False, "id": ticket_id, **_failure(error)}
    return {"action": "update", "status": "Updated", "success": True, "id": ticket_id}


def destroy_many(store: Store, account_id: int, now: int, ticket_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each ticket soft-deleted as by a single delete."""
    results = []
    for ticket_id in ticket_ids:
        _, error = _attempt(partial(delete_one, store, account_id, now, ticket_id))
        if error is None:
            results.append({"action": "delete", "status": "Deleted", "success": True, "id": ticket_id})
        else:
            results.append({"action": "delete", "status": "Failed", "success": False, "id": ticket_id,
                            **_failure(error)})
    return results
