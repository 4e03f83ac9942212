"""The analyst tables plugged into the whole-account tables of the SQL outputs (SQLite, PostgreSQL).

``sinks._tables`` declares what every stream writes; ``analyst`` derives the analyst's tables by pure
functions. This module joins them, so that neither imports the other:

* :func:`stream_table` -- a stream's table with its derived child tables: ``tickets`` → ``ticket_tags`` and
  ``ticket_custom_field_values``; ``ticket_events`` → ``ticket_field_history`` and ``ticket_comments`` (each
  replaced for every written parent version, in the parent's transaction);
* :func:`bind_custom_fields` -- before ``tickets``, ``users`` or ``organizations`` is written, the binding of
  its custom fields to named typed columns (``custom_field_columns`` in the output, rules in
  ``analyst.custom_fields``) is brought up to date with the field definitions just fetched, the table gets
  the columns it lacks, and the returned table fills them (``Table.enrich``) on every write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .analyst import BINDING_TABLE, FIELD_STREAMS, Enricher, FieldColumn, derived_tables, rebind
from .sinks._sql import RAW_JSON
from .sinks._tables import DELETED, REFRESH, TABLES, Child, Table

__all__ = ["FIELD_STREAMS", "bind_custom_fields", "stream_table"]

_CHILDREN: Mapping[str, tuple[Child, ...]] = {
    parent: tuple(Child(d.name, d.columns, d.parent_column, d.key, d.derive) for d in derived_tables(parent))
    for parent in TABLES
}


def stream_table(name: str) -> Table:
    """The table stream ``name`` writes into a SQL output, with its derived child tables."""
    base = TABLES[name]
    return replace(base, children=(*base.children, *_CHILDREN[name])) if _CHILDREN[name] else base


def bind_custom_fields(sink: Any, table: Table, fields: Iterable[Mapping[str, Any]]) -> Table:
    """Bind ``table``'s custom fields (``fields``: this run's definitions) to columns: read the stored
    binding, add the columns of new fields (and the TEXT column of a field whose type changed), save the new
    and retitled bindings, and return the table that fills the bound columns. A table without custom fields
    is returned unchanged (no enrichment: its writes cost what they did)."""
    obj = table.name
    stored = [FieldColumn.from_row(row) for row in sink.load_rows(BINDING_TABLE.name, BINDING_TABLE.columns)
              if row.get("object") == obj]
    reserved = {column.name for column in table.columns} | {RAW_JSON, REFRESH, DELETED}
    binding = rebind(obj, stored, fields, reserved)
    if not binding.bindings:
        return table
    # columns first, then the rows that name them: a run stopped in between redoes both the same way
    sink.add_columns(table, [bound.as_column() for bound in binding.bindings])
    if binding.changed:
        sink.save_rows(BINDING_TABLE.name, BINDING_TABLE.columns, BINDING_TABLE.key,
                       [bound.row() for bound in binding.changed])
    return replace(table, enrich=Enricher(obj, binding.bindings))
