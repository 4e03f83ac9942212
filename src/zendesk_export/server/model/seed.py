"""Realistic synthetic tickets, reproducible from a seed.

Shape of the data, chosen to exercise what breaks exporters: requesters from a pool of end users (who joined
over the year before), agents and groups, every status/priority/type, tags and every custom field (a value of
each field's type, ``model.custom_fields``, and the tags drop-downs put on), creation spread over six months
with updates days later, ~4% deleted (some scrubbed after 30 days, as Zendesk does), and ~10% of tickets in
bursts of up to 2,000 sharing one ``generated_timestamp`` second (bulk imports and macros do this). Every
ticket is at least two minutes old, so it is visible to the export at once. Tickets are numbered in the order
they were created, as Zendesk numbers them, and audits and their events in the order they were made
(``seed_worker``).

The tickets hang together as a real account's do: each carries its requester's organization; an emailed one
names its recipient; incidents point at problems that know they have incidents; tasks have due dates; an agent
who takes a ticket up replies publicly; rated tickets have a rating of their own in the ratings list. Their
audits tell that history, so metrics replayed from them (``model.metrics``) agree with the tickets.
"""

from __future__ import annotations

import gc
import random
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from zendesk_export.server.model.audits import comment_event, field_event
from zendesk_export.server.model.custom_fields import field_tags, seed_values
from zendesk_export.server.model.reference import CUSTOM_FIELDS, People, seed_reference
from zendesk_export.server.model.scrub import SCRUB_AFTER, SCRUBBED
from zendesk_export.server.model.seed_worker import rendered_batches
from zendesk_export.server.model.tickets import (
    CREATE_EVENT_FIELDS,
    CUSTOM_STATUS_IDS,
    DEFAULT_BRAND_ID,
    DEFAULT_TICKET_FORM_ID,
    OPTIONAL_CREATE_FIELDS,
)
from zendesk_export.server.store import Store
from zendesk_export.server.store.sql import RenderedAudit
from zendesk_export.tickets import PRIORITIES, STATUSES, TYPES, format_time

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

__all__ = ["seed_account", "CUSTOM_FIELD_IDS", "SeedRandom"]

DAY = 86_400
SPAN = 180 * DAY
YEAR = 365 * DAY
BURST_MAX = 2000  # tickets sharing one generated_timestamp second
CUSTOM_FIELD_IDS = (360_001, 360_002, 360_003)  # text, drop-down, checkbox
# Ratings records written during the load, this many at a time (a sixth of the tickets are rated): while the
# writing process waits for the drawing one, not all after it (a million tickets' took ~2 s at the end); not
# with every batch, as PostgreSQL analyzes the table after each insert.
_RATINGS_EVERY = 20_000
_TAGS = ("billing", "refund", "login", "bug", "feature_request", "vip", "mobile", "shipping", "urgent", "api")
_SUBJECTS = ("Cannot log in", "Refund for order", "Invoice question", "App crashes on start", "Shipping delay",
             "Change my plan", "Password reset not arriving", "Feature request: export", "Wrong item received",
             "API returns 500")
_DESCRIPTIONS = {subject: f"{subject}. Details follow." for subject in _SUBJECTS}
_CHANNELS = ("web", "email", "api", "mobile")
_TYPES = (None, *TYPES)
_PRIORITIES = (None, *PRIORITIES)
T = TypeVar("T")


def seed_account(store: Store, account_id: int, tickets: int, random_seed: int, now: float,
                 progress: Callable[[int], object] = lambda done: None, *, alone: bool = False) -> dict[str, int]:
    """Add ``tickets`` synthetic tickets (and the users they need) to an account; ``progress`` hears the count
    written after every batch; ``alone``: nothing else uses the store meanwhile (``Store.ticket_loader``).
    Returns counts."""
    rng = SeedRandom(random_seed)
    first_user = rng.randrange(10_000, 90_000) * 1000
    # People joined over the year before the tickets' six months, each on a day of their own.
    users: list[dict[str, Any]] = [
        {"id": first_user + i, "name": f"Customer {i}", "email": f"customer{first_user + i}@example.net",
         "role": "end-user", "organization_id": rng.choice((None, *range(1, 21))),
         "created_at": int(now) - SPAN - rng.randrange(YEAR)}
        for i in range(min(max(tickets // 10, 5), 5000))
    ]
    agents: list[dict[str, Any]] = [
        {"id": first_user - 1 - i, "name": f"Agent {i}", "email": f"agent{first_user + i}@example.com",
         "role": "agent", "created_at": int(now) - SPAN - rng.randrange(YEAR)}
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
    draw = _Draw(rng, int(now), [(u["id"], u["organization_id"]) for u in users], [a["id"] for a in agents],
                 next_rating=rng.randrange(10**6, 10**7) * 1000)
    count, added, rated = 0, 0, list[dict[str, Any]]()
    with _no_cycle_collection(), store.ticket_loader(account_id, alone=alone) as loader:
        for rows, audits, ratings in rendered_batches(partial(_tickets, draw, tickets), tickets, account_id,
                                                      loader.reserve, loader.flag):
            loader.insert(rows, audits)
            count += len(rows)
            rated += ratings
            if len(rated) >= _RATINGS_EVERY:
                added += store.insert_records(account_id, "satisfaction_ratings", rated)
                rated = []
            progress(count)
    added += store.insert_records(account_id, "satisfaction_ratings", rated)
    return {"tickets": count, "users": len(users) + len(agents), "satisfaction_ratings": added}


class SeedRandom(random.Random):
    """``random.Random`` with the same numbers, drawn with fewer Python calls: a seed makes a few dozen draws
    per ticket, and ``choice``, ``randrange``, ``randint`` and ``sample`` each went through two or more frames
    (argument checks, ``_randbelow``) around one ``getrandbits``. Each method below is ``Random``'s own
    algorithm for the arguments seeding passes (sequences, positive ints, a range with step 1), written out
    in one frame, so every seed draws exactly the numbers it drew before (tests/server/test_seed.py compares
    them); anything else takes ``Random``'s path."""

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        n = len(seq)
        if not n:
            return super().choice(seq)
        getrandbits, k = self.getrandbits, n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if step != 1 or type(start) is not int or (stop is not None and type(stop) is not int):
            return super().randrange(start, stop, step)
        low, n = (0, start) if stop is None else (start, stop - start)
        if n <= 0:
            return super().randrange(start, stop, step)
        getrandbits, k = self.getrandbits, n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return low + r

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)

    def sample(self, population: Sequence[T], k: int, *, counts: Iterable[int] | None = None) -> list[T]:
        """``Random.sample``'s pool path (a population of up to 21, at most 5 drawn: tags, collaborators)."""
        n = len(population)
        if counts is not None or type(population) not in (list, tuple) or not 0 <= k <= 5 or n > 21 or k > n:
            return super().sample(population, k, counts=counts)
        getrandbits, pool, result = self.getrandbits, list(population), []
        for i in range(k):
            left = n - i
            bits = left.bit_length()
            j = getrandbits(bits)
            while j >= left:
                j = getrandbits(bits)
            result.append(pool[j])
            pool[j] = pool[left - 1]  # the last of the pool takes the place of the one drawn
        return result


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Seeding makes millions of dicts and lists, none of them in a reference cycle: the cycle collector,
    triggered by their number, walks the live ones again and again and frees nothing (a fifth of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Draw:
    """What ticket generation draws from: the random source, the people, and what earlier tickets left behind
    (problems incidents may point at, the next rating id)."""

    rng: random.Random
    now: int
    requesters: list[tuple[int, int | None]]  # (user id, organization id)
    agents: list[int]
    index: int = 0  # the position of the next ticket in this seeding
    problems: list[int] = field(default_factory=list)  # positions of problem tickets that have incidents
    next_rating: int = 0


def _tickets(draw: _Draw, count: int) -> Iterator[dict[str, Any]]:
    """The tickets in the order they were created, as Zendesk numbers them: their ids grow with time. When
    each was created is drawn first (``_creation_times``), then the tickets, one by one."""
    for entry in _creation_times(draw.rng, draw.now, count):
        created, in_burst = divmod(entry, 2)
        yield _ticket(draw, created, bool(in_burst))


def _creation_times(rng: random.Random, now: int, count: int) -> Iterator[int]:
    """When each of ``count`` tickets was created, in order, as ``2 * time + 1`` for a ticket of a burst and
    ``2 * time`` for one of its own: a tenth of the tickets in bursts sharing one second, the others spread
    over ``SPAN``. The first burst drawn is the largest a seed makes (2000, or the whole tenth of a smaller
    seed), so that every seeded account holds the hardest case whatever the random seed; the others have
    100-2000 tickets. The times wait in an array per day of ``SPAN`` (eight bytes a ticket), and each day is
    sorted when its turn comes, so no list ever holds more than a day of them."""
    latest = now - 120  # every ticket is at least two minutes old; the earliest is ``SPAN - 1`` seconds before
    days = [array("q") for _ in range(SPAN // DAY)]

    def created(in_burst: bool) -> tuple[int, int]:
        ago = rng.randrange(SPAN)
        return (SPAN - 1 - ago) // DAY, 2 * (latest - ago) + in_burst

    in_bursts = count // 10
    size = min(in_bursts, BURST_MAX)
    while in_bursts > 0:
        day, entry = created(True)
        days[day].extend([entry] * size)
        in_bursts -= size
        count -= size
        size = min(in_bursts, rng.randint(min(100, in_bursts), BURST_MAX)) if in_bursts else 0
    for _ in range(count):
        day, entry = created(False)
        days[day].append(entry)
    for day in range(len(days)):
        entries, days[day] = days[day], array("q")
        yield from sorted(entries)


def _ticket(draw: _Draw, created: int, in_burst: bool) -> dict[str, Any]:
    rng, now, agents = draw.rng, draw.now, draw.agents
    updated = created if in_burst else min(created + int(rng.expovariate(1 / (2 * DAY))), now - 120)
    status = rng.choice(STATUSES)
    assignee = None if status == "new" else rng.choice(agents)
    subject = rng.choice(_SUBJECTS)
    requester, organization = rng.choice(draw.requesters)
    via = _via(rng)
    ticket: dict[str, Any] = {
        "external_id": rng.choice((None, f"ext-{rng.randrange(10**6)}")), "via": via,
        "created_at": created, "updated_at": updated, "type": rng.choice(_TYPES),
        "subject": subject, "raw_subject": subject, "description": _DESCRIPTIONS[subject],
        "priority": rng.choice(_PRIORITIES), "status": status,
        "recipient": via["source"]["to"].get("address"),
        "requester_id": requester, "submitter_id": requester, "assignee_id": assignee,
        "organization_id": organization, "group_id": rng.choice((None, 1, 2, 3, 4, 5)) if assignee else None,
        "collaborator_ids": _sample(rng, agents, rng.choice((0, 0, 0, 1, 2))),
        "tags": _sample(rng, _TAGS, rng.randint(0, 3)), "custom_fields": _custom_fields(rng),
        "satisfaction_rating": _rating(draw, status), "custom_status_id": CUSTOM_STATUS_IDS[status],
        "ticket_form_id": DEFAULT_TICKET_FORM_ID, "brand_id": DEFAULT_BRAND_ID, "deleted_at": None,
        # Zendesk stamps generated_timestamp 0-3 s after updated_at even for plain creates (reference §3.1).
        "generated_timestamp": updated if in_burst else min(updated + rng.choice((0, 1, 1, 2)), now - 61),
    }
    ticket["follower_ids"] = ticket["collaborator_ids"]
    ticket["tags"] = _tagged(ticket["tags"], ticket["custom_fields"])
    _link_and_schedule(draw, ticket)
    ticket["audits"] = _audits(ticket)
    if rng.random() < 0.04:
        _delete(rng, ticket, now)
    draw.index += 1
    return ticket


def _sample(rng: random.Random, population: Sequence[Any], count: int) -> list[Any]:
    """``rng.sample``, skipped when nothing is drawn: a sample of none takes no random numbers, and most
    tickets have no collaborators."""
    return rng.sample(population, count) if count else []


def _link_and_schedule(draw: _Draw, ticket: dict[str, Any]) -> None:
    """Problems and incidents, due dates: a third of the problems get incidents (``problem_ref`` is the position
    of the problem in this seeding: the store turns it into the problem's id); an incident points at a recent
    one of them; a task is due one to fourteen days after it was opened."""
    rng = draw.rng
    if ticket["type"] == "problem" and rng.random() < 1 / 3:
        ticket["has_incidents"] = True
        draw.problems = [*draw.problems[-19:], draw.index]
    elif ticket["type"] == "incident" and draw.problems and rng.random() < 0.5:
        ticket["problem_ref"] = rng.choice(draw.problems)
    elif ticket["type"] == "task":
        ticket["due_at"] = format_time(ticket["created_at"] + rng.randint(1, 14) * DAY)


# -- audits true to the seeded history (no random draws: the tickets stay what they were) -----------------
# Seeded audits are rendered here, before they are numbered (``sql.RenderedAudit``): a seed makes a dozen events a
# ticket, nearly all of a few thousand distinct ones (statuses, people, subjects), each rendered once.
_SYSTEM = {"client": None, "ip_address": None, "location": None, "latitude": None, "longitude": None}


def _audits(ticket: dict[str, Any]) -> list[RenderedAudit]:
    """The ticket's history as the Tickets API would have audited it: a Create audit (comment + fields) at
    creation; when updated later, it was created `new` and a Change audit at `updated_at` set its final status,
    assignee and group, with the assignee's public reply. The store numbers audits and events."""
    changed = ticket["updated_at"] > ticket["created_at"] and ticket["status"] != "new"
    get, initial = ticket.get, _INITIAL if changed else _NO_CHANGE
    via = _template(orjson.dumps(ticket["via"]))
    events = [_comment(ticket["requester_id"], ticket["description"])]
    events += [_cached_field_event(name, value) for name in _CREATED_ONE_OF_FEW
               if (value := initial[name] if name in initial else get(name)) is not None]
    if ticket["tags"]:
        events.append(_field_event("tags", ticket["tags"]))
    if (due_at := get("due_at")) is not None:
        events.append(_field_event("due_at", due_at))
    audits = [_audit(ticket["created_at"], ticket["requester_id"], events, True, via)]
    if changed:
        changes = [_cached_field_event(name, ticket[name], start) for name, start in _INITIAL.items()
                   if ticket[name] != start]
        if ticket["assignee_id"]:
            reply = f"Thanks for writing about this: {ticket['subject'].lower()}."
            changes.insert(0, _comment(ticket["assignee_id"], reply))
        audits.append(_audit(ticket["updated_at"], ticket["assignee_id"] or ticket["submitter_id"], changes,
                             bool(ticket["assignee_id"]), via))
    return audits


# The Create audit lists every set field of the Tickets API's list: these, each with one of a few values, then
# the tags and a task's due date.
_CREATED_ONE_OF_FEW = CREATE_EVENT_FIELDS + tuple(name for name in OPTIONAL_CREATE_FIELDS
                                                  if name not in ("tags", "due_at"))
# What a ticket updated later was created with; the Change audit moves these to the ticket's final values.
_INITIAL = {"status": "new", "custom_status_id": CUSTOM_STATUS_IDS["new"], "assignee_id": None, "group_id": None}
_NO_CHANGE: dict[str, Any] = {}  # a ticket never updated was created as it is


def _audit(at: int, author: int, events: list[str], comment_first: bool, via: str) -> RenderedAudit:
    # a time in Zendesk's form needs no escaping in JSON; the author is an id
    text = (f'{{"id":%d,"ticket_id":%d,"created_at":"{format_time(at)}","author_id":{author},'
            f'"metadata":{_METADATA},"events":[{",".join(events)}],"via":{via}}}')
    return RenderedAudit(at, author, len(events), comment_first, text)


def _template(rendered: bytes) -> str:
    """Rendered JSON as a part of a ``RenderedAudit``: any ``%`` doubled."""
    return rendered.decode().replace("%", "%%")


_METADATA = _template(orjson.dumps({"system": _SYSTEM, "custom": {}}))


def _field_event(name: str, value: Any, *previous: Any) -> str:
    """``field_event`` rendered, its id to be numbered."""
    return _unnumbered(field_event(None, name, value, *previous))


# The same, for the values of few kinds (statuses, people, subjects): the same events over and over.
_cached_field_event = lru_cache(maxsize=16_384, typed=True)(_field_event)


def _unnumbered(event: dict[str, Any]) -> str:
    """An event (its id None) rendered, with ``%d`` for its id."""
    return '{"id":%d' + _template(orjson.dumps(event))[_NULL_ID:]


_NULL_ID = len('{"id":null')


def _comment(author: int, body: str) -> str:
    """``comment_event`` rendered, its id and audit id to be numbered."""
    before, after = _comment_parts(body)
    return f"{before}{author}{after}"


@lru_cache(maxsize=256)  # a few dozen distinct bodies
def _comment_parts(body: str) -> tuple[str, str]:
    """A comment event's JSON before and after its author's id."""
    rendered = _unnumbered(comment_event(None, 0, body, True, None))
    before, after = rendered.split('"author_id":0,', 1)
    return f'{before}"author_id":', "," + after.removesuffix("null}") + "%d}"


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
    if channel != "email":
        return _NOT_EMAILED[channel]
    source = {"from": {"address": f"customer{rng.randrange(10**5)}@example.net", "name": "Customer"},
              "to": _SUPPORT_ADDRESS, "rel": None}
    return {"channel": channel, "source": source}


# What every ticket of a channel shares (seeded tickets are rendered, never changed in place): fewer objects to
# make, send and free.
_NOT_EMAILED = {channel: {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}
                for channel in _CHANNELS if channel != "email"}
_SUPPORT_ADDRESS = {"address": "support@example.zendesk.com", "name": "Example Support"}


# The account's custom ticket fields (``model.reference``), as the values of seeded tickets are typed by them.
_FIELDS = {i: {"id": i, "type": kind, "title": title, **extra} for i, kind, title, extra in CUSTOM_FIELDS}


# Every custom field of the account, as Zendesk lists them on a ticket, each with a value of its type.
_custom_fields = seed_values(_FIELDS.values())
# The fields whose values put tags on a ticket; the others' values leave its tags as they are.
_TAGGING = frozenset(i for i, field in _FIELDS.items() if field["type"] in ("tagger", "multiselect", "checkbox"))


def _tagged(tags: list[str], values: list[dict[str, Any]]) -> list[str]:
    """``retag`` of a new ticket (no earlier values, so no tag goes): its drawn tags, then those its drop-down,
    multi-select and checkbox values put on, each once."""
    added = [tag for value in values if value["id"] in _TAGGING
             for tag in field_tags(_FIELDS[value["id"]], value["value"])]
    return tags + [tag for tag in dict.fromkeys(added) if tag not in tags] if added else list(tags)




def _rating(draw: _Draw, status: str) -> dict[str, Any] | None:
    """Solved tickets are offered a survey; a given rating has an id of its own (the ratings list shows it)."""
    rng = draw.rng
    if status not in ("solved", "closed"):
        return rng.choice(_UNSOLVED_RATINGS)
    score = rng.choice(("offered", "good", "bad", "unoffered"))
    if score in ("good", "bad"):
        draw.next_rating += 1
        return {"id": draw.next_rating, "score": score, "comment": rng.choice((None, "Thanks!", "Too slow"))}
    return _UNRATED[score]


# A rating not given is the same for every ticket that has it: one object each, shared, as the via of a channel.
_UNRATED = {score: {"score": score} for score in ("offered", "unoffered")}
_UNSOLVED_RATINGS = (None, _UNRATED["unoffered"])
