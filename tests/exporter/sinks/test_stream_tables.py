"""The whole-account tables in every sink: newest version wins, child tables follow each written version,
columns added later are filled, a refresh marks what it did not see only when it completes, every page
commits with its stream's checkpoint, and the SQL and file sinks count the same rows as deleted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.exporter.sinks._pages import make_ticket
from tests.exporter.sinks.conftest import SINKS, SinkCase, make_case
from zendesk_export.exporter.sinks import (
    TABLES,
    Child,
    Column,
    Kind,
    StreamState,
    read_jsonl_rows,
    read_parquet_latest_table,
    read_parquet_rows,
)
from zendesk_export.exporter.sinks._tables import DELETED
from zendesk_export.exporter.sinks.jsonl import log_path
from zendesk_export.exporter.warehouse import stream_table

SOURCE = "http://127.0.0.1:1"


def _tags(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"user_id": user["id"], "tag": tag} for tag in user.get("tags", [])]


USERS = replace(
    TABLES["users"],
    children=(Child("user_tags", (Column("user_id", Kind.INTEGER, ()), Column("tag", Kind.TEXT, ())), "user_id",
                    ("user_id", "tag"), _tags),),
    enrich=lambda user: {**user, "tier": user.get("user_fields", {}).get("tier")},
)


def user(user_id: int, updated: str, tags: list[str], tier: str = "gold") -> dict[str, Any]:
    return {"id": user_id, "name": f"user {user_id}", "updated_at": updated, "tags": tags,
            "user_fields": {"tier": tier}}


def state(stream: str, position: str, refresh: int = 0, complete: bool = False) -> StreamState:
    return StreamState(stream, "list" if refresh else "time", position, SOURCE, refresh, complete)


@pytest.fixture(params=SINKS)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SinkCase]:
    """Every sink in turn (the SQL ones and the file outputs, whose tables are read back as rows)."""
    yield from make_case(request.param, tmp_path)


def column(case: SinkCase, table: str, name: str, where: str = "") -> list[Any]:
    """The values of one column of a table's current rows, sorted (``where``: a boolean column that must hold)."""
    if case.kind == "jsonl":
        found = read_jsonl_rows(case.out, table)
    elif case.kind == "parquet":
        found = read_parquet_rows(case.out, table)
    else:
        condition = f' WHERE "{where}"' if where else ""
        return sorted(case.query(f'SELECT "{name}" FROM "{table}"{condition}'))
    return sorted(row.get(name) for row in found if not where or row.get(where) is True)


def test_children_follow_the_newest_version_and_added_columns_are_filled(sql: SinkCase) -> None:
    with sql.open() as sink:
        sink.write_stream(USERS, [user(1, "2024-01-02T00:00:00Z", ["a", "b"])], state("users", "100"))
        assert [c.name for c in sink.add_columns(USERS, [Column("tier", Kind.TEXT, ("tier",))])] == ["tier"]
        assert sink.add_columns(USERS, [Column("tier", Kind.TEXT, ("tier",))]) == []
        newer = sink.write_stream(USERS, [user(1, "2024-01-03T00:00:00Z", ["c"], "silver")], state("users", "200"))
        older = sink.write_stream(USERS, [user(1, "2024-01-01T00:00:00Z", ["old"])], state("users", "300"))
        assert (newer.updated, older.unchanged) == (1, 1)
        assert sink.load_stream_state("users") == replace(state("users", "300"),
                                                          written_at=sink.load_stream_state("users").written_at)
    assert column(sql, "user_tags", "tag") == ["c"]
    if sql.kind != "jsonl":  # JSON Lines has no typed columns
        tier = read_parquet_latest_table(sql.out, "users").column("tier").to_pylist() if sql.kind == "parquet" \
            else sql.query('SELECT tier FROM "users"')
        assert tier == ["silver"]
    assert sql.latest("users")[1]["user_fields"] == {"tier": "silver"}  # raw_json as received


def test_a_refresh_marks_what_it_did_not_see_only_when_complete(sql: SinkCase) -> None:
    groups = TABLES["groups"]
    first = [{"id": n, "name": f"g{n}", "updated_at": "2024-01-01T00:00:00Z"} for n in (1, 2, 3)]
    with sql.open() as sink:
        sink.write_stream(groups, first, state("groups", "", 1, True), finish=True)
        sink.write_stream(groups, first[:1], state("groups", "cursor-1", 2))
        assert column(sql, "groups", "id", where="_deleted") == []  # not complete yet
        done = sink.write_stream(groups, [], state("groups", "", 2, True), finish=True)
        assert done.deleted == 2
        back = sink.write_stream(groups, first[1:2], state("groups", "", 3, True), finish=True)
        assert back.deleted == 1  # 1 unseen now; 2 came back
        status = {item.stream: item for item in sink.stream_status([groups])}
    assert column(sql, "groups", "id", where="_deleted") == [1, 3]
    assert status["groups"].rows == 3 and status["groups"].deleted == 2


def test_sql_and_file_sinks_count_the_same_rows_as_deleted_by_zendesk(sql: SinkCase) -> None:
    users = [{"id": 1, "active": True}, {"id": 2, "active": False}, {"id": 3}]
    organizations = [{"id": 1, "deleted_at": None}, {"id": 2, "deleted_at": "2024-01-01T00:00:00Z"}]
    with sql.open() as sink:
        sink.write_stream(TABLES["users"], users, state("users", "1"))
        sink.write_stream(TABLES["organizations"], organizations, state("organizations", "1"))
        status = {item.stream: item for item in sink.stream_status([TABLES["users"], TABLES["organizations"]])}
    assert (status["users"].rows, status["users"].deleted) == (3, 1)
    assert (status["organizations"].rows, status["organizations"].deleted) == (2, 1)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_child_keyed_by_another_column_is_found_by_its_parent_through_an_index(kind: str, tmp_path: Path) -> None:
    """Refreshing a parent deletes its child rows by the parent column; when the child's key does not lead with
    that column (``ticket_comments``: key ``id``, parent ``audit_id``), a scan per parent made a whole-account
    export quadratic. The planner must find an index on that column."""
    by_tag = Child("tag_users", (Column("tag", Kind.TEXT, ()), Column("user_id", Kind.INTEGER, ())), "user_id",
                   ("tag", "user_id"), _tags)
    users = replace(USERS, children=(by_tag,))
    for case in make_case(kind, tmp_path):
        with case.open() as sink:
            sink.write_stream(users, [user(1, "2024-01-02T00:00:00Z", ["a"])], state("users", "1"))
            sink.write_stream(users, [user(1, "2024-01-03T00:00:00Z", ["b"])], state("users", "2"))
        assert column(case, "tag_users", "tag") == ["b"]
        assert "tag_users_user_id" in _plan(case, 'DELETE FROM "tag_users" WHERE "user_id" = 1')  # its index


def _plan(case: SinkCase, sql: str) -> str:
    """The query plan of ``sql`` in ``case``'s database (PostgreSQL: with scans made as costly as they go, so a
    tiny table still shows an index the planner has)."""
    if case.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(str(case.path)) as conn:
            return " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    import psycopg

    with psycopg.connect(case.dsn or "", autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{case.schema}"')
        conn.execute("SET enable_seqscan = off")
        return " ".join(str(row[0]) for row in conn.execute(f"EXPLAIN {sql}"))


def _scores(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"user_id": user["id"], "tag": tag, "score": user.get("score")} for tag in user.get("tags", [])]


def test_an_odd_value_in_a_child_row_is_stored_as_best_it_can_without_failing_the_page(sql: SinkCase) -> None:
    """A NUL in a text (PostgreSQL refuses it in TEXT) and an integer beyond 64 bits (SQLite and PostgreSQL
    cannot bind it) in a derived row: the page is written, the text without its NUL where the database needs
    that, the integer NULL in a typed column (JSON Lines keeps the value as received)."""
    scores = Child("user_scores", (Column("user_id", Kind.INTEGER, ()), Column("tag", Kind.TEXT, ()),
                                   Column("score", Kind.INTEGER, ())), "user_id", ("user_id", "tag"), _scores)
    users = replace(USERS, children=(scores,))
    odd = {**user(1, "2024-01-02T00:00:00Z", ["a\x00b"]), "score": 2**64 - 1}
    with sql.open() as sink:
        assert sink.write_stream(users, [odd], state("users", "1")).new == 1
    assert column(sql, "user_scores", "tag") == (["ab"] if sql.kind == "postgres" else ["a\x00b"])
    assert column(sql, "user_scores", "score") == ([2**64 - 1] if sql.kind == "jsonl" else [None])


def test_a_key_derived_twice_keeps_its_last_row_in_every_output(sql: SinkCase) -> None:
    """An audit that names one custom field both in its ``custom_fields`` list and by its id derives two
    ``ticket_field_history`` rows with one key: the SQL outputs' primary key refused the page (and the stream
    stopped there for good); every output now keeps the last, as the file outputs always did."""
    event = {"id": 10, "ticket_id": 1, "timestamp": 5, "created_at": "2024-01-01T00:00:00Z", "updater_id": 2,
             "event_type": "Audit", "child_events": [
                 {"id": 11, "event_type": "Change", "custom_fields": [{"id": 7, "value": "a"}], "7": "b"},
                 {"id": 12, "event_type": "Change", "status": "open", "previous_value": "new"}]}
    with sql.open() as sink:
        assert sink.write_stream(stream_table("ticket_events"), [event], state("ticket_events", "1")).new == 1
    assert column(sql, "ticket_field_history", "field") == ["custom_fields.7", "status"]
    assert column(sql, "ticket_field_history", "value") == ["b", "open"]


def test_a_child_row_whose_key_would_be_null_is_left_out_and_the_page_written(sql: SinkCase) -> None:
    """A child event without an integer id, a custom field id beyond 64 bits: PostgreSQL's primary keys and
    Parquet's ``id`` refused their NULL keys, failing the page on every run; no output gives them a row."""
    event = {"id": 10, "ticket_id": 1, "timestamp": 5, "created_at": "2024-01-01T00:00:00Z", "updater_id": 2,
             "event_type": "Audit", "child_events": [
                 {"event_type": "Change", "status": "open", "previous_value": "new"},
                 {"event_type": "Comment", "body": "no id", "public": True},
                 {"id": 12, "event_type": "Comment", "body": "kept", "public": True}]}
    ticket = make_ticket(1, 1_700_000_000, custom_fields=[{"id": 2**64 - 1, "value": "x"}, {"id": 5, "value": "y"}])
    with sql.open() as sink:
        assert sink.write_stream(stream_table("ticket_events"), [event], state("ticket_events", "1")).new == 1
        assert sink.write_stream(stream_table("tickets"), [ticket], state("tickets", "1")).new == 1
    assert column(sql, "ticket_field_history", "field") == []
    assert column(sql, "ticket_comments", "body") == ["kept"]
    assert column(sql, "ticket_custom_field_values", "field_id") == [5]


def test_a_child_event_id_another_audit_already_used_keeps_the_newest_row(sql: SinkCase) -> None:
    """Two audits whose child events share an id (a hostile or broken source; Zendesk's ids are unique): every
    output keeps the newest row of the key, where SQLite's and PostgreSQL's primary key used to refuse the
    second page, and the stream stopped there on every run."""

    def audit(audit_id: int, fields: dict[str, str]) -> dict[str, Any]:
        return {"id": audit_id, "ticket_id": 1, "timestamp": audit_id, "created_at": "2024-01-01T00:00:00Z",
                "event_type": "Audit", "child_events": [
                    {"id": 11, "event_type": "Change", **fields, "previous_value": "new"},
                    {"id": 12, "event_type": "Comment", "body": f"c{audit_id}", "public": True}]}

    with sql.open() as sink:
        sink.write_stream(stream_table("ticket_events"), [audit(10, {"status": "s10", "priority": "p10"})],
                          state("ticket_events", "1"))
        assert sink.write_stream(stream_table("ticket_events"), [audit(20, {"status": "s20"})],
                                 state("ticket_events", "2")).new == 1
    assert sorted(column(sql, "ticket_field_history", "value")) == ["p10", "s20"]
    assert column(sql, "ticket_field_history", "audit_id") == [10, 20]  # priority kept from the older audit
    assert column(sql, "ticket_comments", "body") == ["c20"]


def test_a_page_with_thousands_of_child_rows_writes_every_one_once(sql: SinkCase) -> None:
    """1,000 users with 3 tags each and one with 7: 3,007 child rows, more than one SQL statement holds (SQLite
    writes them as several multi-row INSERTs of different sizes), every one stored once."""
    users = [user(i, "2024-01-02T00:00:00Z", [f"t{i}-{k}" for k in range(3)]) for i in range(1, 1001)]
    users.append(user(1001, "2024-01-02T00:00:00Z", [f"t1001-{k}" for k in range(7)]))
    with sql.open() as sink:
        assert sink.write_stream(USERS, users, state("users", "1")).new == 1001
    expected = sorted([f"t{i}-{k}" for i in range(1, 1001) for k in range(3)] + [f"t1001-{k}" for k in range(7)])
    assert column(sql, "user_tags", "tag") == expected


def test_a_page_brought_again_is_compared_with_every_stored_row(sql: SinkCase) -> None:
    """More ids in a page than one ``IN (…)`` of SQLite holds (PostgreSQL reads them in one array): every stored
    row is found, so the page brought again is unchanged but for the one row that changed."""
    users = [user(i, "2024-01-02T00:00:00Z", ["a"]) for i in range(1, 1202)]
    with sql.open() as sink:
        sink.write_stream(USERS, users, state("users", "1"))
        again = sink.write_stream(USERS, [*users[:-1], user(1201, "2024-01-03T00:00:00Z", ["b"])],
                                  state("users", "2"))
    assert (again.new, again.updated, again.unchanged) == (0, 1, 1200)
    assert column(sql, "user_tags", "tag") == ["a"] * 1200 + ["b"]


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_a_file_outputs_child_rows_with_a_repeated_or_unhashable_key_are_compared_by_key(kind: str,
                                                                                        tmp_path: Path) -> None:
    """The file outputs compare a parent's new child rows with its stored ones by key: a key listed twice keeps
    its last row, and a key holding a list (which cannot be hashed) is compared by its JSON text, on the first
    version of a parent as on the next."""
    def tag_rows(user: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"user_id": user["id"], "tag": tag, "note": note} for tag, note in user["tags"]]

    child = Child("user_notes", (Column("user_id", Kind.INTEGER, ()), Column("tag", Kind.TEXT, ()),
                                 Column("note", Kind.TEXT, ())), "user_id", ("user_id", "tag"), tag_rows)
    users = replace(USERS, children=(child,))
    for case in make_case(kind, tmp_path):
        with case.open() as sink:
            sink.write_stream(users, [user(1, "2024-01-02T00:00:00Z", [("a", "1"), (["x"], "2"), ("a", "3")])],
                              state("users", "1"))
            assert sorted(map(str, column(case, "user_notes", "note"))) == ["2", "3"]
            sink.write_stream(users, [user(1, "2024-01-03T00:00:00Z", [(["x"], "2"), ("b", "4")])],
                              state("users", "2"))
        assert sorted(map(str, column(case, "user_notes", "note"))) == ["2", "4"]
        if kind == "jsonl":  # the log: the list-keyed row unchanged is not written again, "a" is marked gone
            logged = [orjson.loads(line) for line in log_path(case.out, "user_notes").read_bytes().splitlines()]
            assert [(row["tag"], row.get("note"), row.get(DELETED)) for row in logged] == [
                ("a", "3", None), (["x"], "2", None), ("b", "4", None), ("a", None, True)]
