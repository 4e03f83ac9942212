"""The README's example queries (docs/queries/*.sql) run as written in SQLite and in DuckDB over Parquet, on
tables filled from a seeded server's responses (derived tables by the analyst functions), and give the answers
computed from the same responses in plain Python."""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.exporter.analyst._server import fetch_all, ticket_events, tickets
from zendesk_export.exporter.analyst import BINDING_TABLE, derived_tables
from zendesk_export.exporter.sinks._columns import (
    SIDELOAD_COLUMNS,
    TICKET_COLUMNS,
    Column,
    Kind,
    extract,
    parse_timestamp,
)
from zendesk_export.exporter.sinks.sqlite import SQLITE_TYPES
from zendesk_export.testing import ZendeskAccount

QUERIES = Path(__file__).resolve().parents[3] / "docs" / "queries"
UNSOLVED = ("new", "open", "pending", "hold")


def _columns(*specs: tuple[str, Kind]) -> tuple[Column, ...]:
    return tuple(Column(name, kind, (name,)) for name, kind in specs)


#: The ticket_metric_events stream's typed columns (raw_json beside them, as every stream table has).
METRIC_EVENT_COLUMNS = _columns(("id", Kind.INTEGER), ("ticket_id", Kind.INTEGER), ("metric", Kind.TEXT),
                                ("instance_id", Kind.INTEGER), ("type", Kind.TEXT), ("time", Kind.TIMESTAMP),
                                ("deleted", Kind.BOOLEAN))
_ARROW = {Kind.INTEGER: pa.int64(), Kind.TEXT: pa.string(), Kind.BOOLEAN: pa.bool_(), Kind.JSON: pa.string(),
          Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"), Kind.NUMBER: pa.float64()}
RAW = Column("raw_json", Kind.JSON, ())


class Tables:
    """The same tables in a SQLite database and as Parquet files behind DuckDB views."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite = sqlite3.connect(folder / "warehouse.db")
        self.duckdb = duckdb.connect()
        self.duckdb.execute("SET TimeZone = 'UTC'")

    def add(self, name: str, columns: tuple[Column, ...], rows: list[list[Any]]) -> None:
        names = ", ".join(f'"{c.name}" {SQLITE_TYPES[c.kind]}' for c in columns)
        self.sqlite.execute(f'CREATE TABLE "{name}" ({names})')
        self.sqlite.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})', rows)
        arrays = [pa.array([parse_timestamp(r[i]) if c.kind is Kind.TIMESTAMP else r[i] for r in rows],
                           type=_ARROW[c.kind]) for i, c in enumerate(columns)]
        (self.folder / name).mkdir()
        path = self.folder / name / "part-00000001.parquet"
        pq.write_table(pa.Table.from_arrays(arrays, names=[c.name for c in columns]), path)
        self.duckdb.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')")

    def add_objects(self, name: str, columns: tuple[Column, ...], objects: list[dict[str, Any]]) -> None:
        self.add(name, (*columns, RAW), [[*extract(columns, o), orjson.dumps(o).decode()] for o in objects])

    def run(self, query: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return self.sqlite.execute(query).fetchall(), self.duckdb.execute(query).fetchall()

    def close(self) -> None:
        self.sqlite.close()
        self.duckdb.close()


@pytest.fixture(scope="module")
def seeded(_zendesk_accounts_admin: Any) -> Iterator[dict[str, Any]]:
    """A seeded account's tickets, groups, ticket events and metric events, as the streams fetch them."""
    account = ZendeskAccount.create(_zendesk_accounts_admin)
    try:
        account.admin.seed(tickets=400, random_seed=12)
        account.admin.advance(61)
        with account.client() as client:
            yield {
                "tickets": list(tickets(client).values()),
                "groups": fetch_all(client, "/api/v2/groups.json", "groups"),
                "ticket_events": ticket_events(client),
                "ticket_metric_events": fetch_all(client, "/api/v2/incremental/ticket_metric_events.json",
                                                  "ticket_metric_events", start_time=0),
                "ticket_metrics": fetch_all(client, "/api/v2/ticket_metrics.json", "ticket_metrics"),
            }
    finally:
        account.delete()
        account.admin.close()


@pytest.fixture(scope="module")
def tables(seeded: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    made = Tables(tmp_path_factory.mktemp("warehouse"))
    made.add_objects("tickets", TICKET_COLUMNS, seeded["tickets"])
    made.add_objects("groups", SIDELOAD_COLUMNS["groups"], seeded["groups"])
    made.add_objects("ticket_metric_events", METRIC_EVENT_COLUMNS, seeded["ticket_metric_events"])
    for parent in ("tickets", "ticket_events"):
        for table in derived_tables(parent):
            rows = [row for obj in seeded[parent] for row in table.derive(obj)]
            made.add(table.name, table.columns, [list(row.values()) for row in rows])
    yield made
    made.close()


def _query(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text()


def _both(tables: Tables, name: str, normal: Callable[[tuple[Any, ...]], tuple[Any, ...]] = tuple
          ) -> list[tuple[Any, ...]]:
    """The query's rows, which SQLite and DuckDB must agree on (after ``normal``, e.g. a date as text)."""
    in_sqlite, in_duckdb = tables.run(_query(name))
    assert [normal(r) for r in in_sqlite] == [normal(r) for r in in_duckdb]
    return [normal(r) for r in in_sqlite]


def test_backlog_by_group_and_status(tables: Tables, seeded: dict[str, Any]) -> None:
    names = {g["id"]: g["name"] for g in seeded["groups"]}
    expected = Counter((names.get(t["group_id"], "(no group)"), t["status"])
                       for t in seeded["tickets"] if t["status"] in UNSOLVED)
    rows = _both(tables, "backlog_by_group_and_status")
    assert rows == sorted((group, status, n) for (group, status), n in expected.items())
    assert len({group for group, _, _ in rows}) > 2


def test_median_first_reply_time(tables: Tables, seeded: dict[str, Any]) -> None:
    """The median of the first replies' minutes, which are also each ticket's reply_time_in_minutes."""
    first = {e["ticket_id"]: e["status"]["calendar"] for e in seeded["ticket_metric_events"]
             if (e["metric"], e["type"], e["instance_id"]) == ("reply_time", "update_status", 1)}
    per_ticket = {m["ticket_id"]: m["reply_time_in_minutes"]["calendar"] for m in seeded["ticket_metrics"]
                  if m["reply_time_in_minutes"]["calendar"] is not None}
    assert {i: first[i] for i in per_ticket} == per_ticket  # deleted tickets have events, no metrics
    minutes = list(first.values())
    assert len(minutes) > 50
    assert _both(tables, "median_first_reply_time", lambda r: (float(r[0]), r[1])) == [
        (float(statistics.median(minutes)), len(minutes))]


def test_status_changes_per_day(tables: Tables, seeded: dict[str, Any]) -> None:
    expected = Counter((event["created_at"][:10], child["status"]) for event in seeded["ticket_events"]
                       for child in event["child_events"]
                       if child["event_type"] == "Change" and "status" in child)
    rows = _both(tables, "status_changes_per_day", lambda r: (str(r[0]), r[1], r[2]))
    assert rows == sorted((day, status, n) for (day, status), n in expected.items())
    assert sum(n for _, _, n in rows) > 100


def test_the_readme_lists_every_derived_table_with_its_key_and_every_query() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("## Tables for analysts", 1)[1].split("\n## ", 1)[0]
    for table in (*derived_tables("tickets"), *derived_tables("ticket_events"), BINDING_TABLE):
        assert f"| `{table.name}` | `{', '.join(table.key)}` |" in section, table.name
    assert sorted(p.name for p in QUERIES.glob("*.sql")) == [
        "backlog_by_group_and_status.sql", "median_first_reply_time.sql", "status_changes_per_day.sql"]
    assert "docs/queries/" in section
