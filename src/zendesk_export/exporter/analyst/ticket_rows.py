"""The child rows of one ticket version: ``ticket_tags`` and ``ticket_custom_field_values``.

Both are derived from the version being written, whole: the sink replaces a ticket's child rows whenever it
writes a newer version of the ticket, so the two tables always agree with the stored ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from zendesk_export.exporter.sinks._columns import in_int64

__all__ = ["custom_field_value_rows", "tag_rows", "value_text", "values_by_id"]


def value_text(value: Any) -> str | None:
    """A value as one text column holds it: a string as it is, anything else (number, boolean, list) as its
    JSON text (``42``, ``true``, ``["a","b"]``), None as NULL."""
    if value is None or type(value) is str:
        return value
    return orjson.dumps(value).decode()


def tag_rows(ticket: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``(ticket_id, tag)`` row per distinct tag of the ticket, in the ticket's order."""
    tags = ticket.get("tags")
    if not isinstance(tags, list):
        return []
    ticket_id = ticket["id"]
    return [{"ticket_id": ticket_id, "tag": tag} for tag in dict.fromkeys(t for t in tags if type(t) is str)]


def values_by_id(fields: list[Any]) -> dict[int, Any]:
    """The value of each custom field of a ``custom_fields`` list by its id, the last one where an id is listed
    twice; an item that is not an object with an integer ``id`` is skipped."""
    return {field["id"]: field.get("value") for field in fields
            if isinstance(field, dict) and type(field.get("id")) is int}


def custom_field_value_rows(ticket: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``(ticket_id, field_id, value)`` row per custom field that has a value (a null value has no row;
    ``false`` does). ``value`` is text: :func:`value_text`. A field listed twice keeps its last value. A field id
    beyond 64 bits has no row: its key column would hold NULL, which PostgreSQL's primary key refuses (the page,
    and with it the export, would fail on every run)."""
    fields = ticket.get("custom_fields")
    if not isinstance(fields, list):
        return []
    ticket_id = ticket["id"]
    return [{"ticket_id": ticket_id, "field_id": field_id, "value": value_text(value)}
            for field_id, value in values_by_id(fields).items()
            if value is not None and in_int64(field_id)]
