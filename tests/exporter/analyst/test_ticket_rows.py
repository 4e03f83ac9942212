"""A ticket version's tags and custom values in long form, on recorded tickets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference import load_reference
from zendesk_export.exporter.analyst import custom_field_value_rows, derived_tables, tag_rows, value_text
from zendesk_export.exporter.analyst.ticket_rows import values_by_id


def test_recorded_tickets_give_one_tag_row_per_tag() -> None:
    tickets = load_reference("more/tickets.cursor-size100.zenpy.json")["tickets"]
    rows = [row for ticket in tickets for row in tag_rows(ticket)]
    assert rows[:3] == [{"ticket_id": tickets[0]["id"], "tag": t} for t in ("sample", "support", "zendesk")]
    assert len(rows) == sum(len(t["tags"]) for t in tickets)


def test_recorded_custom_values_become_long_rows() -> None:
    ticket = load_reference("fixtures/amp-labs/read_incremental_tickets.json")["tickets"][0]
    assert custom_field_value_rows(ticket) == [
        {"ticket_id": ticket["id"], "field_id": 26363655924371, "value": "standard_customer"},
        {"ticket_id": ticket["id"], "field_id": 26363685850259, "value": "inquiry"},
    ]


def test_null_values_have_no_row_false_does_and_the_last_duplicate_wins() -> None:
    ticket = {"id": 3, "custom_fields": [{"id": 1, "value": None}, {"id": 2, "value": False},
                                         {"id": 3, "value": ["a", "b"]}, {"id": 4, "value": 12.5},
                                         {"id": 2, "value": True}, {"value": "no id"}, "junk"]}
    assert [(r["field_id"], r["value"]) for r in custom_field_value_rows(ticket)] == [
        (2, "true"), (3, '["a","b"]'), (4, "12.5")]


@pytest.mark.parametrize("odd", [{"id": [1], "value": "list id"}, {"id": True, "value": "boolean id"},
                                 {"id": "4", "value": "text id"}, {"value": "no id"}, "junk",
                                 {"id": 2**63, "value": "an id beyond 64 bits"},
                                 {"id": -(2**63) - 1, "value": "an id below 64 bits"}])
def test_an_item_whose_id_is_not_an_integer_is_skipped(odd: Any) -> None:
    ticket = {"id": 3, "custom_fields": [{"id": 5, "value": "kept"}, odd, {"id": 6, "value": False}]}
    assert custom_field_value_rows(ticket) == [{"ticket_id": 3, "field_id": 5, "value": "kept"},
                                               {"ticket_id": 3, "field_id": 6, "value": "false"}]


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.text(max_size=2))
_VALUES = st.one_of(_SCALARS, st.lists(st.integers(), max_size=2))
_IDS = st.one_of(_SCALARS, st.lists(st.integers(), max_size=1))
_ITEMS = st.one_of(st.fixed_dictionaries({}, optional={"id": _IDS, "value": _VALUES}),
                   st.just("junk"), st.none(), st.integers())


@given(st.lists(_ITEMS, max_size=8))
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_values_by_id_reads_each_integer_id_s_last_value_in_first_seen_order(fields: list[Any]) -> None:
    expected: dict[int, Any] = {}
    for field in fields:  # the rule, item by item
        if isinstance(field, dict) and type(field.get("id")) is int:
            expected[field["id"]] = field.get("value")
    found = values_by_id(fields)
    assert list(found.items()) == list(expected.items())


@pytest.mark.parametrize("ticket", [{"id": 1}, {"id": 1, "tags": None, "custom_fields": "x"},
                                    {"id": 1, "tags": ["a", "a", 5], "custom_fields": []}])
def test_odd_or_missing_lists_never_fail(ticket: dict[str, Any]) -> None:
    assert len(tag_rows(ticket)) <= 1
    assert custom_field_value_rows(ticket) == []


@pytest.mark.parametrize(("value", "text"), [(None, None), ("x", "x"), (5, "5"), (True, "true"),
                                             ([1, "a"], '[1,"a"]'), ({"a": 1}, '{"a":1}')])
def test_value_text(value: Any, text: str | None) -> None:
    assert value_text(value) == text


def test_every_derived_row_has_exactly_its_table_s_columns_and_its_key() -> None:
    ticket = load_reference("fixtures/amp-labs/read_incremental_tickets.json")["tickets"][0]
    event = load_reference("fixtures/embulk-input-zendesk/ticket_events_updated_by_system_records.json")
    parents = {"tickets": [ticket], "ticket_events": event["ticket_events"]}
    for parent, objects in parents.items():
        for table in derived_tables(parent):
            rows = [row for obj in objects for row in table.derive(obj)]
            assert rows, table.name
            assert all(list(row) == [c.name for c in table.columns] for row in rows), table.name
            assert len({tuple(row[k] for k in table.key) for row in rows}) == len(rows), table.name
