"""Realistic tickets, seeded page scenarios and an independent model of the upsert rule, for the sink tests.

Self-contained on purpose (stdlib + zendesk_export only): the crash test runs this file as a subprocess that
writes a scenario into a sink until it is killed (``python _pages.py OUT SEED``).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from zendesk_export.exporter.sinks import Checkpoint, Page, open_sink

SOURCE = "https://example.zendesk.com"

#: A real cursor-export ticket (Dec 2024, reference fixture amp-labs/read_incremental_tickets.json) plus a
#: field no documentation mentions, to prove that nothing unknown is lost.
TEMPLATE: dict[str, Any] = {
    "url": "https://d3v-ampersand.zendesk.com/api/v2/tickets/5.json",
    "id": 5,
    "external_id": None,
    "via": {"channel": "sample_ticket", "source": {"from": {}, "to": {}, "rel": None}},
    "created_at": "2024-02-15T16:24:04Z",
    "updated_at": "2024-02-15T16:24:20Z",
    "generated_timestamp": 1708014261,
    "type": None,
    "subject": "SAMPLE TICKET: Saving meeting chat conversations",
    "raw_subject": "SAMPLE TICKET: Saving meeting chat conversations",
    "description": "Hi there, is there a way that I could save the chat conversations from a meeting?",
    "priority": "normal",
    "status": "open",
    "recipient": None,
    "requester_id": 26363656426259,
    "submitter_id": 26363656426259,
    "assignee_id": 26363624373267,
    "organization_id": None,
    "group_id": 26363643448211,
    "collaborator_ids": [],
    "follower_ids": [],
    "email_cc_ids": [],
    "forum_topic_id": None,
    "problem_id": None,
    "has_incidents": False,
    "is_public": True,
    "due_at": None,
    "tags": ["inquiry", "sample_ticket", "standard_customer"],
    "custom_fields": [{"id": 26363655924371, "value": "standard_customer"}, {"id": 26703268, "value": False}],
    "satisfaction_rating": {"score": "unoffered"},
    "sharing_agreement_ids": [],
    "custom_status_id": 26363643424147,
    "encoded_id": "7WEDXZ-65X7X",
    "fields": [{"id": 26363655924371, "value": "standard_customer"}, {"id": 26703268, "value": False}],
    "followup_ids": [],
    "ticket_form_id": 26363596576915,
    "brand_id": 26363596759827,
    "allow_channelback": False,
    "allow_attachments": True,
    "from_messaging_channel": False,
    "x_undocumented": {"nested": [1, {"deep": "kept"}]},
}


def _copy(obj: Any) -> Any:
    """A deep copy (through JSON: ten times faster than copy.deepcopy, and these are JSON objects)."""
    return orjson.loads(orjson.dumps(obj))


def make_ticket(ticket_id: int, generated_timestamp: int, **fields: Any) -> dict[str, Any]:
    """A realistic ticket with the given id and version; ``fields`` override or add keys."""
    ticket = _copy(TEMPLATE)
    ticket.update(
        id=ticket_id,
        url=f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
        generated_timestamp=generated_timestamp,
    )
    ticket.update(fields)
    return ticket


def make_user(user_id: int, updated_at: int) -> dict[str, Any]:
    """A sideloaded user whose content changes with ``updated_at`` (epoch seconds)."""
    stamp = _iso(updated_at)
    return {
        "id": user_id,
        "url": f"https://example.zendesk.com/api/v2/users/{user_id}.json",
        "name": f"User {user_id} at {updated_at}",
        "email": f"user{user_id}@example.com",
        "created_at": "2023-09-09T23:52:05Z",
        "updated_at": stamp,
        "role": "end-user",
        "active": True,
        "user_fields": {},
    }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page(tickets: list[dict[str, Any]], position: int | str = 1, **sideloads: list[dict[str, Any]]) -> Page:
    """A page whose checkpoint is a time-based position."""
    return Page(tickets=tickets, checkpoint=Checkpoint("time", str(position), SOURCE), sideloads=sideloads)


def scenario(seed: int, pages: int = 12, size: int = 100) -> list[Page]:
    """Seeded pages that mix new tickets, updates, deletions, stale re-deliveries and same-second changes,
    with a ``users`` sideload; page ``k`` (1-based) has checkpoint position ``k``."""
    rng = random.Random(seed)
    history: dict[int, list[dict[str, Any]]] = {}
    result = []
    for k in range(1, pages + 1):
        now = 1_700_000_000 + 10 * k
        tickets = [_next_version(rng, history, now) for _ in range(size)]
        users = [make_user(uid, now) for uid in rng.sample(range(1, 40), 5)]
        result.append(page(tickets, k, users=users))
    return result


def _next_version(rng: random.Random, history: dict[int, list[dict[str, Any]]], now: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.5 or not history:
        ticket = make_ticket(len(history) + 1, now - rng.randrange(3), subject=f"new {rng.random()}")
    else:
        ticket_id = rng.choice(list(history))
        latest = history[ticket_id][-1]
        if roll < 0.75:
            status = "deleted" if rng.random() < 0.2 else rng.choice(["open", "pending", "solved"])
            ticket = {**latest, "generated_timestamp": now, "status": status, "subject": f"upd {rng.random()}"}
        elif roll < 0.9:
            return _copy(rng.choice(history[ticket_id]))  # stale or repeated
        else:
            ticket = {**latest, "subject": f"same second {rng.random()}"}
    history.setdefault(ticket["id"], []).append(ticket)
    return _copy(ticket)


def expected(pages: list[Page]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]], int]:
    """Tickets and users an ideal sink holds after ``pages``, and how many ticket versions it stored (the
    lines of a JSONL log: per page, one for each id the page changed): independent of the sinks' code.

    A version replaces the held one when its generated_timestamp is greater, or equal with other content.
    """
    tickets: dict[int, dict[str, Any]] = {}
    users: dict[int, dict[str, Any]] = {}
    accepted = 0
    for written in pages:
        changed = set()
        for ticket in written.tickets:
            held = tickets.get(ticket["id"])
            if held is None or _newer(ticket, held):
                tickets[ticket["id"]] = ticket
                changed.add(ticket["id"])
        accepted += len(changed)
        for user in written.sideloads.get("users", []):
            held = users.get(user["id"])
            if held is None or user["updated_at"] >= held["updated_at"]:
                users[user["id"]] = user
    return tickets, users, accepted


def _newer(ticket: dict[str, Any], held: dict[str, Any]) -> bool:
    if ticket["generated_timestamp"] != held["generated_timestamp"]:
        return bool(ticket["generated_timestamp"] > held["generated_timestamp"])
    return ticket != held


def main(out: str, seed: int) -> None:
    """Write the seeded scenario into ``out``, resuming after its checkpoint; print each committed position."""
    pages = scenario(seed)
    sink = open_sink(out, include=["users"])
    checkpoint = sink.load_checkpoint()
    done = int(checkpoint.position) if checkpoint else 0
    # each line in one write: with PYTHONUNBUFFERED, print writes each argument apart, and a kill between two
    # of them left "committed" without its position for the parent to read
    sys.stdout.write(f"ready {done}\n")
    sys.stdout.flush()
    for written in pages[done:]:
        sink.write(written)
        sys.stdout.write(f"committed {written.checkpoint.position}\n")
        sys.stdout.flush()
    sink.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
