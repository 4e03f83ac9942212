"""Audits: what one write of a ticket did, as Zendesk records it (reference §6.2) — the `audit` of a Tickets API
answer and the source of the ticket events export.

An audit lists events: a `Comment`, `Create` events for the fields a new ticket was given, `Change` events (with
the previous value) for the fields an update changed. Values are stored as Zendesk shows them: strings, even for
ids, or null, or a list (tags).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from zendesk_export.server.store import Writer
from zendesk_export.tickets import format_time

__all__ = ["API_VIA", "Origin", "Audit", "comment_event", "field_event"]

API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}


@dataclass(frozen=True)
class Origin:
    """Where a write came from, as an audit's `metadata.system` records it."""

    user_agent: str | None = None
    ip_address: str | None = None


def _event_value(value: Any) -> Any:
    """Audit values are strings, even for ids (`"6130907993114"`), or null, or a list (tags)."""
    if value is None or isinstance(value, _AS_IS):
        return value
    return str(value)


_AS_IS = (list, str)  # a tuple: ``list | str`` would build a union object at every call (a seed makes millions)


def comment_event(event_id: int | None, author_id: int, body: str, public: bool, audit_id: int | None
                  ) -> dict[str, Any]:
    """A `Comment` audit event, as recorded (ids may be None where the store numbers them, as for seeding)."""
    return {
        "id": event_id, "type": "Comment", "author_id": author_id, "body": body, "html_body": _comment_html(body),
        "plain_body": body, "public": public, "attachments": [], "audit_id": audit_id,
    }


@lru_cache(maxsize=256)  # a seed writes millions of comments with a few dozen distinct bodies
def _comment_html(body: str) -> str:
    return f'<div class="zd-comment" dir="auto"><p dir="auto">{html.escape(body, quote=False)}</p></div>'


def field_event(event_id: int | None, name: str, value: Any, *previous: Any) -> dict[str, Any]:
    """A `Create` event, or, given a previous value (which may be None), a `Change` event."""
    event = {"id": event_id, "type": "Change" if previous else "Create", "value": _event_value(value),
             "field_name": name}
    if previous:
        event["previous_value"] = _event_value(previous[0])
    return event


class Audit:
    """Collects the events of one write; becomes the audit Zendesk returns and the ticket events export.

    The audit and its events are numbered when it is saved, all with one statement: each id taken on its own
    was a round trip to the database inside the account's write lock, which every writer waits for."""

    def __init__(self, writer: Writer, origin: Origin, ticket_id: int, author_id: int, now: int) -> None:
        self.writer = writer
        self.id: int | None = None
        self.origin, self.ticket_id, self.author_id, self.now = origin, ticket_id, author_id, now
        self.events: list[dict[str, Any]] = []

    def comment(self, comment: dict[str, Any]) -> None:
        self.events.append(comment_event(None, self.author_id, comment["body"], comment["public"], None))

    def field(self, name: str, value: Any, *previous: Any) -> None:
        """A Create event, or with a previous value a Change event."""
        self.events.append(field_event(None, name, value, *previous))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ticket_id": self.ticket_id, "created_at": format_time(self.now),
            "author_id": self.author_id,
            "metadata": {"system": {"client": self.origin.user_agent, "ip_address": self.origin.ip_address,
                                    "location": None, "latitude": None, "longitude": None}, "custom": {}},
            "events": self.events, "via": API_VIA,
        }

    def save(self) -> dict[str, Any]:
        self._number()
        audit = self.as_json()
        if self.events:
            self.writer.add_audit({**audit, "created_at_epoch": self.now})
        return audit

    def _number(self) -> None:
        first = self.writer.next_ids({"audits": 1, "events": len(self.events)})
        self.id = first["audits"]
        for number, event in enumerate(self.events, start=first["events"]):
            event["id"] = number
            if event["type"] == "Comment":
                event["audit_id"] = self.id
