"""The upsert rule every sink applies, in one place, so all of them count and keep exactly the same rows.

A version of an object replaces the stored one when its version number (a ticket's ``generated_timestamp``)
is greater, or equal with different content: two changes within one second share a ``generated_timestamp``,
and the one delivered later is the newer. An equal version with identical content, or an older one, is
ignored, so re-delivered and out-of-order pages never move a ticket backwards and never double it.

Each ticket of a page falls in exactly one bucket of ``WriteResult`` (so the four counts add up to the page
size), judged against the stored version *and* any earlier copy of the same id in the same page:
``new`` (first seen, not deleted), ``deleted`` (written with status ``deleted`` where the stored version was
not, including a first-seen deleted ticket), ``updated`` (any other replacement), ``unchanged`` (ignored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from .base import WriteResult

__all__ = [
    "Plan",
    "Stored",
    "compact_json",
    "NOTHING_PREPARED",
    "Prepared",
    "content_digest",
    "key_function",
    "oldest_version",
    "plan_writes",
    "sideload_key",
    "ticket_key",
]

#: (id, version, deleted) of an object.
Key = tuple[int, int, bool]


class Stored(NamedTuple):
    """What a sink must know about the stored version of an object to apply the rule."""

    version: int
    deleted: bool
    digest: int


@dataclass
class Plan:
    """The versions to write (the last winner per id, with its serialised bytes) and how the page counts."""

    writes: dict[int, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    stored: dict[int, Stored] = field(default_factory=dict)
    result: WriteResult = field(default_factory=WriteResult)


def content_digest(raw: bytes) -> int:
    """A 64-bit digest of an object's serialised bytes: enough to tell two same-second versions apart."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def oldest_version(tickets: Iterable[Mapping[str, Any]]) -> int:
    """The page's oldest ``generated_timestamp`` (0 without one). A stored version older than that meets no
    comparison of :func:`plan_writes`, so a sink need not hash (nor read) its stored JSON."""
    return min((v for t in tickets if type(v := t.get("generated_timestamp")) is int), default=0)


def ticket_key(ticket: Mapping[str, Any]) -> Key:
    """A ticket's id, ``generated_timestamp`` and whether it is deleted; both numbers are required."""
    ticket_id, version = ticket.get("id"), ticket.get("generated_timestamp")
    if not isinstance(ticket_id, int) or not isinstance(version, int):
        raise ValueError(f"ticket without an integer id and generated_timestamp: id={ticket_id!r}")
    return ticket_id, version, ticket.get("status") == "deleted"


def sideload_key(obj: Mapping[str, Any]) -> Key:
    """A sideloaded user/group/organization: its id and ``updated_at`` as epoch seconds (0 when absent)."""
    obj_id = obj.get("id")
    if not isinstance(obj_id, int):
        raise ValueError(f"sideloaded object without an integer id: id={obj_id!r}")
    return obj_id, _epoch(obj.get("updated_at")), False


def key_function(name: str) -> Callable[[Mapping[str, Any]], Key]:
    """The key of the objects of table ``name``: ``ticket_key`` for tickets, ``sideload_key`` for the rest."""
    return ticket_key if name == "tickets" else sideload_key


def _epoch(text: Any) -> int:
    if not isinstance(text, str):
        return 0
    try:
        return int(datetime.fromisoformat(text).timestamp())
    except ValueError:
        return 0


def compact_json(value: Any) -> bytes:
    """``orjson.dumps(value)`` in bytes of its own length: orjson hands back its whole working buffer (at least
    4 KB; ~16 KB for a ticket of ~1.2 KB), so the 1000 serialised versions a page keeps until written would hold
    ~16 MB, and the dozen small child rows a ticket derives ~50 MB a page with the analyst tables."""
    return bytes(memoryview(orjson.dumps(value)))


class Prepared:
    """What a sink made of a page's tickets before writing it (``base.PreparingSink``): by ticket id, the ticket
    object, its bytes (``compact_json``) and what ``make(ticket, bytes)`` returned. ``maker`` names the settings
    it was made with, so that a write can tell a preparation made before they changed. Asked about another
    object than the one it prepared (another version of the same id), it gives what that object's own bytes
    give. No digests: the rule needs few of them (``plan_writes``)."""

    def __init__(self, maker: object, tickets: Iterable[dict[str, Any]], *,
                 make: Callable[[dict[str, Any], bytes], Any] | None = None) -> None:
        self.maker = maker
        self.made: dict[Any, tuple[dict[str, Any], bytes, Any]] = {}
        self.page: Any = None  # what the sink made of the page as a whole, if anything
        for ticket in tickets:
            raw = compact_json(ticket)
            self.made[ticket.get("id")] = (ticket, raw, None if make is None else make(ticket, raw))

    @classmethod
    def current(cls, prepared: Any, maker: object) -> Prepared:
        """``prepared`` when it was made with ``maker``, else an empty preparation (everything made anew)."""
        return prepared if isinstance(prepared, Prepared) and prepared.maker is maker else cls(maker, ())

    def serialise(self, obj: dict[str, Any]) -> bytes:
        """``compact_json(obj)``."""
        made = self.made.get(obj.get("id"))
        return made[1] if made is not None and made[0] is obj else compact_json(obj)

    def value(self, obj: dict[str, Any], raw: bytes) -> Any:
        """What ``make`` returned for ``obj`` serialised as ``raw`` (the same objects), else None."""
        made = self.made.get(obj.get("id"))
        return made[2] if made is not None and made[0] is obj and made[1] is raw else None


#: No preparation: every object is serialised when it is planned.
NOTHING_PREPARED = Prepared(None, ())


def _bucket(old: Stored | None, new: Stored) -> str:
    if old is None:
        return "deleted" if new.deleted else "new"
    if new.version < old.version or (new.version == old.version and new.digest == old.digest):
        return "unchanged"
    return "deleted" if new.deleted and not old.deleted else "updated"


def plan_writes(
    objects: Iterable[dict[str, Any]],
    stored: Mapping[int, Stored],
    key: Callable[[Mapping[str, Any]], Key] = ticket_key,
    *,
    prepared: Prepared = NOTHING_PREPARED,
) -> Plan:
    """Apply the rule to a page's objects against ``stored`` (the stored versions of the page's ids).

    ``plan.stored`` is what the sink remembers for each written id afterwards. A digest is computed only where
    the rule compares two versions of equal number (most versions are never compared), and ``plan.stored``
    holds 0, unknown, for the others; ``stored`` must hold the real digest of every stored version such a
    comparison meets (the SQL sinks hash the stored JSON, the file outputs read the stored bytes back). The
    objects' bytes come from ``prepared`` when it holds them.
    """
    plan = Plan()
    for obj in objects:
        obj_id, version, deleted = key(obj)
        raw = prepared.serialise(obj)
        old = plan.stored.get(obj_id)
        if old is not None and old.version == version and not old.digest:
            old = old._replace(digest=content_digest(plan.writes[obj_id][1]))
        old = old or stored.get(obj_id)
        same = old is not None and old.version == version
        new = Stored(version, deleted, content_digest(raw) if same else 0)
        bucket = _bucket(old, new)
        setattr(plan.result, bucket, getattr(plan.result, bucket) + 1)
        if bucket != "unchanged":
            plan.writes[obj_id] = (obj, raw)
            plan.stored[obj_id] = new
    return plan
