"""Tables an analyst queries, derived from the streams' objects by pure functions (no I/O, no state but what
is passed in): custom fields as named typed columns (:mod:`.custom_fields`), a ticket's tags and custom values
in long form (:mod:`.ticket_rows`), field history and comments from ticket events (:mod:`.history`), and their
declarations (:mod:`.declarations`). The sinks write what these return; the export loop calls them.
"""

from zendesk_export.exporter.analyst.custom_fields import (
    FIELD_STREAMS,
    Enricher,
    FieldColumn,
    Rebinding,
    column_value,
    kind_of,
    rebind,
)
from zendesk_export.exporter.analyst.declarations import (
    BINDING_TABLE,
    DERIVED_TABLES,
    DerivedTable,
    StateTable,
    derived_tables,
)
from zendesk_export.exporter.analyst.history import comment_rows, custom_field_name, field_history_rows
from zendesk_export.exporter.analyst.ticket_rows import custom_field_value_rows, tag_rows, value_text

__all__ = [
    "BINDING_TABLE",
    "DERIVED_TABLES",
    "FIELD_STREAMS",
    "DerivedTable",
    "Enricher",
    "FieldColumn",
    "Rebinding",
    "StateTable",
    "column_value",
    "comment_rows",
    "custom_field_name",
    "custom_field_value_rows",
    "derived_tables",
    "field_history_rows",
    "kind_of",
    "rebind",
    "tag_rows",
    "value_text",
]
