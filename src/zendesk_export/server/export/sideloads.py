"""Sideloads on the ticket exports: `include=users,groups,organizations,…` (reference §1.1 include row, §2.3).

Each sideload is computed for a whole page at once — the page's referenced ids are gathered, then one store query
per sideload — never one query per ticket. Most sideloads are top-level arrays beside `tickets`; `comment_count`
and `dates` add a property to each ticket instead. `last_audits` is refused (Zendesk: "for performance reasons,
last_audits sideloads aren't supported"); any other unknown name is ignored, as Zendesk appears to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from zendesk_export.server.errors import InvalidParameter
from zendesk_export.server.export.feeds import ExportQuery
from zendesk_export.server.export.ticket_data import metric_sets
from zendesk_export.server.model.users import render_group, render_organization, render_user
from zendesk_export.server.store import ExportRow, record_from_values
from zendesk_export.tickets import STATUSES, format_time

__all__ = ["TICKET_SIDELOADS", "REFUSED", "Sideloads", "parse_include", "ticket_sideloads", "wanted_columns"]

REFUSED = frozenset({"last_audits"})
_ARRAYS = ("users", "groups", "organizations", "brands", "ticket_forms", "custom_statuses", "sharing_agreements",
           "metric_sets")
_PROPERTIES = ("comment_count", "dates")
TICKET_SIDELOADS = frozenset(_ARRAYS + _PROPERTIES)
_USER_REFS = ("requester_id", "submitter_id", "assignee_id")
_USER_LISTS = ("collaborator_ids", "follower_ids", "email_cc_ids")  # stored as JSON text
_WHOLE_TICKETS = frozenset(("metric_sets", "metric_set", "dates"))  # the sideloads that replay whole tickets
# The tickets columns each sideload reads its ids from (the others need none, or whole tickets)
_COLUMNS = {"users": _USER_REFS + _USER_LISTS, "groups": ("group_id",), "organizations": ("organization_id",),
            "brands": ("brand_id",), "ticket_forms": ("ticket_form_id",), "custom_statuses": ("custom_status_id",)}
_EXTRA = attrgetter("extra")
_ALL_COLUMNS = tuple(dict.fromkeys(column for columns in _COLUMNS.values() for column in columns))


@dataclass(frozen=True)
class _PageTickets:
    """A page's tickets as its sideloads read them: their ids, each column that names what they refer to (its
    value on every ticket; id lists as their JSON text), and the whole tickets when a sideload replays them."""

    ids: list[int]
    columns: Mapping[str, Sequence[Any]]
    whole: list[dict[str, Any]]

    def referred(self, *names: str) -> list[int]:
        """The ids the page's tickets hold in the columns ``names``, each once, ascending."""
        found: set[int | None] = set()
        for name in names:
            values = self.columns.get(name, ())
            if name in _USER_LISTS:  # most lists are empty, and many tickets hold the same one: parse each once
                for text in set(values).difference(("[]", "", None)):
                    found.update(orjson.loads(text))
            else:
                found.update(values)
        found.discard(None)  # an unset reference column
        return sorted(i for i in found if i is not None)


@dataclass
class Sideloads:
    arrays: list[tuple[str, bytes]] = field(default_factory=list)
    properties: dict[int, bytes] = field(default_factory=dict)  # ticket id → `,"name":value…` to append


def parse_include(params: Mapping[str, str]) -> tuple[str, ...]:
    """The known sideload names of `include`, in the order asked; `last_audits` → 400 InvalidValue."""
    names = [n.strip() for n in params.get("include", "").split(",") if n.strip()]
    refused = REFUSED.intersection(names)
    if refused:
        raise InvalidParameter(f"Sideloading {', '.join(sorted(refused))} is not supported on incremental exports")
    return tuple(dict.fromkeys(n for n in names if n in TICKET_SIDELOADS))


def ticket_sideloads(query: ExportQuery, rows: Sequence[ExportRow], names: Sequence[str], *,
                     metric_set_per_ticket: bool = False) -> Sideloads:
    """The sideloads ``names`` for one page of tickets. The cursor export gives each ticket its own
    `metric_set` where the time-based export has a top-level `metric_sets` array (``metric_set_per_ticket``).
    Most sideloads need only the ids a ticket refers to, read from the tickets' columns; the metric ones replay
    whole tickets, so only they parse the stored JSON."""
    result = Sideloads()
    if not names:
        return result
    if metric_set_per_ticket:
        names = ["metric_set" if n == "metric_sets" else n for n in names]
    tickets = _page_tickets(rows, _columns_for(names), whole=any(n in _WHOLE_TICKETS for n in names))
    for name in names:
        if name in _ARRAYS:
            result.arrays.append((name, _ARRAY_BUILDERS[name](query, tickets)))
        else:
            for ticket_id, value in _PROPERTY_BUILDERS[name](query, tickets).items():
                result.properties[ticket_id] = result.properties.get(ticket_id, b"") + value
    return result


def wanted_columns(params: Mapping[str, str]) -> tuple[str, ...]:
    """The tickets columns a page's rows should be read with (``Store.changes``'s ``extra``) for the
    sideloads ``include`` asks: the columns their ids are in, unless a sideload replays whole tickets."""
    return _columns_for(parse_include(params))


def _columns_for(names: Sequence[str]) -> tuple[str, ...]:
    if any(n in _WHOLE_TICKETS for n in names):
        return ()
    return tuple(dict.fromkeys(column for name in names for column in _COLUMNS.get(name, ())))


def _page_tickets(rows: Sequence[ExportRow], columns: Sequence[str], *, whole: bool) -> _PageTickets:
    """The page's tickets for its sideloads: whole (parsed from their JSON), or the ``columns`` read with the
    rows (``wanted_columns``), turned from rows into columns in one step."""
    ids = [r.id for r in rows]
    if whole:
        tickets = [orjson.loads(b"{" + r.body + b"}") for r in rows]
        return _PageTickets(ids, {name: [_column_value(t.get(name)) for t in tickets] for name in _ALL_COLUMNS},
                            tickets)
    by_column = zip(*map(_EXTRA, rows), strict=True)  # rows → columns
    return _PageTickets(ids, dict(zip(columns, by_column, strict=True)) if rows else {}, [])


def _column_value(value: Any) -> Any:
    """A ticket's value as its column holds it: an id list as its JSON text."""
    return orjson.dumps(value).decode() if isinstance(value, list) else value


# -- arrays ----------------------------------------------------------------------------------------
def _records(table: str, keys: tuple[str, ...], render: Callable[[str, dict[str, Any]], dict[str, Any]]
             ) -> Callable[[ExportQuery, _PageTickets], bytes]:
    """A sideload of stored records. A page's tickets mostly refer to the same few thousand people, so each
    record's JSON is kept once rendered, reused while its stored row is equal to the one it was made from."""
    def build(query: ExportQuery, tickets: _PageTickets) -> bytes:
        columns, rows = query.store.record_rows(query.account.id, table, tickets.referred(*keys))
        return _join(_RENDERED.rendered((query.account.id, table, query.base_url), columns, rows, render))

    return build


class _RenderedRecords:
    """Rendered record JSON by (account, table, base URL) and id, with the stored row it was rendered from: a hit
    only when the row is still equal to it. At most ``limit`` entries (then it starts again): bounded memory
    whatever the account's size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.scopes: dict[tuple[int, str, str], dict[int, tuple[tuple[Any, ...], bytes]]] = {}
        self.size = 0

    def rendered(self, scope: tuple[int, str, str], columns: Sequence[str], rows: Sequence[tuple[Any, ...]],
                 render: Callable[[str, dict[str, Any]], dict[str, Any]]) -> list[bytes]:
        """Each row's record rendered (``render(base URL, record)``) as JSON, in the rows' order."""
        if self.size + len(rows) > self.limit:
            self.scopes, self.size = {}, 0
        entries = self.scopes.setdefault(scope, {})

        def fresh(row: tuple[Any, ...]) -> bytes:
            self.size += row[0] not in entries
            rendered = orjson.dumps(render(scope[2], record_from_values(columns, row)))
            entries[row[0]] = (row, rendered)
            return rendered

        get = entries.get
        return [entry[1] if (entry := get(row[0])) is not None and entry[0] == row else fresh(row) for row in rows]


_RENDERED = _RenderedRecords(50_000)


def _join(items: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def _brands(query: ExportQuery, tickets: _PageTickets) -> list[dict[str, Any]]:
    """The account's brands: one default brand per account (id 1), as a new Zendesk account has."""
    return [{"url": f"{query.base_url}/api/v2/brands/{i}.json", "id": i, "name": query.account.subdomain.title(),
             "brand_url": query.base_url, "subdomain": query.account.subdomain, "host_mapping": None,
             "has_help_center": False, "help_center_state": "disabled", "active": True, "default": i == 1,
             "is_deleted": False, "logo": None, "ticket_form_ids": [1], "signature_template": "{{agent.signature}}",
             "created_at": format_time(0), "updated_at": format_time(0)} for i in tickets.referred("brand_id")]


def _ticket_forms(query: ExportQuery, tickets: _PageTickets) -> list[dict[str, Any]]:
    return [{"url": f"{query.base_url}/api/v2/ticket_forms/{i}.json", "id": i, "name": "Default Ticket Form",
             "raw_name": "Default Ticket Form", "display_name": "Default Ticket Form",
             "raw_display_name": "Default Ticket Form", "position": 1, "active": True, "end_user_visible": True,
             "default": i == 1, "ticket_field_ids": [], "in_all_brands": True, "restricted_brand_ids": [],
             "created_at": format_time(0), "updated_at": format_time(0)} for i in tickets.referred("ticket_form_id")]


def _custom_statuses(query: ExportQuery, tickets: _PageTickets) -> list[dict[str, Any]]:
    """One system status per category, numbered in ``STATUSES`` order (see model.tickets.CUSTOM_STATUS_IDS)."""
    wanted = set(tickets.referred("custom_status_id"))
    return [{"url": f"{query.base_url}/api/v2/custom_statuses/{i}.json", "id": i, "status_category": status,
             "agent_label": status.capitalize(), "end_user_label": status.capitalize(), "description": "",
             "end_user_description": "", "active": True, "default": True, "created_at": format_time(0),
             "updated_at": format_time(0)} for i, status in enumerate(STATUSES, start=1) if i in wanted]


def _metric_sets(query: ExportQuery, tickets: _PageTickets) -> list[dict[str, Any]]:
    """One metric set per ticket, replayed from its audits (``model.metrics``)."""
    return metric_sets(query.store, query.account.id, query.base_url, tickets.whole)


def _dumped(build: Callable[[ExportQuery, _PageTickets], list[dict[str, Any]]]
            ) -> Callable[[ExportQuery, _PageTickets], bytes]:
    return lambda query, tickets: orjson.dumps(build(query, tickets))


_ARRAY_BUILDERS: dict[str, Callable[[ExportQuery, _PageTickets], bytes]] = {
    "users": _records("users", _USER_REFS + _USER_LISTS, render_user),
    "groups": _records("groups", ("group_id",), render_group),
    "organizations": _records("organizations", ("organization_id",), render_organization),
    "brands": _dumped(_brands),
    "ticket_forms": _dumped(_ticket_forms),
    "custom_statuses": _dumped(_custom_statuses),
    "sharing_agreements": lambda query, tickets: b"[]",
    "metric_sets": _dumped(_metric_sets),
}


# -- per-ticket properties -------------------------------------------------------------------------------
def _comment_count(query: ExportQuery, tickets: _PageTickets) -> dict[int, bytes]:
    counts = query.store.comment_counts(query.account.id, tickets.ids)
    return {i: b',"comment_count":' + str(counts.get(i, 0)).encode() for i in tickets.ids}


def _dates(query: ExportQuery, tickets: _PageTickets) -> dict[int, bytes]:
    out = {}
    for ticket, metric in zip(tickets.whole, _metric_sets(query, tickets), strict=True):
        dates = {k: metric[k] for k in ("assignee_updated_at", "requester_updated_at", "status_updated_at",
                                        "initially_assigned_at", "assigned_at", "solved_at",
                                        "latest_comment_added_at")}
        out[ticket["id"]] = b',"dates":' + orjson.dumps(dates)
    return out


def _metric_set_property(query: ExportQuery, tickets: _PageTickets) -> dict[int, bytes]:
    """The cursor export's `metric_set` on each ticket (null on a deleted ticket: it has no metrics)."""
    live = [t for t in tickets.whole if t["status"] != "deleted"]
    sets = {m["ticket_id"]: m for m in metric_sets(query.store, query.account.id, query.base_url, live)}
    return {t["id"]: b',"metric_set":' + orjson.dumps(sets.get(t["id"])) for t in tickets.whole}


_PROPERTY_BUILDERS: dict[str, Callable[[ExportQuery, _PageTickets], dict[int, bytes]]] = {
    "comment_count": _comment_count,
    "dates": _dates,
    "metric_set": _metric_set_property,
}
