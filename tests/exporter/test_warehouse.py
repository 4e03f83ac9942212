"""The analyst tables of a whole-account export, against a real seeded server on a real port, in every output
(SQLite, PostgreSQL, JSONL, Parquet): every table is there and agrees with the server's data (read
independently of the exporter); custom fields are named typed columns (JSON Lines keeps them in the objects);
after edits through the API (a field renamed, a new field, tags changed, a ticket reassigned twice) the next
run shows them and the field history has the exact sequence of changes; the README's example queries give the
answers computed from the server's data, in SQLite and in DuckDB over the Parquet output as the README says."""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa
import pytest

from tests.exporter.analyst._server import fetch_all, ticket_events, tickets
from tests.exporter.conftest import Output, server_config
from zendesk_export.exporter.analyst import (
    BINDING_TABLE,
    DERIVED_TABLES,
    comment_rows,
    custom_field_value_rows,
    field_history_rows,
    tag_rows,
)
from zendesk_export.exporter.engine import export_tickets, run_streams
from zendesk_export.exporter.sinks import TABLES, Column, Kind, read_jsonl_latest, read_jsonl_rows
from zendesk_export.exporter.sinks._columns import extract
from zendesk_export.exporter.sinks._sql import quote
from zendesk_export.testing import ZendeskServer

pytestmark = pytest.mark.whole_account

QUERIES = Path(__file__).resolve().parents[2] / "docs" / "queries"
ANALYST_TABLES = ("ticket_tags", "ticket_custom_field_values", "ticket_field_history", "ticket_comments",
                  "custom_field_columns")
UNSOLVED = ("new", "open", "pending", "hold")


def rows(output: Output, sql: str) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` read straight from the output (PostgreSQL: in the output's schema; Parquet: DuckDB
    over the output's ``latest.sql`` views; JSON Lines: its current rows loaded into SQLite)."""
    case = output.case
    if case.kind == "parquet":
        return _duckdb_rows(Path(case.out), sql)
    if case.kind == "jsonl":
        with _jsonl_in_sqlite(Path(case.out)) as conn:
            return [tuple(row) for row in conn.execute(sql)]
    if case.kind == "sqlite":
        with sqlite3.connect(str(case.path)) as conn:
            return [tuple(row) for row in conn.execute(sql)]
    import psycopg

    with psycopg.connect(case.dsn or "", autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{case.schema}"')
        return [tuple(row) for row in conn.execute(sql)]


def _state_rows(out: Path, name: str) -> list[dict[str, Any]]:
    """Rows of a state table the file outputs keep in their state file (``custom_field_columns``)."""
    return list(orjson.loads((out / "_state.json").read_bytes())["rows"].get(name, []))


def _duckdb_rows(out: Path, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` in DuckDB after ``.read DIR.parquet/latest.sql``, as the README shows (UTC days); dates as
    ISO text, as SQLite gives them."""
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute((out / "latest.sql").read_text())
        conn.register("custom_field_columns", pa.Table.from_pylist(_state_rows(out, "custom_field_columns")))
        return [tuple(v.isoformat() if isinstance(v, date) else v for v in row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()


@contextlib.contextmanager
def _jsonl_in_sqlite(out: Path) -> Iterator[sqlite3.Connection]:
    """The current rows of every table of a JSON Lines output, in an in-memory SQLite database: the stream
    tables with their declared columns and raw_json, the derived tables with theirs."""
    conn = sqlite3.connect(":memory:")
    children = {table.name: table.columns for table in DERIVED_TABLES}
    for name in orjson.loads((out / "_state.json").read_bytes())["tables"]:
        if name in children:
            columns = children[name]
            values = [[row.get(c.name) for c in columns] for row in read_jsonl_rows(out, name)]
        else:
            columns = (*TABLES[name].columns, Column("raw_json", Kind.JSON, ()))
            values = [[*extract(TABLES[name].columns, obj), orjson.dumps(obj).decode()]
                      for obj in read_jsonl_latest(out, name).values()]
        conn.execute(f'CREATE TABLE "{name}" ({", ".join(quote(c.name) for c in columns)})')
        conn.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})', values)
    binding = BINDING_TABLE.columns
    conn.execute(f"CREATE TABLE custom_field_columns ({', '.join(quote(c.name) for c in binding)})")
    conn.executemany("INSERT INTO custom_field_columns VALUES (?, ?, ?, ?, ?, ?)",
                     [[row[c.name] for c in binding] for row in _state_rows(out, "custom_field_columns")])
    try:
        yield conn
    finally:
        conn.close()


def _bindings(output: Output) -> dict[int, tuple[str, str, str]]:
    """field id → (column, kind, title) of the tickets' custom-field columns (the first column of each)."""
    found: dict[int, tuple[str, str, str]] = {}
    for field_id, column, kind, title in rows(output, 'SELECT "field_id", "column", "kind", "title" FROM '
                                                     "custom_field_columns WHERE \"object\" = 'tickets' "
                                                     'ORDER BY "column"'):
        found.setdefault(field_id, (column, kind, title))
    return found


def _truth(server: ZendeskServer) -> dict[str, Any]:
    with server.client() as http:
        return {"tickets": tickets(http), "events": ticket_events(http),
                "groups": fetch_all(http, "/api/v2/groups.json", "groups"),
                "metric_events": fetch_all(http, "/api/v2/incremental/ticket_metric_events.json",
                                           "ticket_metric_events", start_time=0)}


def assert_derived_tables_match(output: Output, truth: dict[str, Any]) -> None:
    current = truth["tickets"].values()
    assert set(rows(output, "SELECT ticket_id, tag FROM ticket_tags")) == {
        (r["ticket_id"], r["tag"]) for t in current for r in tag_rows(t)}
    assert set(rows(output, "SELECT ticket_id, field_id, value FROM ticket_custom_field_values")) == {
        (r["ticket_id"], r["field_id"], r["value"]) for t in current for r in custom_field_value_rows(t)}
    history = {(r["event_id"], r["field"], r["value"], r["previous_value"], r["author_id"])
               for e in truth["events"] for r in field_history_rows(e)}
    assert set(rows(output, "SELECT event_id, field, value, previous_value, author_id FROM ticket_field_history")
               ) == history
    assert set(rows(output, "SELECT id, ticket_id, body FROM ticket_comments")) == {
        (r["id"], r["ticket_id"], r["body"]) for e in truth["events"] for r in comment_rows(e)}


def assert_custom_columns_match(output: Output, truth: dict[str, Any]) -> None:
    """Each bound text/number column holds the ticket's value of its field (read from the ticket's list)."""
    bound = _bindings(output)
    assert bound, "no custom-field column was bound"
    for field_id, (column, kind, _title) in bound.items():
        if kind not in ("text", "integer", "boolean"):
            continue
        stored = dict(rows(output, f'SELECT id, "{column}" FROM tickets'))
        for ticket in truth["tickets"].values():
            value = next((f["value"] for f in ticket.get("custom_fields") or [] if f["id"] == field_id), None)
            if kind == "boolean":
                assert (stored[ticket["id"]] in (1, True)) == (value is True), (column, ticket["id"])
            elif kind == "text" and isinstance(value, str):
                assert stored[ticket["id"]] == value, (column, ticket["id"])


def assert_person_columns_match(output: Output, server: ZendeskServer) -> None:
    """Users' and organizations' text columns hold the value of their field, found by the field's key."""
    bound = rows(output, 'SELECT "object", "field_key", "column" FROM custom_field_columns '
                         "WHERE \"object\" <> 'tickets' AND \"kind\" = 'text'")
    assert {obj for obj, _key, _column in bound} == {"users", "organizations"}
    with server.client() as http:
        people = {obj: fetch_all(http, f"/api/v2/{obj}.json", obj) for obj in ("users", "organizations")}
    checked = 0
    for obj, key, column in bound:
        stored = dict(rows(output, f'SELECT id, "{column}" FROM {obj}'))
        for person in people[obj]:
            value = (person.get(obj[:-1] + "_fields") or {}).get(key)
            assert stored[person["id"]] == value, (obj, column, person["id"])
            checked += value is not None
    assert checked >= 2


def _put(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.put(path, json=body)
    assert response.is_success, response.text
    return dict(response.json())


def edit(server: ZendeskServer, truth: dict[str, Any]) -> dict[str, Any]:
    """A field renamed, a new field set on a ticket, tags changed, a ticket reassigned twice (a minute apart)."""
    editable = [t for t in truth["tickets"].values() if t["status"] not in ("closed", "deleted")]
    reassigned, retagged = editable[0]["id"], editable[1]["id"]
    with server.client() as http:
        agents = [u["id"] for u in fetch_all(http, "/api/v2/users.json", "users") if u["role"] in ("agent", "admin")]
        _put(http, "/api/v2/ticket_fields/360001.json", {"ticket_field": {"title": "Order reference"}})
        created = http.post("/api/v2/ticket_fields.json", json={"ticket_field": {"type": "text",
                                                                                  "title": "Contract code"}})
        assert created.is_success, created.text
        new_field = created.json()["ticket_field"]["id"]
        steps = [(reassigned, {"assignee_id": agents[0]}), (reassigned, {"assignee_id": agents[1]}),
                 (retagged, {"tags": ["refund", "escalated"],
                             "custom_fields": [{"id": new_field, "value": "C-42"}]})]
        for ticket_id, fields in steps:
            server.admin.advance(60)
            _put(http, f"/api/v2/tickets/{ticket_id}.json", {"ticket": fields})
    server.admin.advance(61)
    return {"reassigned": reassigned, "agents": agents[:2], "retagged": retagged, "new_field": new_field}


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "jsonl", "parquet"])
def test_the_analyst_tables_hold_the_server_data_and_follow_edits(zendesk_server, new_output, kind):
    zendesk_server.admin.seed(tickets=30, random_seed=9)
    with zendesk_server.client() as http:  # one custom value on a user and an organization
        # an end user: the demo users outlive the account's reset, and the tests after this one read them as recorded
        user = next(u["id"] for u in fetch_all(http, "/api/v2/users.json", "users") if u["role"] == "end-user")
        organization = fetch_all(http, "/api/v2/organizations.json", "organizations")[0]["id"]
        _put(http, f"/api/v2/users/{user}.json", {"user": {"user_fields": {"employee_id": "E-7"}}})
        _put(http, f"/api/v2/organizations/{organization}.json",
             {"organization": {"organization_fields": {"account_number": "A-9"}}})
    zendesk_server.admin.advance(61)
    output = new_output(kind)
    config = server_config(zendesk_server)
    first = run_streams(config, output.out)
    assert not first.failed, first.describe()
    truth = _truth(zendesk_server)
    assert_derived_tables_match(output, truth)
    if kind != "jsonl":  # JSON Lines has no typed columns: custom values stay in each object
        assert_custom_columns_match(output, truth)
        assert_person_columns_match(output, zendesk_server)
    order_column = _bindings(output)[360_001][0]
    assert order_column == "order_number"

    edited = edit(zendesk_server, truth)
    second = run_streams(config, output.out)
    assert not second.failed, second.describe()
    truth = _truth(zendesk_server)
    assert_derived_tables_match(output, truth)
    bound = _bindings(output)
    assert bound[360_001] == ("order_number", "text", "Order reference")  # renamed: the column stays
    assert bound[edited["new_field"]][:2] == ("contract_code", "text")  # a new field: a new column
    if kind != "jsonl":
        assert_custom_columns_match(output, truth)
        assert rows(output, f'SELECT contract_code FROM tickets WHERE id = {edited["retagged"]}') == [("C-42",)]
    assert set(rows(output, f'SELECT tag FROM ticket_tags WHERE ticket_id = {edited["retagged"]}')) == {
        ("refund",), ("escalated",)}
    changes = rows(output, "SELECT previous_value, value FROM ticket_field_history WHERE field = 'assignee_id' "
                           f"AND ticket_id = {edited['reassigned']} ORDER BY updated_at, event_id")
    first_agent, second_agent = (str(agent) for agent in edited["agents"])
    assert changes[-2:] == [(changes[-2][0], first_agent), (first_agent, second_agent)]
    if kind in ("sqlite", "parquet"):  # the README's two ways: SQLite, DuckDB over Parquet
        assert_queries_answer(output, truth)


def assert_queries_answer(output: Output, truth: dict[str, Any]) -> None:
    """The README's three queries, as written, on the exported file."""
    def query(name: str) -> list[tuple[Any, ...]]:
        return rows(output, (QUERIES / f"{name}.sql").read_text())

    names = {g["id"]: g["name"] for g in truth["groups"]}
    backlog = Counter((names.get(t["group_id"], "(no group)"), t["status"])
                      for t in truth["tickets"].values() if t["status"] in UNSOLVED)
    assert query("backlog_by_group_and_status") == sorted((g, s, n) for (g, s), n in backlog.items())
    first_replies = [e["status"]["calendar"] for e in truth["metric_events"]
                     if (e["metric"], e["type"], e["instance_id"]) == ("reply_time", "update_status", 1)]
    assert [(float(m), n) for m, n in query("median_first_reply_time")] == [
        (float(statistics.median(first_replies)), len(first_replies))]
    per_day = Counter((e["created_at"][:10], c["status"]) for e in truth["events"] for c in e["child_events"]
                      if c["event_type"] == "Change" and "status" in c)
    assert query("status_changes_per_day") == sorted((d, s, n) for (d, s), n in per_day.items())


def test_the_ticket_export_alone_writes_the_tickets_analyst_tables(zendesk_server, new_output):
    """``--streams tickets`` into SQLite: tags, custom values and named columns too (ticket_fields fetched
    to name them, not stored as a stream)."""
    zendesk_server.admin.seed(tickets=20, random_seed=3)
    zendesk_server.admin.advance(61)
    output = new_output("sqlite")
    summary = export_tickets(server_config(zendesk_server, out=output.out))
    assert summary.tickets == 20
    truth = _truth(zendesk_server)
    assert set(rows(output, "SELECT ticket_id, tag FROM ticket_tags")) == {
        (r["ticket_id"], r["tag"]) for t in truth["tickets"].values() for r in tag_rows(t)}
    assert_custom_columns_match(output, truth)
    assert rows(output, "SELECT count(*) FROM sqlite_master WHERE name = 'ticket_fields'") == [(0,)]
