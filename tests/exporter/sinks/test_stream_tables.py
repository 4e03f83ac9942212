"""The whole-account tables in both SQL sinks: newest version wins, child tables follow each written version,
columns added later are filled, a refresh marks what it did not see only when it completes, and every page
commits with its stream's checkpoint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.exporter.sinks.conftest import SinkCase, make_case
from zendesk_export.exporter.sinks import TABLES, Child, Column, Kind, StreamState

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


@pytest.fixture(params=["sqlite", "postgres"])
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SinkCase]:
    yield from make_case(request.param, tmp_path)


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
    assert sql.query('SELECT tag FROM "user_tags" ORDER BY tag') == ["c"]
    assert sql.query('SELECT tier FROM "users"') == ["silver"]
    assert sql.latest("users")[1]["user_fields"] == {"tier": "silver"}  # raw_json as received


def test_a_refresh_marks_what_it_did_not_see_only_when_complete(sql: SinkCase) -> None:
    groups = TABLES["groups"]
    first = [{"id": n, "name": f"g{n}", "updated_at": "2024-01-01T00:00:00Z"} for n in (1, 2, 3)]
    with sql.open() as sink:
        sink.write_stream(groups, first, state("groups", "", 1, True), finish=True)
        sink.write_stream(groups, first[:1], state("groups", "cursor-1", 2))
        assert sql.query('SELECT count(*) FROM "groups" WHERE "_deleted"') == [0]  # not complete yet
        done = sink.write_stream(groups, [], state("groups", "", 2, True), finish=True)
        assert done.deleted == 2
        back = sink.write_stream(groups, first[1:2], state("groups", "", 3, True), finish=True)
        assert back.deleted == 1  # 1 unseen now; 2 came back
        status = {item.stream: item for item in sink.stream_status([groups])}
    assert sql.query('SELECT id FROM "groups" WHERE NOT "_deleted"') == [2]
    assert status["groups"].rows == 3 and status["groups"].deleted == 2
