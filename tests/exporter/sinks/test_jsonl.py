"""JSONL sink: an append-only log with a state file; torn tails are cut, foreign files refused, O(page)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from zendesk_export.exporter.sinks import (
    ForeignOutputError,
    JsonlSink,
    OutputCorruptError,
    OutputInUseError,
    read_jsonl_latest,
)
from zendesk_export.exporter.sinks.jsonl import log_path, state_path

from ._pages import make_ticket, make_user, page


def _written(tmp_path: Path, *tickets: dict[str, object]) -> Path:
    out = tmp_path / "tickets.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page(list(tickets), 1))
    return out


def _committed(out: Path) -> int:
    return int(orjson.loads(state_path(out).read_bytes())["lengths"]["tickets"])


def test_one_line_per_version_as_received(tmp_path: Path) -> None:
    first, second = make_ticket(1, 1), make_ticket(1, 2, status="solved")
    out = _written(tmp_path, first)
    with JsonlSink(out) as sink:
        sink.write(page([second], 2))
    assert out.read_bytes() == orjson.dumps(first) + b"\n" + orjson.dumps(second) + b"\n"
    assert read_jsonl_latest(out) == {1: second}


def test_torn_last_line_is_cut_back_to_the_committed_length(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 1))
    committed = out.read_bytes()
    with out.open("ab") as handle:
        handle.write(orjson.dumps(make_ticket(2, 2))[:57])  # a crash in the middle of the next page
    with JsonlSink(out) as sink:
        assert out.read_bytes() == committed
        sink.write(page([make_ticket(2, 2)], 2))
    assert set(read_jsonl_latest(out)) == {1, 2}
    assert all(orjson.loads(line) for line in out.read_bytes().splitlines())


def test_complete_lines_past_the_checkpoint_are_discarded(tmp_path: Path) -> None:
    """Lines synced but not covered by the state file belong to a page whose checkpoint never landed."""
    out = _written(tmp_path, make_ticket(1, 1))
    with out.open("ab") as handle:
        handle.write(orjson.dumps(make_ticket(2, 2)) + b"\n")
    assert set(read_jsonl_latest(out)) == {1}, "readers ignore uncommitted lines"
    with JsonlSink(out) as sink:
        assert sink.write(page([make_ticket(2, 2)], 2)).new == 1
    assert out.read_bytes().count(b"\n") == 2


def test_a_log_shorter_than_its_checkpoint_is_reported_not_repaired(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 1), make_ticket(2, 1))
    out.write_bytes(out.read_bytes()[:10])
    with pytest.raises(OutputCorruptError, match="committed"):
        JsonlSink(out)


def test_existing_jsonl_without_state_is_refused_untouched(tmp_path: Path) -> None:
    out = tmp_path / "tickets.jsonl"
    out.write_bytes(b'{"id": 1, "mine": true}\n')
    with pytest.raises(ForeignOutputError, match="no zendesk-export state"):
        JsonlSink(out)
    assert out.read_bytes() == b'{"id": 1, "mine": true}\n'
    assert not state_path(out).exists()


def test_foreign_state_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "tickets.jsonl"
    state_path(out).write_text('{"something": "else"}')
    with pytest.raises(ForeignOutputError, match="not a zendesk-export state file"):
        JsonlSink(out)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    with JsonlSink(tmp_path / "tickets.jsonl"), pytest.raises(OutputInUseError):
        JsonlSink(tmp_path / "tickets.jsonl")


def test_a_write_appends_and_never_rewrites_earlier_bytes(tmp_path: Path) -> None:
    out = tmp_path / "tickets.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page([make_ticket(i, 1) for i in range(100)], 1))
        before = out.read_bytes()
        sink.write(page([make_ticket(i, 2) for i in range(5)], 2))
    after = out.read_bytes()
    assert after.startswith(before)
    assert after[len(before) :].count(b"\n") == 5


def test_state_file_does_not_grow_with_the_number_of_tickets(tmp_path: Path) -> None:
    """The write path stays O(page): the state holds lengths and the checkpoint, never a per-ticket index."""
    out = tmp_path / "tickets.jsonl"
    with JsonlSink(out) as sink:
        sink.write(page([make_ticket(i, 1) for i in range(10)], 1))
        small = state_path(out).stat().st_size
        sink.write(page([make_ticket(i, 1) for i in range(10, 2000)], 2))
    state = orjson.loads(state_path(out).read_bytes())
    assert set(state) == {"format", "version", "checkpoint", "lengths"}
    assert state["lengths"] == {"tickets": out.stat().st_size}
    assert state_path(out).stat().st_size <= small + 8, "only the length's digits grew"


def test_upsert_index_is_rebuilt_on_open(tmp_path: Path) -> None:
    out = _written(tmp_path, make_ticket(1, 5), make_ticket(2, 5, status="deleted"))
    with JsonlSink(out) as sink:
        result = sink.write(page([make_ticket(1, 5), make_ticket(1, 4), make_ticket(2, 6, status="deleted")], 2))
    assert (result.unchanged, result.updated, result.deleted) == (2, 1, 0)


def test_sideload_logs_sit_beside_the_ticket_log(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    with JsonlSink(out, include=["users"]) as sink:
        sink.write(page([make_ticket(1, 1)], 1, users=[make_user(3, 100)], groups=[{"id": 4, "name": "Tier 2"}]))
    assert log_path(out, "users") == tmp_path / "export.users.jsonl"
    assert read_jsonl_latest(out, sideload="users") == {3: make_user(3, 100)}
    assert read_jsonl_latest(out, sideload="groups") == {4: {"id": 4, "name": "Tier 2"}}


def test_a_new_sideload_log_is_registered_before_it_is_written(tmp_path: Path) -> None:
    """So that after a crash its bytes are recognised as ours (and cut back), never refused as foreign."""
    out = _written(tmp_path, make_ticket(1, 1))
    with JsonlSink(out) as sink:
        sink.write(page([], 2, organizations=[{"id": 1, "name": "Acme"}]))
    users = log_path(out, "organizations")
    users.write_bytes(users.read_bytes() + b'{"id": 2, "na')
    with JsonlSink(out) as sink:
        assert sink.load_checkpoint().position == "2"  # type: ignore[union-attr]
    assert read_jsonl_latest(out, sideload="organizations") == {1: {"id": 1, "name": "Acme"}}


def test_directory_named_like_a_jsonl_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tickets.jsonl").mkdir()
    with pytest.raises(ForeignOutputError, match="directory"):
        JsonlSink(tmp_path / "tickets.jsonl")
