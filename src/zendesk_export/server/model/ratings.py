"""Satisfaction ratings: one per rated ticket, the same rating its `satisfaction_rating` shows.

A ticket's `satisfaction_rating` (`{"id", "score", "comment"}`) and its record in `/satisfaction_ratings` are
written together by the seed, so the two always agree; the record adds the people of the ticket and the time the
rating was given (the ticket's last update, when it was solved).
"""

from __future__ import annotations

from typing import Any

from zendesk_export.tickets import format_time

__all__ = ["SCORES", "rating_record", "render_rating"]

SCORES = ("offered", "unoffered", "good", "bad")


def rating_record(ticket: dict[str, Any]) -> dict[str, Any] | None:
    """The ratings-table record of a stored ticket whose rating has an id; None for a ticket without one."""
    rating = ticket.get("satisfaction_rating")
    if not isinstance(rating, dict) or not isinstance(rating.get("id"), int):
        return None
    return {"id": rating["id"], "ticket_id": ticket["id"], "score": rating["score"],
            "created_at": ticket["updated_at"], "updated_at": ticket["updated_at"],
            "assignee_id": ticket.get("assignee_id"), "group_id": ticket.get("group_id"),
            "requester_id": ticket.get("requester_id"), "comment": rating.get("comment")}


def render_rating(base_url: str, record: dict[str, Any]) -> dict[str, Any]:
    """A rating as the API shows it, keys in the recorded order."""
    return {"url": f"{base_url}/api/v2/satisfaction_ratings/{record['id']}.json", "id": record["id"],
            "assignee_id": record.get("assignee_id"), "group_id": record.get("group_id"),
            "requester_id": record.get("requester_id"), "ticket_id": record["ticket_id"], "score": record["score"],
            "created_at": format_time(record["created_at"]), "updated_at": format_time(record["updated_at"]),
            "comment": record.get("comment")}
