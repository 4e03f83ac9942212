"""The Ticket: its fields, their types, and its Zendesk JSON — shared by the server and the exporter.

The field table below is the one source of truth for the server's tickets: its stores derive their columns
from it, and it renders tickets in this key order (the order of a real 2024 incremental export). The exporter's
sinks declare their own versioned columns (every field here, plus what real Zendesk may send beyond it); a test
checks that they cover this table.

A rendered ticket is split in two so that a page of 1000 tickets is built by joining stored bytes:
``render_body`` gives the bytes between the ``url`` key and ``generated_timestamp`` (stored beside the row), and
``ticket_json`` adds the url (which depends on the host the client used) and, in exports, the timestamp.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

__all__ = [
    "STATUSES",
    "PRIORITIES",
    "TYPES",
    "TICKET_FIELDS",
    "Field",
    "format_time",
    "parse_time",
    "render_body",
    "render_values",
    "FIELD_DEFAULTS",
    "ticket_json",
    "ticket_url",
    "ticket_url_prefix",
]

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")


@dataclass(frozen=True)
class Field:
    """One ticket field. ``kind``: int, str, bool, time (epoch int stored, ISO rendered), date (ISO text) or
    json (lists and objects). ``writable`` fields can be set through the Tickets API."""

    name: str
    kind: str
    default: Any = None
    writable: bool = False


# Order = key order of a real incremental export ticket (url first, generated_timestamp last, both added by
# ticket_json; `fields` mirrors `custom_fields` and is not stored).
TICKET_FIELDS: tuple[Field, ...] = (
    Field("id", "int"),
    Field("external_id", "str", None, True),
    Field("via", "json"),
    Field("created_at", "time"),
    Field("updated_at", "time"),
    Field("type", "str", None, True),
    Field("subject", "str", None, True),
    Field("raw_subject", "str", None, True),
    Field("description", "str"),
    Field("priority", "str", None, True),
    Field("status", "str", "new", True),
    Field("recipient", "str", None, True),
    Field("requester_id", "int", None, True),
    Field("submitter_id", "int", None, True),
    Field("assignee_id", "int", None, True),
    Field("organization_id", "int", None, True),
    Field("group_id", "int", None, True),
    Field("collaborator_ids", "json", (), True),
    Field("follower_ids", "json", (), True),
    Field("email_cc_ids", "json", (), True),
    Field("forum_topic_id", "int"),
    Field("problem_id", "int", None, True),
    Field("has_incidents", "bool", False),
    Field("is_public", "bool", True),
    Field("due_at", "date", None, True),
    Field("tags", "json", (), True),
    Field("custom_fields", "json", (), True),
    Field("satisfaction_rating", "json"),
    Field("sharing_agreement_ids", "json", (), True),
    Field("custom_status_id", "int", None, True),
    Field("followup_ids", "json", ()),
    Field("ticket_form_id", "int", None, True),
    Field("brand_id", "int", None, True),
    Field("allow_channelback", "bool", False),
    Field("allow_attachments", "bool", True),
    Field("from_messaging_channel", "bool", False),
)

_RENDER_AFTER = "custom_status_id"  # `fields` is rendered right after this key, as Zendesk does
# Rendering runs for every ticket written (a seed renders millions): the values are read into a list in field
# order by one comprehension over (name, default) pairs made once, the few times formatted by position, and
# the dict orjson renders is zipped from the keys, `fields` inserted (a loop reading each Field's attributes,
# building the dict key by key, cost several times as much).
FIELD_DEFAULTS = tuple((f.name, f.default) for f in TICKET_FIELDS)
_SPLIT = next(i for i, f in enumerate(TICKET_FIELDS) if f.name == _RENDER_AFTER) + 1
_CUSTOM_FIELDS_AT = next(i for i, f in enumerate(TICKET_FIELDS) if f.name == "custom_fields")
_TIMES_AT = tuple(i for i, f in enumerate(TICKET_FIELDS) if f.kind == "time")
_BODY_KEYS = (*(f.name for f in TICKET_FIELDS[:_SPLIT]), "fields", *(f.name for f in TICKET_FIELDS[_SPLIT:]))


def format_time(epoch: int | None) -> str | None:
    """Epoch seconds → Zendesk's ISO-8601 form (`2023-09-18T15:57:42Z`)."""
    if epoch is None:
        return None
    if type(epoch) is not int:  # a float (or an int subclass) takes the general path
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    # Every rendered ticket and audit formats a few times: an hour's prefix cached plus a table lookup of
    # minutes and seconds costs a sixth of strftime.
    hour, rest = divmod(epoch, 3600)
    return _hour_prefix(hour) + _MINUTES_SECONDS[rest]


@lru_cache(maxsize=8192)
def _hour_prefix(hour: int) -> str:
    return time.strftime("%Y-%m-%dT%H:", time.gmtime(hour * 3600))


_MINUTES_SECONDS = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


def parse_time(text: str) -> int:
    """Zendesk's ISO-8601 form (also accepts a date alone or a `+00:00` offset) → epoch seconds."""
    text = text.strip().replace("+00:00", "Z")
    for pattern in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text, pattern))
        except ValueError:
            continue
    raise ValueError(f"not an ISO-8601 UTC time: {text!r}")


def render_body(ticket: dict[str, Any]) -> bytes:
    """The ticket's JSON members from `id` to `from_messaging_channel`, without braces: the stored part (tuples
    are written as JSON arrays)."""
    get = ticket.get
    return render_values([get(name, default) for name, default in FIELD_DEFAULTS])


def render_values(values: list[Any]) -> bytes:
    """``render_body`` of the ticket whose field values, in ``TICKET_FIELDS`` order, are ``values`` (each
    missing one its field's default); ``values`` is left as it was."""
    shown = values.copy()
    for at in _TIMES_AT:
        shown[at] = format_time(shown[at])
    shown.insert(_SPLIT, shown[_CUSTOM_FIELDS_AT])
    return orjson.dumps(dict(zip(_BODY_KEYS, shown, strict=True)))[1:-1]


def ticket_url(base_url: str, ticket_id: int) -> str:
    return f"{ticket_url_prefix(base_url)}{ticket_id}.json"


def ticket_url_prefix(base_url: str) -> str:
    """What every ticket URL on ``base_url`` starts with: the id and `.json` follow."""
    return f"{base_url}/api/v2/tickets/"


def ticket_json(base_url: str, ticket_id: int, body: bytes, generated_timestamp: int | None = None) -> bytes:
    """A complete ticket object: url + stored body (+ generated_timestamp, which only exports carry)."""
    head = b'{"url":"' + ticket_url(base_url, ticket_id).encode() + b'",'
    if generated_timestamp is None:
        return head + body + b"}"
    return head + body + b',"generated_timestamp":' + str(generated_timestamp).encode() + b"}"
