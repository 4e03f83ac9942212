"""Custom fields become named, typed columns: the binding's naming, renaming and type-change rules, and the
values each bound column receives, on recorded field definitions and objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference import load_reference
from zendesk_export.exporter.analyst import Enricher, FieldColumn, column_value, kind_of, rebind
from zendesk_export.exporter.sinks._columns import SIDELOAD_COLUMNS, TICKET_COLUMNS, Kind, extract

TICKET_NAMES = [c.name for c in TICKET_COLUMNS]


def field(field_id: int, kind: str, title: str, key: str | None = None) -> dict[str, Any]:
    return {"id": field_id, "type": kind, "title": title, **({"key": key} if key else {})}


def columns(binding: tuple[FieldColumn, ...]) -> dict[int, list[tuple[str, Kind]]]:
    found: dict[int, list[tuple[str, Kind]]] = {}
    for b in binding:
        found.setdefault(b.field_id, []).append((b.column, b.kind))
    return found


def test_recorded_ticket_fields_bind_only_custom_ones_with_unique_names() -> None:
    """A real ticket_fields list: system fields (subject, status, …) get no column; eight custom fields all
    titled "Age" get one column each, the first by id plainly named, the others suffixed with their id."""
    fields = load_reference("more/ticket_fields.offset.rbclient-2015.json")["ticket_fields"]
    result = rebind("tickets", (), fields, TICKET_NAMES)
    ages = sorted(f["id"] for f in fields if f["title"] == "Age")
    assert [(b.field_id, b.column, b.kind) for b in result.bindings] == [
        (ages[0], "age", Kind.TEXT), *((i, f"age_{i}", Kind.TEXT) for i in ages[1:])]
    assert [c.name for c in result.added] == [b.column for b in result.bindings]
    assert result.changed == result.bindings


def test_recorded_user_fields_get_the_kind_of_their_type() -> None:
    fields = load_reference("more/user_fields.offset.grouparoo-2021.json")["user_fields"]
    result = rebind("users", (), fields, [c.name for c in SIDELOAD_COLUMNS["users"]])
    assert {b.column: (b.kind, b.field_key) for b in result.bindings} == {
        "text_field": (Kind.TEXT, "text_field"), "multiline_field": (Kind.TEXT, "multiline_field"),
        "numeric_field": (Kind.INTEGER, "numeric_field"), "decimal_field": (Kind.NUMBER, "decimal_field"),
        "checkbox_field": (Kind.BOOLEAN, "checkbox_field"), "date_field": (Kind.TEXT, "date_field"),
        "regex_field": (Kind.TEXT, "regex_field"), "dropdown_field": (Kind.TEXT, "dropdown_field"),
    }


@pytest.mark.parametrize(("title", "column"), [
    ("Order number", "order_number"), ("  Déjà vu — état ", "deja_vu_etat"), ("2nd line", "f_2nd_line"),
    ("日本語", "field_7"), ("Status", "status_7"), ("RAW_JSON", "raw_json_7"), ("x" * 80, "x" * 48),
    ("Subject!!", "subject_7"),
])
def test_a_title_becomes_a_column_safe_name_that_never_takes_a_fixed_column(title: str, column: str) -> None:
    result = rebind("tickets", (), [field(7, "text", title)], TICKET_NAMES)
    assert [b.column for b in result.bindings] == [column]


def test_a_renamed_field_keeps_its_column_and_records_the_new_title() -> None:
    first = rebind("tickets", (), [field(1, "text", "Order number")], TICKET_NAMES)
    second = rebind("tickets", first.bindings, [field(1, "text", "Order reference")], TICKET_NAMES)
    assert [(b.column, b.title) for b in second.bindings] == [("order_number", "Order reference")]
    assert second.added == ()
    assert [b.title for b in second.changed] == ["Order reference"]


def test_a_new_field_adds_a_column_and_cannot_take_a_bound_name() -> None:
    first = rebind("tickets", (), [field(1, "text", "Plan")], TICKET_NAMES)
    fields = [field(1, "text", "Old plan"), field(2, "integer", "Plan")]  # 1 renamed, 2 takes its old title
    second = rebind("tickets", first.bindings, fields, TICKET_NAMES)
    assert columns(second.bindings) == {1: [("plan", Kind.TEXT)], 2: [("plan_2", Kind.INTEGER)]}
    assert [(c.name, c.kind) for c in second.added] == [("plan_2", Kind.INTEGER)]


def test_an_unchanged_binding_changes_nothing() -> None:
    fields = [field(1, "text", "A"), field(2, "checkbox", "B")]
    first = rebind("tickets", (), fields, TICKET_NAMES)
    again = rebind("tickets", first.bindings, fields, TICKET_NAMES)
    assert again == type(again)(first.bindings, (), ())


def test_a_changed_type_adds_a_text_column_and_keeps_the_old_one() -> None:
    """integer → decimal: a `_text` column joins the integer one; → text, → integer again: nothing new."""
    stored = rebind("tickets", (), [field(1, "integer", "Seats")], TICKET_NAMES).bindings
    widened = rebind("tickets", stored, [field(1, "decimal", "Seats")], TICKET_NAMES)
    assert columns(widened.bindings) == {1: [("seats", Kind.INTEGER), ("seats_text", Kind.TEXT)]}
    for later in ("text", "integer", "checkbox"):
        assert rebind("tickets", widened.bindings, [field(1, later, "Seats")], TICKET_NAMES).added == ()


def test_values_after_a_type_change_are_kept_where_they_fit() -> None:
    stored = rebind("tickets", (), [field(1, "integer", "Seats")], TICKET_NAMES).bindings
    widened = rebind("tickets", stored, [field(1, "decimal", "Seats")], TICKET_NAMES).bindings
    enrich = Enricher("tickets", widened)
    assert enrich.values({"custom_fields": [{"id": 1, "value": "12"}]}) == {"seats": 12, "seats_text": "12"}
    assert enrich.values({"custom_fields": [{"id": 1, "value": "12.5"}]}) == {"seats": None, "seats_text": "12.5"}


def test_each_object_keeps_its_own_binding() -> None:
    tickets = rebind("tickets", (), [field(1, "text", "Region")], TICKET_NAMES).bindings
    users = rebind("users", tickets, [field(1, "text", "Region", key="region")], ["id", "name"])
    assert [(b.object, b.column) for b in users.bindings] == [("users", "region")]


def test_a_binding_survives_its_stored_row() -> None:
    stored = rebind("users", (), [field(3, "date", "Customer since", key="customer_since")], ["id"]).bindings
    assert tuple(FieldColumn.from_row(b.row()) for b in stored) == stored


@pytest.mark.parametrize(("kind", "raw", "value"), [
    (Kind.BOOLEAN, True, True), (Kind.BOOLEAN, "true", None), (Kind.BOOLEAN, None, None),
    (Kind.INTEGER, 42, 42), (Kind.INTEGER, "-42", -42), (Kind.INTEGER, 3.0, 3), (Kind.INTEGER, 3.5, None),
    (Kind.INTEGER, True, None), (Kind.INTEGER, "4x", None), (Kind.INTEGER, "9" * 30, None),
    (Kind.NUMBER, "12.50", 12.5), (Kind.NUMBER, 7, 7.0), (Kind.NUMBER, "nan", None), (Kind.NUMBER, False, None),
    (Kind.TEXT, "2024-01-31", "2024-01-31"), (Kind.TEXT, 5, "5"), (Kind.TEXT, False, "false"),
    (Kind.TEXT, ["a", "b"], '["a","b"]'), (Kind.JSON, ["a", "b"], ["a", "b"]), (Kind.JSON, "a", None),
])
def test_a_value_becomes_its_column_kind_or_null(kind: Kind, raw: Any, value: Any) -> None:
    assert column_value(kind, raw) == value


@pytest.mark.parametrize(("field_type", "kind"), [
    ("checkbox", Kind.BOOLEAN), ("integer", Kind.INTEGER), ("decimal", Kind.NUMBER), ("multiselect", Kind.JSON),
    ("date", Kind.TEXT), ("tagger", Kind.TEXT), ("text", Kind.TEXT), ("lookup", Kind.TEXT), (None, Kind.TEXT),
])
def test_field_types_map_to_kinds(field_type: str | None, kind: Kind) -> None:
    assert kind_of(field_type) is kind


def test_the_enriched_recorded_ticket_fills_typed_columns_through_the_sink_extractor() -> None:
    """A real ticket's custom values reach typed columns via the same ``extract`` the sinks use; raw keys stay."""
    ticket = load_reference("fixtures/amp-labs/read_incremental_tickets.json")["tickets"][0]
    ids = [f["id"] for f in ticket["custom_fields"]]
    fields = [field(ids[0], "tagger", "Customer type"), field(ids[1], "multiselect", "Topics"),
              field(10**15, "checkbox", "Escalated")]
    result = rebind("tickets", (), fields, TICKET_NAMES)
    enriched = Enricher("tickets", result.bindings)(ticket)
    assert extract(result.added, enriched) == ["standard_customer", None, None]
    assert {k: v for k, v in enriched.items() if k in ticket} == ticket


def test_a_custom_value_whose_id_is_not_an_integer_is_skipped_not_fatal() -> None:
    """A list as an id (unhashable) failed the whole page; any id that is not an integer is skipped."""
    bindings = rebind("tickets", (), [field(5, "text", "Order"), field(1, "text", "Plan")], TICKET_NAMES).bindings
    ticket = {"id": 1, "custom_fields": [{"id": [5], "value": "list"}, {"id": True, "value": "boolean"},
                                         {"id": 5, "value": "kept"}]}
    assert {k: v for k, v in Enricher("tickets", bindings)(ticket).items() if k not in ticket} == {
        "order": "kept", "plan": None}


def test_users_and_organizations_read_values_by_key() -> None:
    bindings = rebind("organizations", (), [field(2, "integer", "Employees", key="employees"),
                                            field(3, "decimal", "Annual revenue", key="annual_revenue")],
                      ["id", "name"]).bindings
    organization = {"id": 5, "organization_fields": {"employees": 40, "annual_revenue": "1234.5", "other": 1}}
    assert Enricher("organizations", bindings).values(organization) == {"employees": 40, "annual_revenue": 1234.5}
    assert Enricher("organizations", bindings).values({"id": 6}) == {"employees": None, "annual_revenue": None}


def test_names_stay_within_postgres_identifier_length_and_unique() -> None:
    """Long titles, taken names, huge ids and type changes: every name ≤ 63 bytes, none twice."""
    big = 2**63 - 1
    fields = [field(big - n, "integer", "x" * 80) for n in range(4)]
    first = rebind("tickets", (), fields, TICKET_NAMES)
    widened = rebind("tickets", first.bindings, [{**f, "type": "decimal"} for f in fields], TICKET_NAMES)
    names = [b.column for b in widened.bindings]
    assert len(names) == 8 and len(set(names)) == 8
    assert max(map(len, names)) <= 63
