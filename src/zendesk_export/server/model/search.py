"""The search query language, the subset connectors send (DIFFERENCES.md lists it): a query becomes, per object
type, a list of column conditions the store can run.

Terms are separated by spaces; `"quoted phrases"` stay whole. A term is `keyword:value` or `keyword<op>value`
(`<`, `>`, `<=`, `>=`), or free text:

* `type:ticket|user|organization` (also `type:"ticket"`) picks the object type;
* `created`/`created_at`, `updated`/`updated_at` with a date (`2024-01-31`, day granularity as Zendesk reads it),
  a UTC time (`2024-01-31T10:00:00Z`, to the second) or a relative value (`4hours`, `2days`: that long ago;
  minutes, hours, days, weeks, months, years);
* tickets: `status` (with `<`/`>` in the status order new < open < pending < hold < solved < closed), `priority`,
  `ticket_type`, `tags`/`tag`, `organization`/`organization_id`, `group`/`group_id`, `assignee`/`assignee_id`,
  `requester`/`requester_id` (ids);
* users: `role`, `email`, `organization`/`organization_id`, `tags`; organizations: `name`, `tags`;
* free text matches, case-insensitively, the subject of a ticket, the name of a user or organization (every
  word must match). Negated terms (`-tags:x`) are not supported: such a term is free text and matches nothing.

Deleted tickets and deleted organizations are never found. A keyword that means nothing for the type makes the
query match nothing of that type (Zendesk does not find a user by `status:open` either).
"""

from __future__ import annotations

import calendar
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from zendesk_export.server.errors import InvalidParameter
from zendesk_export.server.model.ids import MAX_ID, ascii_digits
from zendesk_export.tickets import PRIORITIES, STATUSES, TYPES

__all__ = ["TYPES_SEARCHED", "TABLES", "Plan", "plan", "conditions_of"]

TYPES_SEARCHED = ("ticket", "user", "organization")
TABLES = {"ticket": "tickets", "user": "users", "organization": "organizations"}
_TERM = re.compile(r"^(-?)([a-z_]+)(<=|>=|:|<|>)(.*)$")
_RELATIVE = re.compile(r"^(\d+)(minute|hour|day|week|month|year)s?$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400,
            "year": 365 * 86_400}
_DAY = 86_400
_TIME_COLUMNS = {"created": "created_at", "created_at": "created_at", "updated": "updated_at",
                 "updated_at": "updated_at"}
_TICKET_IDS = {"organization": "organization_id", "organization_id": "organization_id", "group": "group_id",
               "group_id": "group_id", "assignee": "assignee_id", "assignee_id": "assignee_id",
               "requester": "requester_id", "requester_id": "requester_id"}
_TEXT_COLUMNS = {"ticket": "subject", "user": "name", "organization": "name"}

Condition = tuple[str, str, Any]


@dataclass
class Plan:
    """What a query asks: the types it may return and, per type, conditions on that type's table (None: the
    query can match nothing of that type)."""

    types: tuple[str, ...]
    conditions: dict[str, list[Condition] | None] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)  # free-text words: any text column contains each


def plan(query: str, now: int) -> Plan:
    """Parse a query; 400 InvalidValue when it cannot be read (an unbalanced quote, a bad date)."""
    try:
        if "\x00" in query:  # no stored text holds NUL (and PostgreSQL refuses it in a parameter)
            raise ValueError(query)
        terms = shlex.split(query)
    except ValueError:
        raise InvalidParameter(f"Invalid search query: {query[:100]!r}") from None
    wanted = [t for t in terms if t.lower().startswith("type:")]
    types = tuple(dict.fromkeys(_type(t.split(":", 1)[1]) for t in wanted)) or TYPES_SEARCHED
    result = Plan(types, {t: [] for t in types})
    for term in terms:
        if term.lower().startswith("type:"):
            continue
        match = _TERM.match(term.lower())
        if match is None or match.group(1):
            result.text.append(term.lower())
            continue
        _, keyword, op, value = match.groups()
        for kind in types:
            _add(result, kind, keyword, op, value.strip('"'), now)
    return result


def _type(value: str) -> str:
    value = value.strip('"').lower()
    if value not in TYPES_SEARCHED:
        raise InvalidParameter(f"Unsupported search type: {value[:40]!r}")
    return value


def _add(result: Plan, kind: str, keyword: str, op: str, value: str, now: int) -> None:
    conditions = result.conditions[kind]
    if conditions is None:
        return
    found = _conditions(kind, keyword, op, value, now)
    if found is None:
        result.conditions[kind] = None
    else:
        conditions += found


def _conditions(kind: str, keyword: str, op: str, value: str, now: int) -> list[Condition] | None:
    if keyword in _TIME_COLUMNS:
        return _time_conditions(_TIME_COLUMNS[keyword], op, value, now)
    if keyword in ("tags", "tag") and op == ":":
        column = "tags" if kind == "ticket" else "data"
        return [(column, "contains", f'"{value}"')]
    if kind == "ticket":
        return _ticket_conditions(keyword, op, value)
    if kind == "user" and op == ":" and keyword in ("role", "email"):
        return [(keyword, "=", value)]
    if op == ":" and keyword in ("organization", "organization_id") and kind == "user" and ascii_digits(value):
        return [("organization_id", "=", int(value))] if int(value) <= MAX_ID else None
    if kind == "organization" and op == ":" and keyword == "name":
        return [("name", "contains", value)]
    return None


def _ticket_conditions(keyword: str, op: str, value: str) -> list[Condition] | None:
    if keyword == "status" and value in STATUSES:
        return _status_conditions(op, value)
    if op != ":":
        return None
    if keyword == "priority" and value in PRIORITIES:
        return [("priority", "=", value)]
    if keyword == "ticket_type" and value in TYPES:
        return [("type", "=", value)]
    if keyword in _TICKET_IDS and ascii_digits(value):
        return [(_TICKET_IDS[keyword], "=", int(value))] if int(value) <= MAX_ID else None
    if keyword in _TICKET_IDS and value == "none":
        return [(_TICKET_IDS[keyword], "is null", None)]
    return None


def _status_conditions(op: str, value: str) -> list[Condition]:
    if op == ":":
        return [("status", "=", value)]
    rank = STATUSES.index(value)
    keep = {"<": STATUSES[:rank], "<=": STATUSES[: rank + 1], ">": STATUSES[rank + 1 :], ">=": STATUSES[rank:]}[op]
    return [("status", "!=", s) for s in STATUSES if s not in keep]


def _time_conditions(column: str, op: str, value: str, now: int) -> list[Condition]:
    relative = _RELATIVE.match(value)
    if relative:  # `updated>2hours`: changed less than two hours ago (never before the epoch)
        moment = max(0, now - min(int(relative.group(1)), 10**6) * _SECONDS[relative.group(2)])
        return [(column, {":": ">=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op], moment)]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = _epoch(value, "%Y-%m-%d")
        bounds = {":": [(">=", day), ("<", day + _DAY)], ">": [(">=", day + _DAY)], ">=": [(">=", day)],
                  "<": [("<", day)], "<=": [("<", day + _DAY)]}[op]
        return [(column, o, v) for o, v in bounds]
    moment = _epoch(value.upper().replace("+00:00", "Z"), "%Y-%m-%dT%H:%M:%SZ")
    return [(column, "=" if op == ":" else op, moment)]


def _epoch(text: str, pattern: str) -> int:
    try:
        return calendar.timegm(time.strptime(text, pattern))
    except ValueError:
        raise InvalidParameter(f"Invalid date in search query: {text[:40]!r}") from None


def conditions_of(found: Plan, kind: str) -> list[Condition] | None:
    """Every condition a result of ``kind`` must meet (None: nothing of that kind can match); each free-text
    word must be in the type's text column."""
    conditions = found.conditions.get(kind)
    if conditions is None:
        return None
    return conditions + [(_TEXT_COLUMNS[kind], "contains", word) for word in found.text]
