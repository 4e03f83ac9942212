"""The analyst tables, declared once as data: columns, primary key, the stream whose rows they derive from, and
the pure function that derives them.

A derived table is written with its parent row: when a sink writes a (newer) version of a ticket it deletes
that ticket's ``ticket_tags`` and ``ticket_custom_field_values`` rows and inserts the derived ones, in the same
transaction; a ticket event (immutable) brings its ``ticket_field_history`` and ``ticket_comments`` rows once.
``parent_column`` is the column of the derived table that holds the parent row's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zendesk_export.exporter.analyst.custom_fields import BINDING_COLUMNS, BINDING_KEY
from zendesk_export.exporter.analyst.history import comment_rows, field_history_rows
from zendesk_export.exporter.analyst.ticket_rows import custom_field_value_rows, tag_rows
from zendesk_export.exporter.sinks._columns import Column, Kind

__all__ = ["BINDING_TABLE", "DERIVED_TABLES", "DerivedTable", "StateTable", "derived_tables"]


@dataclass(frozen=True)
class DerivedTable:
    """A table derived from each written row of ``parent`` (a stream): ``derive(parent_row)`` gives its rows
    (dicts keyed by column name); ``key`` is its primary key."""

    name: str
    parent: str
    columns: tuple[Column, ...]
    parent_column: str
    key: tuple[str, ...]
    derive: Callable[[Mapping[str, Any]], list[dict[str, Any]]]


def _columns(*specs: tuple[str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, kind, (name,)) for name, kind in specs)


_I, _T, _B, _TS = Kind.INTEGER, Kind.TEXT, Kind.BOOLEAN, Kind.TIMESTAMP

DERIVED_TABLES: tuple[DerivedTable, ...] = (
    DerivedTable("ticket_tags", "tickets", _columns(("ticket_id", _I), ("tag", _T)), "ticket_id",
                 ("ticket_id", "tag"), tag_rows),
    DerivedTable("ticket_custom_field_values", "tickets",
                 _columns(("ticket_id", _I), ("field_id", _I), ("value", _T)), "ticket_id",
                 ("ticket_id", "field_id"), custom_field_value_rows),
    DerivedTable("ticket_field_history", "ticket_events", _columns(
        ("event_id", _I), ("audit_id", _I), ("ticket_id", _I), ("field", _T), ("value", _T),
        ("previous_value", _T), ("updated_at", _TS), ("author_id", _I), ("via", _T),
    ), "audit_id", ("event_id", "field"), field_history_rows),
    DerivedTable("ticket_comments", "ticket_events", _columns(
        ("id", _I), ("audit_id", _I), ("ticket_id", _I), ("author_id", _I), ("public", _B), ("body", _T),
        ("created_at", _TS), ("via", _T),
    ), "audit_id", ("id",), comment_rows),
)


@dataclass(frozen=True)
class StateTable:
    """A table of the export's own state (not derived from a stream): name, columns, key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]


#: Which column holds which custom field (see ``custom_fields``); read at the start of a run, rows upserted
#: when fields are added or retitled, never deleted.
BINDING_TABLE = StateTable("custom_field_columns", BINDING_COLUMNS, BINDING_KEY)


def derived_tables(parent: str) -> tuple[DerivedTable, ...]:
    """The tables derived from the rows of stream ``parent`` (none for most streams)."""
    return tuple(table for table in DERIVED_TABLES if table.parent == parent)
