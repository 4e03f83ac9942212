"""Deleted tickets: restoring a soft-deleted ticket, and deleting one for good (reference §3.6).

A soft-deleted ticket can be restored until it is scrubbed: it takes back the status its history last gave it,
and the restore is a write (``updated_at`` and ``generated_timestamp`` move, so exporters see it live again).
Deleting for good is scrubbing at once; the ticket stays in the incremental export as a scrubbed deletion, as
Zendesk keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from zendesk_export.server.errors import RecordNotFound
from zendesk_export.server.model.scrub import is_scrubbed, scrub_due, scrub_now
from zendesk_export.server.model.tickets import CUSTOM_STATUS_IDS
from zendesk_export.server.store import Store

__all__ = ["DELETED_WHERE", "previous_status", "restore_one", "destroy_for_good"]

# The deleted tickets still listed and restorable: soft-deleted, not yet scrubbed — the terms of the partial
# indexes `tickets_deleted` and `tickets_deleted_time`, so a page of them is an index range.
DELETED_WHERE: tuple[tuple[str, str, Any], ...] = (
    ("deleted_at", "is not null", None), ("description", "!= literal", "X"))


def previous_status(audits: Sequence[dict[str, Any]]) -> str:
    """The status a ticket's audits last set (``open`` when none did)."""
    status = "open"
    for audit in audits:
        for event in audit.get("events", []):
            if event.get("field_name") == "status" and event.get("value") in CUSTOM_STATUS_IDS:
                status = event["value"]
    return status


def restore_one(store: Store, account_id: int, now: int, ticket_id: int) -> dict[str, Any]:
    """Restore a soft-deleted ticket; 404 when it is not deleted, scrubbed (or due to be) or unknown."""
    scrub_due(store, account_id, now)
    audits = [orjson.loads(r.body) for r in store.audits_of_tickets(account_id, [ticket_id])]
    with store.write(account_id) as writer:
        ticket = writer.get_ticket(ticket_id)
        if ticket is None or ticket["status"] != "deleted" or is_scrubbed(ticket):
            raise RecordNotFound()
        status = previous_status(audits)
        ticket.update(status=status, custom_status_id=CUSTOM_STATUS_IDS[status], deleted_at=None, updated_at=now,
                      generated_timestamp=max(now, ticket["generated_timestamp"]))
        writer.put_ticket(ticket)
    return ticket


def destroy_for_good(store: Store, account_id: int, now: int, ticket_ids: Sequence[int]) -> list[int]:
    """Scrub soft-deleted tickets now; 404 when none of them is a soft-deleted, unscrubbed ticket."""
    done = scrub_now(store, account_id, now, ticket_ids)
    if not done:
        raise RecordNotFound()
    return done
