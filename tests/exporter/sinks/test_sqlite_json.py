"""SQLite derives the typed columns from the JSON text: the values must be exactly those ``extract`` gives the
other sinks, for real tickets and for values of every unexpected type."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zendesk_export.exporter.sinks import SQLiteSink
from zendesk_export.exporter.sinks._columns import SIDELOAD_COLUMNS, TICKET_COLUMNS, Column, Kind, extract
from zendesk_export.exporter.sinks._sql import TICKET_GUARD, create_table_sql, quote
from zendesk_export.exporter.sinks._sqlite_json import upsert_from_json
from zendesk_export.exporter.sinks.sqlite import SQLITE_TYPES

from ._pages import make_ticket, make_user, page

NAMES = [column.name for column in TICKET_COLUMNS]


def _sqlite_value(value: Any) -> Any:
    """What SQLite gives back for a canonical Python value (a bool is stored as 1/0)."""
    return int(value) if type(value) is bool else value


def _stored(path: Path, table: str, columns: tuple[Column, ...]) -> dict[int, tuple[Any, ...]]:
    names = ", ".join(quote(c.name) for c in columns)
    with sqlite3.connect(path) as conn:
        return {row[0]: row for row in conn.execute(f"SELECT {names} FROM {quote(table)}")}


def _expected(columns: tuple[Column, ...], obj: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_sqlite_value(value) for value in extract(columns, obj))


ODD_VALUES: list[tuple[str, Any]] = [
    ("requester_id", "123"),
    ("requester_id", True),
    ("requester_id", 1.0),
    ("requester_id", 2**62),
    ("requester_id", 2**63),
    ("requester_id", 2**64 - 1),
    ("requester_id", -(2**63)),
    ("requester_id", -7),
    ("assignee_id", 0),
    ("is_public", 1),
    ("is_public", 0),
    ("is_public", "yes"),
    ("has_incidents", None),
    ("created_at", 1700000000),
    ("created_at", {"at": "2024-01-01T00:00:00Z"}),
    ("created_at", ["2024-01-01T00:00:00Z"]),
    ("subject", 5),
    ("subject", 1.5),
    ("subject", True),
    ("subject", False),
    ("subject", ["a"]),
    ("subject", {"a": [1, None]}),
    ("subject", '[not json] {"x": 1}'),
    ("subject", 'quotes " and \\ and \n newline, tab\t, é, \u2028, \U0001f600 and \x01'),
    ("description", ""),
    ("description", "an e-mail body with a NUL \x00 inside"),
    ("via", {"channel": "a\x00b"}),
    ("tags", ['a "quoted" tag', "é\u2028\U0001f600", "\x1f"]),
    ("tags", "web"),
    ("tags", 'a "quoted" \\ string\n\t\x01 é \u2028 \U0001f600'),
    ("tags", 7),
    ("tags", True),
    ("tags", []),
    ("tags", ["nul \x00 in a list"]),
    ("via", "web"),
    ("via", None),
    ("via", {"channel": 5}),
    ("via", {"channel": {"deep": True}}),
    ("via", {"source": {}}),
    ("via", [{"channel": "web"}]),
    ("satisfaction_rating", {"score": "good", "comment": "ça va \"bien\""}),
    ("custom_fields", [{"id": 1, "value": 1e20}, {"id": 2, "value": -0.5}, {"id": 3, "value": None}]),
]


@pytest.mark.parametrize(("field", "value"), ODD_VALUES, ids=[f"{f}={v!r}"[:60] for f, v in ODD_VALUES])
def test_each_typed_column_holds_what_extract_gives(tmp_path: Path, field: str, value: Any) -> None:
    ticket = make_ticket(1, 100, **{field: value})
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([ticket]))
    assert _stored(tmp_path / "t.db", "tickets", TICKET_COLUMNS)[1] == _expected(TICKET_COLUMNS, ticket)


def test_a_missing_key_is_null_as_with_extract(tmp_path: Path) -> None:
    ticket = make_ticket(1, 100)
    for name in ("subject", "via", "is_public", "tags", "created_at", "encoded_id"):
        del ticket[name]
    with SQLiteSink(tmp_path / "t.db") as sink:
        sink.write(page([ticket]))
    assert _stored(tmp_path / "t.db", "tickets", TICKET_COLUMNS)[1] == _expected(TICKET_COLUMNS, ticket)


def test_a_page_mixing_plain_and_odd_tickets_writes_every_one_right(tmp_path: Path) -> None:
    tickets = [make_ticket(i, 100 + i, **({"requester_id": "x", "tags": "y"} if i % 3 == 0 else {}))
               for i in range(1, 301)]
    with SQLiteSink(tmp_path / "t.db") as sink:
        assert sink.write(page(tickets)).new == 300
    stored = _stored(tmp_path / "t.db", "tickets", TICKET_COLUMNS)
    assert stored == {t["id"]: _expected(TICKET_COLUMNS, t) for t in tickets}


def test_sideload_columns_hold_what_extract_gives(tmp_path: Path) -> None:
    users = [{**make_user(1, 100), "name": "Zoë \"Z\"", "active": "yes"},
             {**make_user(2, 100), "organization_id": True, "suspended": False, "url": 5}]
    with SQLiteSink(tmp_path / "t.db", include=["users"]) as sink:
        sink.write(page([make_ticket(1, 100)], users=users))
    columns = SIDELOAD_COLUMNS["users"]
    assert _stored(tmp_path / "t.db", "users", columns) == {u["id"]: _expected(columns, u) for u in users}


def test_rows_beyond_the_parameter_limit_go_in_several_statements(tmp_path: Path) -> None:
    """A build with a low host-parameter limit (999 before SQLite 3.32) still writes every row, bound columns
    included."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)
    extra = (Column("cf_1", Kind.NUMBER, ("cf_1",)),)
    conn.execute(create_table_sql(quote("tickets"), (*TICKET_COLUMNS, *extra), SQLITE_TYPES, "TEXT", key="UNIQUE"))
    tickets = [make_ticket(i, 100) for i in range(1, 24)]
    rows = [(orjson.dumps(t).decode(), float(t["id"])) for t in tickets]
    upsert_from_json(conn, quote("tickets"), TICKET_COLUMNS, tickets, rows, TICKET_GUARD, bound=extra)
    stored = _stored(tmp_path / "t.db", "tickets", (*TICKET_COLUMNS, *extra))
    assert stored == {t["id"]: (*_expected(TICKET_COLUMNS, t), float(t["id"])) for t in tickets}
    conn.close()


# integers up to 2**64 - 1: what orjson reads as an int (beyond int64, NULL in an INTEGER column)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8)
_json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
# decimals are left out on purpose: SQLite writes a decimal in a text column its own way (module docstring)
_FIELDS = [c.path[0] for c in TICKET_COLUMNS if c.name not in ("id", "generated_timestamp")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(_FIELDS), _json_values, max_size=6))
@example(changes={"url": 2**63})  # SQLite read a text column's integer beyond int64 as a real once
def test_any_json_values_give_the_columns_extract_gives(tmp_path: Path, changes: dict[str, Any]) -> None:
    ticket = make_ticket(1, 100, **changes)
    path = tmp_path / f"h{abs(hash(orjson.dumps(changes, option=orjson.OPT_SORT_KEYS)))}.db"
    with SQLiteSink(path) as sink:
        sink.write(page([ticket]))
    assert _stored(path, "tickets", TICKET_COLUMNS)[1] == _expected(TICKET_COLUMNS, ticket)
