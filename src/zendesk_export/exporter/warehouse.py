"""The analyst tables plugged into the whole-account tables of every output (SQLite, PostgreSQL, JSONL, Parquet).

``sinks._tables`` declares what every stream writes; ``analyst`` derives the analyst's tables by pure
functions. This module joins them, so that neither imports the other:

* :func:`stream_table` -- a stream's table with its derived child tables: ``tickets`` → ``ticket_tags`` and
  ``ticket_custom_field_values``; ``ticket_events`` → ``ticket_field_history`` and ``ticket_comments`` (each
  replaced for every written parent version, in the parent's transaction);
* :func:`bind_custom_fields` -- before ``tickets``, ``users`` or ``organizations`` is written, the binding of
  its custom fields to named typed columns (``custom_field_columns`` in the output, rules in
  ``analyst.custom_fields``) is brought up to date with the field definitions just fetched, the table gets
  the columns it lacks, and the returned table fills them (``Table.enrich``) on every write;
* :class:`BindingSink` -- a sink that does this at its *first write*, so nothing is fetched or altered before
  the run's own checks (credentials, the output's account and mode) have passed and a first page was fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .analyst import BINDING_TABLE, FIELD_STREAMS, Enricher, FieldColumn, derived_tables, rebind
from .sinks._sql import RAW_JSON
from .sinks._tables import DELETED, REFRESH, TABLES, Child, Table

__all__ = ["FIELD_STREAMS", "BindingSink", "bind_custom_fields", "stream_table"]

_CHILDREN: Mapping[str, tuple[Child, ...]] = {
    parent: tuple(Child(d.name, d.columns, d.parent_column, d.key, d.derive) for d in derived_tables(parent))
    for parent in TABLES
}


def stream_table(name: str) -> Table:
    """The table stream ``name`` writes, with its derived child tables."""
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


#: One binding at a time in a process: the streams of a run bind on their own threads and connections, and
#: PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` fails when another transaction creates the same table meanwhile.
_ONE_BINDING = threading.Lock()


class BindingSink:
    """A sink writing stream ``name`` with its analyst tables: the first write (``write`` for the ticket
    export, ``write_stream`` for the others) binds the custom fields from ``fetch_fields()`` first; every write
    uses the bound table. Anything else is the wrapped sink's."""

    def __init__(self, sink: Any, name: str, fetch_fields: Callable[[], list[dict[str, Any]]]) -> None:
        self.sink, self.name, self.fetch_fields = sink, name, fetch_fields
        self.table = stream_table(name)
        self.bound = name not in FIELD_STREAMS
        self.lock = threading.Lock()  # the ticket export may write from several window threads
        if name == "tickets":
            sink.use_table(self.table)

    def _bind(self) -> Table:
        with self.lock:
            if not self.bound:
                fields = self.fetch_fields()
                with _ONE_BINDING:
                    self.table = bind_custom_fields(self.sink, self.table, fields)
                if self.name == "tickets":
                    self.sink.use_table(self.table)
                self.bound = True
            return self.table

    def write(self, page: Any) -> Any:
        self._bind()
        return self.sink.write(page)

    def write_stream(self, table: Table, objects: list[dict[str, Any]], state: Any, *, finish: bool = False) -> Any:
        """``table`` is this stream's; the bound one (same name, its derived tables and columns) is written."""
        return self.sink.write_stream(self._bind(), objects, state, finish=finish)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.sink, attribute)
