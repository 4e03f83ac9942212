"""The file sinks' upsert index lives in a SQLite file in the output, not in memory, and is only a cache:
missing or behind the committed data, it is rebuilt from the data on open and the counts (and the child rows a
new version removes) stay exact."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from zendesk_export.exporter.sinks import JsonlSink, Page, ParquetSink, Sink, read_jsonl_rows, read_parquet_rows
from zendesk_export.exporter.warehouse import stream_table

from ._pages import make_ticket, page

FILE_SINKS = ("jsonl", "parquet")


def _open(kind: str, tmp_path: Path) -> Sink:
    return JsonlSink(tmp_path / "t.jsonl") if kind == "jsonl" else ParquetSink(tmp_path / "t.parquet")


def _index_file(kind: str, tmp_path: Path) -> Path:
    return tmp_path / f"t.{kind}" / "_index.db"


def _indexed_ids(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM v_tickets ORDER BY id")]


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_the_index_is_a_file_with_one_row_per_ticket_not_per_version(kind: str, tmp_path: Path) -> None:
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(i, 10) for i in range(1, 301)], 1))
        sink.write(page([make_ticket(i, 20) for i in range(1, 101)], 2))
    assert _indexed_ids(_index_file(kind, tmp_path)) == list(range(1, 301))


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_deleted_index_is_rebuilt_and_nothing_is_appended_twice(kind: str, tmp_path: Path) -> None:
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(1, 10), make_ticket(2, 10)], 1))
    _index_file(kind, tmp_path).unlink()
    with _open(kind, tmp_path) as sink:
        result = sink.write(page([make_ticket(1, 10), make_ticket(2, 11), make_ticket(3, 11)], 2))
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1)


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_an_index_one_page_behind_catches_up_on_open(kind: str, tmp_path: Path) -> None:
    """A crash after the page's commit and before the index's leaves the index behind; opening replays it."""
    index = _index_file(kind, tmp_path)
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(1, 10)], 1))
    shutil.copy(index, tmp_path / "behind.db")
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(2, 20), make_ticket(1, 20)], 2))
    shutil.copy(tmp_path / "behind.db", index)
    with _open(kind, tmp_path) as sink:
        result = sink.write(page([make_ticket(1, 20), make_ticket(2, 20)], 3))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 2)
    assert _indexed_ids(index) == [1, 2]


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_damaged_index_is_rebuilt(kind: str, tmp_path: Path) -> None:
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(1, 10)], 1))
    _index_file(kind, tmp_path).write_bytes(b"not a database at all, but long enough to look like one" * 20)
    with _open(kind, tmp_path) as sink:
        assert sink.write(page([make_ticket(1, 10), make_ticket(2, 10)], 2)).new == 1


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_rebuilt_index_knows_the_child_rows_so_a_removed_tag_is_marked(kind: str, tmp_path: Path) -> None:
    def write(version: int, tags: list[str]) -> None:
        with _open(kind, tmp_path) as sink:
            sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
            sink.write(page([make_ticket(1, version, tags=tags)], version))

    write(1, ["vip", "refund"])
    _index_file(kind, tmp_path).unlink()
    write(2, ["refund"])
    read = read_jsonl_rows if kind == "jsonl" else read_parquet_rows
    assert [row["tag"] for row in read(tmp_path / f"t.{kind}", "ticket_tags")] == ["refund"]


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_child_table_takes_one_index_row_per_parent_not_per_child_row(kind: str, tmp_path: Path) -> None:
    with _open(kind, tmp_path) as sink:
        sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
        sink.write(page([make_ticket(i, 10, tags=["vip", "refund", f"t{i}"]) for i in range(1, 51)], 1))
    with sqlite3.connect(_index_file(kind, tmp_path)) as conn:
        assert conn.execute("SELECT count(*) FROM c_ticket_tags").fetchone()[0] == 50


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_an_index_of_the_earlier_layout_is_rebuilt_with_the_child_rows(kind: str, tmp_path: Path) -> None:
    """The earlier index kept one row per child row; opening it rebuilds the index from the logs."""
    with _open(kind, tmp_path) as sink:
        sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
        sink.write(page([make_ticket(1, 1, tags=["vip", "refund"])], 1))
    with sqlite3.connect(_index_file(kind, tmp_path)) as conn:
        conn.execute("PRAGMA application_id = 1514428466")  # "ZDX2", the earlier layout
    with _open(kind, tmp_path) as sink:
        sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
        assert sink.write(page([make_ticket(1, 2, tags=["refund"])], 2)).updated == 1
    read = read_jsonl_rows if kind == "jsonl" else read_parquet_rows
    assert [row["tag"] for row in read(tmp_path / f"t.{kind}", "ticket_tags")] == ["refund"]


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_one_page_retagging_several_stored_tickets_beside_new_ones_leaves_each_its_own_tags(
        kind: str, tmp_path: Path) -> None:
    """Each parent of a page is compared with its own stored rows: tags removed from one ticket, added to the
    next, a new ticket in between, and a ticket that keeps its tags."""
    with _open(kind, tmp_path) as sink:
        sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
        sink.write(page([make_ticket(1, 1, tags=["vip", "refund"]), make_ticket(2, 1, tags=["late"]),
                         make_ticket(3, 1, tags=["same"])], 1))
        sink.write(page([make_ticket(1, 2, tags=["refund"]), make_ticket(4, 2, tags=["new"]),
                         make_ticket(2, 2, tags=["late", "vip"]), make_ticket(3, 2, tags=["same"])], 2))
    read = read_jsonl_rows if kind == "jsonl" else read_parquet_rows
    live = {(row["ticket_id"], row["tag"]) for row in read(tmp_path / f"t.{kind}", "ticket_tags")}
    assert live == {(1, "refund"), (2, "late"), (2, "vip"), (3, "same"), (4, "new")}


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_custom_values_beyond_64_bits_are_child_rows_like_any_other_and_go_when_removed(
        kind: str, tmp_path: Path) -> None:
    """An integer value beyond int64 and a list holding one: the page is written, compared with on the next
    version, and the removed field's row goes. A field id beyond int64 has no row (its key would be NULL)."""
    fields = [{"id": 6, "value": 2**64 - 1}, {"id": 7, "value": ["a", 2**63]}, {"id": 2**63, "value": "x"}]
    with _open(kind, tmp_path) as sink:
        sink.use_table(stream_table("tickets"))  # type: ignore[attr-defined]
        assert sink.write(page([make_ticket(1, 1, custom_fields=fields)], 1)).new == 1
        assert sink.write(page([make_ticket(1, 2, custom_fields=fields[::2])], 2)).updated == 1
    read = read_jsonl_rows if kind == "jsonl" else read_parquet_rows
    live = read(tmp_path / f"t.{kind}", "ticket_custom_field_values")
    assert [(row["ticket_id"], row["field_id"], row["value"]) for row in live] == [(1, 6, str(2**64 - 1))]


def _count_digests(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every ``content_digest`` the sinks make from now on, by the bytes hashed."""
    from zendesk_export.exporter.sinks import _file_output, _upsert

    hashed: list[bytes] = []
    real = _upsert.content_digest

    def counting(raw: bytes) -> int:
        hashed.append(raw)
        return real(raw)

    monkeypatch.setattr(_upsert, "content_digest", counting)
    monkeypatch.setattr(_file_output, "content_digest", counting)
    return hashed


def _prepared_page(sink: Any, tickets: list[dict[str, Any]], position: int) -> Page:
    """A page as the export writes it: prepared ahead (``prepare``), then written."""
    return replace(page(tickets, position), prepared=sink.prepare(tickets))


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_only_a_pages_newest_versions_are_hashed_when_written(kind: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A digest only tells two versions of one number apart. Written, only the versions with the page's newest
    number are hashed: a time-based export brings those again as its next page's first."""
    hashed = _count_digests(monkeypatch)
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(i, 100 + i) for i in range(1, 51)], 1))
        sink.write(_prepared_page(sink, [make_ticket(i, 200 + i) for i in range(1, 51)], 2))
        sink.write(page([make_ticket(i, 300 + i % 2) for i in range(1, 51)], 3, users=[{"id": 7, "name": "u"}]))
    hashed_ids = [obj["id"] for obj in map(orjson.loads, hashed)]
    assert sorted(hashed_ids) == sorted([7, 50, 50, *range(1, 51, 2)])


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_time_based_exports_next_page_is_compared_without_reading_the_log(kind: str, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The next page of a time-based export starts at the last page's newest number: its first tickets, brought
    again unchanged, are told apart by the digests kept for them."""
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(1, 10), make_ticket(2, 20), make_ticket(3, 20)], 1))
        monkeypatch.setattr(type(sink), "_read_at", lambda *_args: pytest.fail("read the log back"))
        result = sink.write(page([make_ticket(2, 20), make_ticket(3, 20), make_ticket(4, 30)], 2))
    assert (result.new, result.updated, result.unchanged) == (1, 0, 2)


@pytest.mark.parametrize("kind", FILE_SINKS)
def test_a_version_brought_again_is_compared_with_its_bytes_as_stored(kind: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Versions written without a digest, in different pages (Parquet: different parts), then brought again:
    the same content is unchanged, a same-second change is written; only those versions are hashed, as brought
    and as stored (and the new page's newest)."""
    with _open(kind, tmp_path) as sink:
        sink.write(page([make_ticket(1, 10, subject="a"), make_ticket(2, 10, subject="b"), make_ticket(5, 99)], 1))
        sink.write(page([make_ticket(3, 20, subject="c"), make_ticket(6, 98)], 2))
    hashed = _count_digests(monkeypatch)
    again = [make_ticket(1, 10, subject="a"), make_ticket(2, 10, subject="changed"), make_ticket(3, 20, subject="c"),
             make_ticket(4, 30)]
    with _open(kind, tmp_path) as sink:
        result = sink.write(_prepared_page(sink, again, 3))
    assert (result.new, result.updated, result.unchanged) == (1, 1, 2)
    assert sorted(orjson.loads(raw)["id"] for raw in hashed) == [1, 1, 2, 2, 3, 3, 4]
    rows = {row["id"]: row["subject"] for row in (read_jsonl_rows if kind == "jsonl" else read_parquet_rows)(
        tmp_path / f"t.{kind}", "tickets")}
    assert rows == {1: "a", 2: "changed", 3: "c", 4: make_ticket(4, 30)["subject"],
                    5: make_ticket(5, 99)["subject"], 6: make_ticket(6, 98)["subject"]}
