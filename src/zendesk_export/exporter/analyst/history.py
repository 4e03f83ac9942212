"""``ticket_field_history`` and ``ticket_comments`` from the incremental ticket events export.

Each element of ``ticket_events`` is one audit (one write of a ticket): ``id`` (the audit's), ``ticket_id``,
``created_at``, ``updater_id``, ``via`` (a name such as ``Mail`` or ``Web form``) and ``child_events``. A
``Create`` or ``Change`` child names the field it set by its key (``"status": "open"``) and a ``Change`` adds
``previous_value``; a ``Comment`` child is a comment, carrying its body only when the export was asked for
``include=comment_events``.

``ticket_field_history`` gets one row per field a child event set: every ticket field the export reports
(status, priority, assignee_id, group_id, type, tags, subject, requester_id, custom_status_id, …), under the
field's own name. A custom field is named ``custom_fields.<field id>``, whichever of the shapes it arrives in:

* a key that is the field id (``"360001": "x"``), as Zendesk's audits name custom fields;
* ``custom_ticket_fields`` (``{"360001": "x"}``), seen in real exports;
* ``custom_fields``, the ticket's whole list (``[{"id": 360001, "value": "x"}, …]``, previous list in
  ``previous_value``): one row per field whose value changed (on a ``Create``, per field with a value).

Values are text (:func:`value_text`: ids as digits, tags as a JSON list). The key of a row is the child event's
id and the field name (a list of custom fields gives several rows per event); a child event without an integer
id has no row in either table. ``updated_at`` and ``author_id`` are the audit's time and author; ``via`` the
child's via name (the audit's if the child has none).

``ticket_comments`` gets one row per comment child: id, ticket, author, public, body (NULL without
``include=comment_events``), when (the comment's ``created_at``, else the audit's) and the audit's via name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from zendesk_export.exporter.analyst.ticket_rows import value_text
from zendesk_export.exporter.sinks._columns import in_int64

__all__ = ["comment_rows", "custom_field_name", "field_history_rows"]

#: Keys of a child event that are about the event, not the field it set.
_EVENT_KEYS = frozenset({"id", "via", "via_reference_id", "event_type", "previous_value", "added_tags",
                         "removed_tags"})
_FIELD_EVENTS = frozenset({"Create", "Change"})
_CUSTOM_PREFIX = "custom_fields."
_CUSTOM_KEYS = frozenset({"custom_fields", "custom_ticket_fields"})


def custom_field_name(field_id: int | str) -> str:
    """The ``field`` of a custom field's history rows: ``custom_fields.<id>``."""
    return f"{_CUSTOM_PREFIX}{field_id}"


def _is_key(event_id: Any) -> bool:
    """Whether a child event's id can key a row: an integer of 64 bits. A child without one has no row in
    either table (its key would be NULL, which PostgreSQL's primary key and Parquet's ``id`` refuse: the page,
    and with it the stream, would fail on every run)."""
    return type(event_id) is int and in_int64(event_id)


def _is_field_id(key: str) -> bool:
    """A key that is a field id: ASCII digits only (``"²"`` is a digit to ``str.isdigit``, not an id)."""
    return key.isascii() and key.isdigit()


def field_history_rows(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``ticket_field_history`` rows of one ticket event (an audit): see the module docstring.

    Written for speed (it runs on every event of every page): one pass over each child's keys, the common
    case -- one plain field -- without a generator or a call per value."""
    rows: list[dict[str, Any]] = []
    audit_id, ticket_id = event.get("id"), event.get("ticket_id")
    updated_at, author_id = event.get("created_at"), event.get("updater_id")
    audit_via = event.get("via") if type(event.get("via")) is str else None
    for child in event.get("child_events") or ():
        if type(child) is not dict or child.get("event_type") not in _FIELD_EVENTS or not _is_key(child.get("id")):
            continue
        via = child.get("via")
        via = via if type(via) is str else audit_via
        event_id = child.get("id")
        previous = child.get("previous_value") if child.get("event_type") == "Change" else None
        for key, value in child.items():
            if key in _EVENT_KEYS:
                continue
            if key in _CUSTOM_KEYS or _is_field_id(key):
                fields = list(_custom_fields(key, value, previous, child.get("event_type") == "Change"))
            else:
                fields = [(key, value, previous)]
            for field, new, old in fields:
                rows.append({"event_id": event_id, "audit_id": audit_id, "ticket_id": ticket_id, "field": field,
                             "value": new if new is None or type(new) is str else value_text(new),
                             "previous_value": old if old is None or type(old) is str else value_text(old),
                             "updated_at": updated_at, "author_id": author_id, "via": via})
    return rows


def _custom_fields(key: str, value: Any, previous: Any, changed: bool) -> Iterator[tuple[str, Any, Any]]:
    """(field name, value, previous value) of each custom field one child set, in any of the three shapes."""
    if key == "custom_fields" and isinstance(value, list):
        yield from _list_changes(value, previous if isinstance(previous, list) else [], changed)
    elif key == "custom_ticket_fields" and isinstance(value, dict):
        for field_id, field_value in value.items():
            before = previous.get(field_id) if isinstance(previous, dict) else previous
            yield custom_field_name(field_id), field_value, before
    elif _is_field_id(key):
        yield custom_field_name(key), value, previous
    else:  # a custom-field key with an unexpected value: kept under its own name
        yield key, value, previous


def _list_changes(values: list[Any], previous: list[Any], changed: bool) -> Iterator[tuple[str, Any, Any]]:
    now, before = _by_id(values), _by_id(previous)
    for field_id, value in now.items():
        if (changed and before.get(field_id) != value) or (not changed and value is not None):
            yield custom_field_name(field_id), value, before.get(field_id)
    for field_id, value in before.items():
        if field_id not in now and value is not None:  # dropped from the list: it has no value any more
            yield custom_field_name(field_id), None, value


def _by_id(fields: list[Any]) -> dict[Any, Any]:
    return {f.get("id"): f.get("value") for f in fields if isinstance(f, dict) and f.get("id") is not None}


def comment_rows(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``ticket_comments`` rows of one ticket event: one per ``Comment`` child."""
    via = event.get("via") if type(event.get("via")) is str else None
    rows = []
    for child in event.get("child_events") or ():
        if not isinstance(child, dict) or child.get("event_type") != "Comment" or not _is_key(child.get("id")):
            continue
        public = child.get("public", child.get("comment_public"))
        rows.append({
            "id": child.get("id"), "audit_id": event.get("id"), "ticket_id": event.get("ticket_id"),
            "author_id": child.get("author_id", event.get("updater_id")),
            "public": public if type(public) is bool else None,
            "body": child.get("body") if type(child.get("body")) is str else None,
            "created_at": child.get("created_at") or event.get("created_at"), "via": via,
        })
    return rows
