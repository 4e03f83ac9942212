"""JSONL output: a directory of append-only logs under one state file; torn tails are cut, foreign and
earlier-layout outputs refused, O(page)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from zendesk_export.exporter.sinks import (
    TABLES,
    ForeignOutputError,
    JsonlSink,
    OutputCorruptError,
    OutputInUseError,
    StreamState,
    read_jsonl_latest,
    read_jsonl_rows,
)
from zendesk_export.exporter.sinks.jsonl import log_path
from zendesk_export.exporter.warehouse import stream_table

from ._pages import SOURCE, make_ticket, make_user, page


def _written(tmp_path: Path, *tickets: dict[str, object]) -> Path:
    out = tmp_path / "export.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page(list(tickets), 1))
    return out


def _state(out: Path) -> dict[str, object]:
    state: dict[str, object] = orjson.loads((out / "_state.json").read_bytes())
    return state


def test_one_line_per_version_as_received(tmp_path: Path) -> None:
    first, second = make_ticket(1, 1), make_ticket(1, 2, status="solved")
    out = _written(tmp_path, first)
    with JsonlSink(out) as sink:
        sink.write(page([second], 2))
    assert log_path(out).read_bytes() == orjson.dumps(first) + b"\n" + orjson.dumps(second) + b"\n"
    assert log_path(out) == out / "tickets" / "tickets.jsonl"
    assert read_jsonl_latest(out) == {1: second}


def test_torn_last_line_is_cut_back_to_the_committed_length(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 1))
    committed = log_path(out).read_bytes()
    with log_path(out).open("ab") as handle:
        handle.write(orjson.dumps(make_ticket(2, 2))[:57])  # a crash in the middle of the next page
    with JsonlSink(out) as sink:
        assert log_path(out).read_bytes() == committed
        sink.write(page([make_ticket(2, 2)], 2))
    assert set(read_jsonl_latest(out)) == {1, 2}
    assert all(orjson.loads(line) for line in log_path(out).read_bytes().splitlines())


def test_complete_lines_past_the_checkpoint_are_discarded(tmp_path: Path) -> None:
    """Lines synced but not covered by the state file belong to a page whose checkpoint never landed."""
    out = _written(tmp_path, make_ticket(1, 1))
    with log_path(out).open("ab") as handle:
        handle.write(orjson.dumps(make_ticket(2, 2)) + b"\n")
    assert set(read_jsonl_latest(out)) == {1}, "readers ignore uncommitted lines"
    with JsonlSink(out) as sink:
        assert sink.write(page([make_ticket(2, 2)], 2)).new == 1
    assert log_path(out).read_bytes().count(b"\n") == 2


def test_a_table_whose_first_write_never_committed_is_removed(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 1))
    (out / "users").mkdir()
    log_path(out, "users").write_bytes(orjson.dumps(make_user(3, 100)) + b"\n")
    with JsonlSink(out):
        assert not (out / "users").exists()


def test_a_log_shorter_than_its_checkpoint_is_reported_not_repaired(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 1), make_ticket(2, 1))
    log_path(out).write_bytes(log_path(out).read_bytes()[:10])
    with pytest.raises(OutputCorruptError, match="committed"):
        JsonlSink(out)


def test_an_output_of_the_earlier_one_file_layout_is_refused_naming_the_new_one(tmp_path: Path) -> None:
    out = tmp_path / "tickets.jsonl"
    out.write_bytes(orjson.dumps(make_ticket(1, 1)) + b"\n")
    (tmp_path / "tickets.jsonl.state.json").write_bytes(b'{"format": "zendesk-export/jsonl", "version": 1}')
    with pytest.raises(ForeignOutputError, match=r"earlier one-file layout.*DIR\.jsonl/tickets/tickets\.jsonl"):
        JsonlSink(out)
    assert out.read_bytes() == orjson.dumps(make_ticket(1, 1)) + b"\n"


def test_foreign_state_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    out.mkdir()
    (out / "_state.json").write_text('{"something": "else"}')
    with pytest.raises(ForeignOutputError, match="not a zendesk-export state file"):
        JsonlSink(out)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    with JsonlSink(tmp_path / "export.jsonl"), pytest.raises(OutputInUseError):
        JsonlSink(tmp_path / "export.jsonl")


def test_a_write_appends_and_never_rewrites_earlier_bytes(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page([make_ticket(i, 1) for i in range(100)], 1))
        before = log_path(out).read_bytes()
        sink.write(page([make_ticket(i, 2) for i in range(5)], 2))
    after = log_path(out).read_bytes()
    assert after.startswith(before)
    assert after[len(before) :].count(b"\n") == 5


def test_state_file_does_not_grow_with_the_number_of_tickets(tmp_path: Path) -> None:
    """The write path stays O(page): the state holds lengths and checkpoints, never a per-ticket index."""
    out = tmp_path / "export.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page([make_ticket(i, 1) for i in range(10)], 1))
        small = (out / "_state.json").stat().st_size
        sink.write(page([make_ticket(i, 1) for i in range(10, 2000)], 2))
    assert _state(out)["tables"] == {"tickets": {"position": log_path(out).stat().st_size}}
    assert (out / "_state.json").stat().st_size <= small + 8, "only the length's and the page's digits grew"


def test_upsert_index_is_rebuilt_on_open(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 5), make_ticket(2, 5, status="deleted"))
    (out / "_index.db").unlink()
    with JsonlSink(out) as sink:
        result = sink.write(page([make_ticket(1, 5), make_ticket(1, 4), make_ticket(2, 6, status="deleted")], 2))
    assert (result.unchanged, result.updated, result.deleted) == (2, 1, 0)


def test_sideloads_go_to_the_tables_of_their_streams(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with JsonlSink(out, include=["users"]) as sink:
        sink.write(page([make_ticket(1, 1)], 1, users=[make_user(3, 100)], groups=[{"id": 4, "name": "Tier 2"}]))
    assert log_path(out, "users") == out / "users" / "users.jsonl"
    assert read_jsonl_latest(out, "users") == {3: make_user(3, 100)}
    assert read_jsonl_latest(out, "groups") == {4: {"id": 4, "name": "Tier 2"}}


def test_child_rows_follow_the_parents_newest_version_through_deletion_marks(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with JsonlSink(out) as sink:
        sink.use_table(stream_table("tickets"))
        sink.write(page([make_ticket(1, 1, tags=["vip", "refund"])], 1))
        sink.write(page([make_ticket(1, 2, tags=["refund", "late"])], 2))
        sink.write(page([make_ticket(1, 1, tags=["stale"])], 3))  # older: changes nothing
    assert log_path(out, "ticket_tags").read_bytes().splitlines()[-2:] == [
        b'{"ticket_id":1,"tag":"late"}', b'{"ticket_id":1,"tag":"vip","_deleted":true}']
    assert sorted(row["tag"] for row in read_jsonl_rows(out, "ticket_tags")) == ["late", "refund"]


def test_a_reference_row_a_refresh_did_not_see_is_kept_marked_deleted_until_seen_again(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    brand = {"id": 1, "name": "Acme", "updated_at": "2024-01-01T00:00:00Z"}
    other = {**brand, "id": 2, "name": "Beta"}

    def refresh(number: int, *objects: dict[str, object]) -> int:
        with JsonlSink(out) as sink:
            state = StreamState("brands", "list", "", SOURCE, number, complete=True)
            return sink.write_stream(TABLES["brands"], list(objects), state, finish=True).deleted

    assert refresh(1, brand, other) == 0
    assert refresh(2, brand) == 1
    assert read_jsonl_latest(out, "brands") == {1: brand, 2: {**other, "_deleted": True}}
    assert refresh(3, brand) == 0, "marked once"
    assert refresh(4, brand, other) == 0
    assert read_jsonl_latest(out, "brands") == {1: brand, 2: other}
    with JsonlSink(out) as sink:
        [status] = sink.stream_status([TABLES["brands"]])
    assert (status.rows, status.deleted, status.state and status.state.refresh) == (2, 0, 4)
