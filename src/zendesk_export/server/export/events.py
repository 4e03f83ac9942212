"""The ticket event export `GET /api/v2/incremental/ticket_events` (reference §1.3, §3.8, §6.2).

One event per audit — every event-producing ticket write stores one, and seeded tickets carry audits true to
their history — keyed by the audit's time, with the time-based paging rules of the ticket export. An audit's
events become `child_events` in Zendesk's export shape: `via` as a string, one field per `Create`/`Change`
(typed values, `previous_value` on changes, `added_tags`/`removed_tags` beside `tags`), and comments as
`comment_present`/`comment_public` — or, with `include=comment_events`, the whole comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from zendesk_export.server.export.feeds import ExportQuery, Feed, Rendered
from zendesk_export.server.model.ids import ascii_digits
from zendesk_export.server.store import ExportRow
from zendesk_export.tickets import format_time

__all__ = ["TICKET_EVENTS", "VIA_NAMES", "via_name", "ticket_event"]

# via.channel → the string the event export uses. [UNCONFIRMED beyond "Web form", "Mail", "Sample Ticket"]
VIA_NAMES = {"web": "Web form", "email": "Mail", "api": "Web service", "mobile": "Mobile",
             "sample_ticket": "Sample Ticket", "rule": "Rule", "system": "System", "chat": "Chat"}
_COMMENT_KEYS = ("author_id", "body", "html_body", "plain_body", "public", "attachments", "audit_id", "type")


def via_name(via: Any) -> str:
    channel = via.get("channel") if isinstance(via, dict) else None
    return VIA_NAMES.get(channel or "", str(channel or "Web service").replace("_", " ").capitalize())


def _typed(name: str, value: Any) -> Any:
    """Audit values are strings ("6130907993114"); the event export gives ids as numbers."""
    if name.endswith("_id") and isinstance(value, str) and ascii_digits(value):
        return int(value)
    return value


def _child(event: dict[str, Any], via: str, audit: dict[str, Any], with_comments: bool) -> dict[str, Any]:
    head = {"id": event["id"], "via": via, "via_reference_id": None}
    if event["type"] == "Comment":
        child = {**head, "comment_present": True, "comment_public": event.get("public", True)}
        if with_comments:
            child.update({k: event.get(k) for k in _COMMENT_KEYS})
            child.update(created_at=audit["created_at"], via=audit.get("via"))
        return {**child, "event_type": "Comment"}
    name, value = event["field_name"], _typed(event["field_name"], event.get("value"))
    child = {**head, name: value}
    if name == "tags":
        previous = event.get("previous_value") or []
        child.update(added_tags=[t for t in value or [] if t not in previous],
                     removed_tags=[t for t in previous if t not in (value or [])])
    child["event_type"] = event["type"]
    if event["type"] == "Change":
        child["previous_value"] = event.get("previous_value")
    return child


def ticket_event(audit: dict[str, Any], timestamp: int, with_comments: bool = False) -> dict[str, Any]:
    """A stored audit → one `ticket_events[]` element, keys in the recorded order."""
    via = via_name(audit.get("via"))
    system = (audit.get("metadata") or {}).get("system") or {}
    return {
        "child_events": [_child(e, via, audit, with_comments) for e in audit.get("events", [])],
        "id": audit["id"], "ticket_id": audit["ticket_id"], "timestamp": timestamp,
        "created_at": format_time(timestamp), "updater_id": audit.get("author_id"), "via": via,
        "system": {k: system.get(k) for k in ("client", "location", "latitude", "longitude")},
        "event_type": "Audit",
    }


def _render(query: ExportQuery, rows: Sequence[ExportRow]) -> Rendered:
    includes = {n.strip() for n in query.params.get("include", "").split(",")}
    with_comments = "comment_events" in includes
    return Rendered([orjson.dumps(ticket_event(orjson.loads(r.body), r.generated_timestamp, with_comments))
                     for r in rows], [])


TICKET_EVENTS = Feed("audits", "ticket_events", "/api/v2/incremental/ticket_events", _render)

