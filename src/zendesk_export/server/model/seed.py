"""Realistic synthetic tickets, reproducible from a seed.

Shape of the data, chosen to exercise what breaks exporters: requesters from a pool of end users, agents and
groups, every status/priority/type, tags and custom fields (text, drop-down, checkbox), creation spread over
six months with updates days later, ~4% deleted (some scrubbed after 30 days, as Zendesk does), and ~10% of
tickets in bursts of up to 2,000 sharing one ``generated_timestamp`` second (bulk imports and macros do this).
Every ticket is at least two minutes old, so it is visible to the export at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from zendesk_export.server.model.audits import comment_event, field_event
from zendesk_export.server.model.reference import People, seed_reference
from zendesk_export.server.model.scrub import SCRUB_AFTER, SCRUBBED
from zendesk_export.server.model.tickets import (
    CREATE_EVENT_FIELDS,
    CUSTOM_STATUS_IDS,
    DEFAULT_BRAND_ID,
    DEFAULT_TICKET_FORM_ID,
    OPTIONAL_CREATE_FIELDS,
)
from zendesk_export.server.store import Store
from zendesk_export.tickets import PRIORITIES, STATUSES, TYPES, format_time

__all__ = ["seed_account", "CUSTOM_FIELD_IDS"]

DAY = 86_400
SPAN = 180 * DAY
CUSTOM_FIELD_IDS = (360_001, 360_002, 360_003)  # text, drop-down, checkbox
_TAGS = ("billing", "refund", "login", "bug", "feature_request", "vip", "mobile", "shipping", "urgent", "api")
_SUBJECTS = ("Cannot log in", "Refund for order", "Invoice question", "App crashes on start", "Shipping delay",
             "Change my plan", "Password reset not arriving", "Feature request: export", "Wrong item received",
             "API returns 500")
_CHANNELS = ("web", "email", "api", "mobile")


def seed_account(store: Store, account_id: int, tickets: int, random_seed: int, now: float) -> dict[str, int]:
    """Add ``tickets`` synthetic tickets (and the users they need) to an account. Returns counts."""
    rng = random.Random(random_seed)
    first_user = rng.randrange(10_000, 90_000) * 1000
    users: list[dict[str, Any]] = [
        {"id": first_user + i, "name": f"Customer {i}", "email": f"customer{first_user + i}@example.net",
         "role": "end-user", "organization_id": rng.choice((None, *range(1, 21))), "created_at": int(now) - SPAN}
        for i in range(min(max(tickets // 10, 5), 5000))
    ]
    agents: list[dict[str, Any]] = [
        {"id": first_user - 1 - i, "name": f"Agent {i}", "email": f"agent{first_user + i}@example.com",
         "role": "agent", "created_at": int(now) - SPAN}
        for i in range(5)
    ]
    store.add_users(account_id, users + agents)
    since = int(now) - SPAN
    store.insert_records(account_id, "organizations", [
        {"id": i, "name": f"Organization {i}", "created_at": since, "updated_at": since} for i in range(1, 21)])
    store.insert_records(account_id, "groups", [
        {"id": i, "name": f"Group {i}", "created_at": since, "updated_at": since} for i in range(1, 6)])
    seed_reference(store, account_id, People([a["id"] for a in agents], [(u["id"], u.get("organization_id"))
                                                                         for u in users], range(1, 21), range(1, 6)),
                   random_seed, int(now))
    generator = _tickets(rng, tickets, int(now), [u["id"] for u in users], [a["id"] for a in agents])
    count = store.insert_tickets(account_id, generator)
    return {"tickets": count, "users": len(users) + len(agents)}


def _tickets(rng: random.Random, count: int, now: int, requesters: list[int], agents: list[int]
             ) -> Iterator[dict[str, Any]]:
    """A tenth of the tickets in bursts sharing one second (100-2000 each, smaller for tiny seeds), then singles."""
    in_bursts = count // 10
    while in_bursts > 0:
        size = min(in_bursts, rng.randint(min(100, in_bursts), 2000))
        moment = now - 120 - rng.randrange(SPAN)
        for _ in range(size):
            yield _ticket(rng, moment, now, requesters, agents)
        in_bursts -= size
        count -= size
    for _ in range(count):
        yield _ticket(rng, None, now, requesters, agents)


def _ticket(rng: random.Random, burst_at: int | None, now: int, requesters: list[int], agents: list[int]
            ) -> dict[str, Any]:
    created = burst_at if burst_at is not None else now - 120 - rng.randrange(SPAN)
    updated = burst_at if burst_at is not None else min(created + int(rng.expovariate(1 / (2 * DAY))), now - 120)
    status = rng.choice(STATUSES)
    assignee = None if status == "new" else rng.choice(agents)
    subject = rng.choice(_SUBJECTS)
    ticket: dict[str, Any] = {
        "external_id": rng.choice((None, f"ext-{rng.randrange(10**6)}")), "via": _via(rng),
        "created_at": created, "updated_at": updated, "type": rng.choice((None, *TYPES)),
        "subject": subject, "raw_subject": subject, "description": f"{subject}. Details follow.",
        "priority": rng.choice((None, *PRIORITIES)), "status": status, "recipient": None,
        "requester_id": rng.choice(requesters), "submitter_id": rng.choice(requesters), "assignee_id": assignee,
        "organization_id": None, "group_id": rng.choice((None, 1, 2, 3, 4, 5)) if assignee else None,
        "collaborator_ids": rng.sample(agents, rng.choice((0, 0, 0, 1, 2))),
        "tags": rng.sample(_TAGS, rng.randint(0, 3)), "custom_fields": _custom_fields(rng),
        "satisfaction_rating": _rating(rng, status), "custom_status_id": CUSTOM_STATUS_IDS[status],
        "ticket_form_id": DEFAULT_TICKET_FORM_ID, "brand_id": DEFAULT_BRAND_ID, "deleted_at": None,
        # Zendesk stamps generated_timestamp 0-3 s after updated_at even for plain creates (reference §3.1).
        "generated_timestamp": updated if burst_at is not None else min(updated + rng.choice((0, 1, 1, 2)), now - 61),
    }
    ticket["follower_ids"] = ticket["collaborator_ids"]
    ticket["audits"] = _audits(ticket)
    if rng.random() < 0.04:
        _delete(rng, ticket, now)
    return ticket


# -- audits true to the seeded history (no random draws: the tickets stay what they were) -----------------
_SYSTEM = {"client": None, "ip_address": None, "location": None, "latitude": None, "longitude": None}


def _audits(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The ticket's history as the Tickets API would have audited it: a Create audit (comment + fields) at
    creation; when updated later, it was created `new` and a Change audit at `updated_at` set its final status,
    assignee and group. The store numbers audits and events."""
    later = ticket["updated_at"] > ticket["created_at"]
    final = {k: ticket[k] for k in ("status", "custom_status_id", "assignee_id", "group_id")}
    initial = {"status": "new", "custom_status_id": CUSTOM_STATUS_IDS["new"], "assignee_id": None, "group_id": None}
    start = initial if later and final["status"] != "new" else final
    events = [comment_event(None, ticket["requester_id"], ticket["description"], True, None)]
    created = {**{k: ticket.get(k) for k in _CREATED}, **start}
    events += [field_event(None, name, created[name]) for name in _CREATED if created[name] not in (None, [])]
    audits = [_audit(ticket, ticket["created_at"], ticket["requester_id"], events)]
    if start is not final:
        changes = [field_event(None, k, v, start[k]) for k, v in final.items() if v != start[k]]
        audits.append(_audit(ticket, ticket["updated_at"], ticket["assignee_id"] or ticket["submitter_id"], changes))
    return audits


# Seeded tickets have no due date: the Create audit lists every set field of the Tickets API's list.
_CREATED = CREATE_EVENT_FIELDS + OPTIONAL_CREATE_FIELDS


def _audit(ticket: dict[str, Any], at: int, author: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": None, "ticket_id": None, "created_at": format_time(at), "author_id": author,
            "metadata": {"system": dict(_SYSTEM), "custom": {}}, "events": events, "via": ticket["via"],
            "created_at_epoch": at}


def _delete(rng: random.Random, ticket: dict[str, Any], now: int) -> None:
    deleted_at = min(ticket["updated_at"] + rng.randrange(DAY * 60), now - 61)
    bumped = max(deleted_at, ticket["generated_timestamp"])
    ticket.update(status="deleted", deleted_at=deleted_at, generated_timestamp=bumped)
    if now - deleted_at > SCRUB_AFTER:
        scrubbed = max(deleted_at + SCRUB_AFTER, ticket["generated_timestamp"])
        ticket.update(SCRUBBED,
                      generated_timestamp=min(scrubbed, now - 61))


def _via(rng: random.Random) -> dict[str, Any]:
    channel = rng.choice(_CHANNELS)
    if channel == "email":
        source = {"from": {"address": f"customer{rng.randrange(10**5)}@example.net", "name": "Customer"},
                  "to": {"address": "support@example.zendesk.com", "name": "Example Support"}, "rel": None}
    else:
        source = {"from": {}, "to": {}, "rel": None}
    return {"channel": channel, "source": source}


def _custom_fields(rng: random.Random) -> list[dict[str, Any]]:
    text_id, dropdown_id, checkbox_id = CUSTOM_FIELD_IDS
    return [
        {"id": text_id, "value": rng.choice((None, f"order-{rng.randrange(10**6)}"))},
        {"id": dropdown_id, "value": rng.choice((None, "tier_free", "tier_pro", "tier_enterprise"))},
        {"id": checkbox_id, "value": rng.random() < 0.3},
    ]


def _rating(rng: random.Random, status: str) -> dict[str, Any] | None:
    if status not in ("solved", "closed"):
        return rng.choice((None, {"score": "unoffered"}))
    score = rng.choice(("offered", "good", "bad", "unoffered"))
    if score in ("good", "bad"):
        return {"id": rng.randrange(10**9), "score": score, "comment": rng.choice((None, "Thanks!", "Too slow"))}
    return {"score": score}
