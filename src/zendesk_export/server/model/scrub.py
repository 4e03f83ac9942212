"""Scrubbing: what a soft-deleted ticket becomes 30 days later (reference §3.6, Appendix A 10).

A scrubbed ticket stays in the export (`status: "deleted"`) with `subject`/`raw_subject` `SCRUBBED`, description
`X`, no tags and no custom field values. Scrubbing is a system write: it bumps `generated_timestamp` (so exporters
see it) and leaves `updated_at` alone. It happens lazily — when an export runs, for every ticket deleted more than
30 days before the server's clock — or at once through `POST /__admin/scrub`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zendesk_export.server.store import Store

__all__ = ["SCRUB_AFTER", "SCRUBBED", "scrub_ticket", "is_scrubbed", "scrub_due", "scrub_now"]

SCRUB_AFTER = 30 * 86_400
_BATCH = 1000  # tickets scrubbed per transaction when an export finds some due
SCRUBBED = {"subject": "SCRUBBED", "raw_subject": "SCRUBBED", "description": "X", "tags": [], "custom_fields": []}


def scrub_ticket(ticket: dict[str, Any], now: int) -> None:
    """Scrub a deleted ticket in place (content replaced, generated_timestamp bumped, updated_at kept)."""
    ticket.update(SCRUBBED)
    ticket["generated_timestamp"] = max(now, ticket["generated_timestamp"])


def is_scrubbed(ticket: dict[str, Any]) -> bool:
    return ticket["status"] == "deleted" and all(ticket.get(k) == v for k, v in SCRUBBED.items())


def scrub_due(store: Store, account_id: int, now: int) -> int:
    """Scrub every ticket whose 30 days are up (cheap when there are none: one indexed lookup)."""
    total = 0
    while ids := store.scrub_due(account_id, now - SCRUB_AFTER, limit=_BATCH):
        total += len(scrub_now(store, account_id, now, ids))
        if len(ids) < _BATCH:
            break
    return total


def scrub_now(store: Store, account_id: int, now: int, ticket_ids: Iterable[int] | None = None) -> list[int]:
    """Scrub the given deleted tickets (default: every deleted one not yet scrubbed), in one transaction."""
    wanted = list(ticket_ids) if ticket_ids is not None else store.scrub_due(account_id, 2**62, limit=-1)
    done = []
    with store.write(account_id) as writer:
        for ticket_id in wanted:
            ticket = writer.get_ticket(ticket_id)
            if ticket is None or ticket["status"] != "deleted" or is_scrubbed(ticket):
                continue
            scrub_ticket(ticket, now)
            writer.put_ticket(ticket)
            done.append(ticket_id)
    return done
