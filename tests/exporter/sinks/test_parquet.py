"""Parquet sink: durable part files committed by a state file, explicit schema, latest-version readers."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from zendesk_export.exporter.sinks import (
    TABLES,
    Column,
    ForeignOutputError,
    Kind,
    MissingDependencyError,
    OutputInUseError,
    ParquetSink,
    parquet,
    read_parquet_latest,
    read_parquet_latest_table,
)
from zendesk_export.exporter.sinks.parquet import ROW_GROUP_ROWS, arrow_schema

from ._pages import make_ticket, make_user, page


def test_each_page_is_one_part_with_the_explicit_schema(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(1, 1), make_ticket(2, 1)], 1))
        sink.write(page([make_ticket(1, 2)], 2))
        sink.write(page([make_ticket(1, 2)], 3))  # nothing new: no part
    parts = sorted(p.name for p in (out / "tickets").iterdir())
    assert parts == ["part-00000001.parquet", "part-00000002.parquet"]
    assert pq.read_schema(out / "tickets" / parts[0]).remove_metadata() == arrow_schema()


def test_a_big_page_is_one_part_of_several_row_groups_read_back_whole(tmp_path: Path) -> None:
    """Row groups of ROW_GROUP_ROWS keep the writer's memory small; readers see the page as written."""
    out = tmp_path / "t.parquet"
    tickets = [make_ticket(ticket_id, 1, custom_fields=None if ticket_id % 7 == 0 else [{"id": 1, "value": ticket_id}])
               for ticket_id in range(1, 2 * ROW_GROUP_ROWS + 2)]
    with ParquetSink(out) as sink:
        sink.write(page(tickets, 1))
    part = pq.ParquetFile(out / "tickets" / "part-00000001.parquet")
    assert part.metadata.num_row_groups == 3
    assert [part.metadata.row_group(i).num_rows for i in range(3)] == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 1]
    assert read_parquet_latest(out) == {ticket["id"]: ticket for ticket in tickets}
    fields = read_parquet_latest_table(out).column("custom_fields").to_pylist()
    assert fields[6] is None and fields[7] == [{"id": 1, "value": "8"}]


def test_latest_table_has_one_typed_row_per_id(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(2, 1), make_ticket(1, 1)], 1))
        sink.write(page([make_ticket(1, 3, status="solved")], 2))
    table = read_parquet_latest_table(out)
    assert table.column("id").to_pylist() == [1, 2]
    assert table.column("status").to_pylist() == ["solved", "open"]
    assert table.column("created_at").to_pylist()[0] == datetime(2024, 2, 15, 16, 24, 4, tzinfo=UTC)
    assert table.column("is_public").to_pylist() == [True, True]


def test_latest_table_of_an_empty_output_is_empty_with_the_schema(tmp_path: Path) -> None:
    ParquetSink(tmp_path / "t.parquet").close()
    table = read_parquet_latest_table(tmp_path / "t.parquet")
    assert table.num_rows == 0 and table.schema == arrow_schema()


def test_uncommitted_part_is_deleted_on_reopen(tmp_path: Path) -> None:
    """A part renamed into place whose state file never landed belongs to no checkpoint."""
    out = tmp_path / "t.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(1, 1)], 1))
        sink.write(page([make_ticket(2, 1)], 2))
    state = orjson.loads((out / "_state.json").read_bytes())
    state["pages"], state["tables"]["tickets"]["position"] = 1, 1
    (out / "_state.json").write_bytes(orjson.dumps(state))  # as if the crash came just before the state was replaced
    (out / "tickets" / "part-00000001.parquet.tmp").write_bytes(b"PAR1 torn")
    assert set(read_parquet_latest(out)) == {1}, "readers ignore uncommitted parts"
    with ParquetSink(out) as sink:
        assert sink.write(page([make_ticket(2, 1)], 2)).new == 1
    assert sorted(p.name for p in (out / "tickets").iterdir()) == ["part-00000001.parquet", "part-00000002.parquet"]


def test_sideloads_get_their_own_table_directory(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out, include=["users"]) as sink:
        sink.write(page([], 1, users=[make_user(1, 10), make_user(2, 10)]))
        sink.write(page([], 2, users=[make_user(1, 20)]))
    assert read_parquet_latest(out, table="users") == {1: make_user(1, 20), 2: make_user(2, 10)}
    assert read_parquet_latest_table(out, table="users").column("email").to_pylist()[0] == "user1@example.com"


def test_a_file_at_the_output_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.parquet").write_bytes(b"PAR1...")
    with pytest.raises(ForeignOutputError, match="not a directory"):
        ParquetSink(tmp_path / "t.parquet")


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    with ParquetSink(tmp_path / "t.parquet"), pytest.raises(OutputInUseError):
        ParquetSink(tmp_path / "t.parquet")


def test_missing_pyarrow_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'zendesk-export\[parquet\]'"):
        ParquetSink(tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()


def _duckdb(out: Path, sql: str) -> list[tuple[object, ...]]:
    """``sql`` run by DuckDB after reading the output's ``latest.sql``, as an analyst would."""
    duckdb = pytest.importorskip("duckdb")
    conn = duckdb.connect()
    conn.execute((out / "latest.sql").read_text())
    rows: list[tuple[object, ...]] = conn.execute(sql).fetchall()
    conn.close()
    return rows


def test_latest_sql_gives_duckdb_one_row_per_ticket_its_latest_version(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(1, 10), make_ticket(2, 10), make_ticket(3, 10)], 1))
        sink.write(page([make_ticket(1, 20, status="solved"), make_ticket(2, 10, subject="same second")], 2))
        sink.write(page([make_ticket(3, 30, status="deleted")], 3))
    assert _duckdb(out, "SELECT id, status, subject, generated_timestamp FROM tickets ORDER BY id") == [
        (1, "solved", "SAMPLE TICKET: Saving meeting chat conversations", 20),
        (2, "open", "same second", 10),
        (3, "deleted", "SAMPLE TICKET: Saving meeting chat conversations", 30),
    ]
    assert _duckdb(out, "SELECT count(*) FROM read_parquet('" + str(out / "tickets" / "*.parquet") + "')") == [(6,)]


def test_tags_and_custom_fields_are_real_lists_in_duckdb(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    fields = [{"id": 360001, "value": "gold"}, {"id": 360002, "value": False}, {"id": 360003, "value": ["a", "b"]}]
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(7, 10, custom_fields=fields, fields=fields, follower_ids=[11, 12])], 1))
    rows = _duckdb(
        out,
        "SELECT tags[1], len(tags), custom_fields[1].id, custom_fields[1].value, custom_fields[2].value,"
        " custom_fields[3].value, fields[1].id, follower_ids[2], list_contains(tags, 'inquiry') FROM tickets",
    )
    assert rows == [("inquiry", 3, 360001, "gold", "false", '["a","b"]', 360001, 12, True)]


def test_in_one_page_lists_of_another_shape_are_null_beside_wellformed_ones(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    fields = [{"id": 360001, "value": "gold"}]
    tickets = [make_ticket(1, 10, custom_fields=fields), make_ticket(2, 10, custom_fields=None),
               make_ticket(3, 10, custom_fields=[{"value": "no id"}]), make_ticket(4, 10, custom_fields=[])]
    with ParquetSink(out) as sink:
        sink.write(page(tickets, 1))
    rows = _duckdb(out, "SELECT id, custom_fields IS NULL, len(custom_fields) FROM tickets ORDER BY id")
    assert rows == [(1, False, 1), (2, True, None), (3, True, None), (4, False, 0)]
    assert read_parquet_latest(out) == {ticket["id"]: ticket for ticket in tickets}


def test_arrays_of_another_shape_are_null_and_kept_in_raw_json(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    odd = make_ticket(1, 10, tags="not a list", custom_fields=[{"value": "no id"}])
    with ParquetSink(out) as sink:
        sink.write(page([odd], 1))
    assert _duckdb(out, "SELECT tags IS NULL, custom_fields IS NULL FROM tickets") == [(True, True)]
    assert read_parquet_latest(out) == {1: odd}


def test_sideload_tables_get_views_too(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out, include=["users"]) as sink:
        sink.write(page([make_ticket(1, 10)], 1, users=[make_user(5, 10)]))
        sink.write(page([], 2, users=[make_user(5, 20)]))
    assert _duckdb(out, "SELECT id, name FROM users") == [(5, "User 5 at 20")]


def _as_format_1(out: Path) -> None:
    """Rewrite an output the way format 1 stored it: JSON columns as text, the write-only columns, version 1."""
    import pyarrow as pa

    for part in (out / "tickets").glob("part-*.parquet"):
        table = pq.read_table(part)
        for name in ("tags", "custom_fields", "fields", "follower_ids"):
            position = table.schema.get_field_index(name)
            text = [None if v is None else orjson.dumps(v).decode() for v in table.column(name).to_pylist()]
            table = table.set_column(position, name, pa.array(text, pa.string()))
        table = table.append_column("via_id", pa.array([None] * table.num_rows, pa.int64()))
        pq.write_table(table, part)
    state = orjson.loads((out / "_state.json").read_bytes())
    (out / "_state.json").write_bytes(orjson.dumps({**state, "version": 1}))
    (out / "_index.db").unlink()
    (out / "latest.sql").unlink()


def test_a_format_1_output_is_migrated_on_open_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(1, 10), make_ticket(2, 10)], 1))
    _as_format_1(out)
    assert pq.read_schema(out / "tickets" / "part-00000001.parquet").field("tags").type == "string"
    with ParquetSink(out) as sink:
        assert sink.load_checkpoint().position == "1"  # type: ignore[union-attr]
        result = sink.write(page([make_ticket(1, 10), make_ticket(2, 20)], 2))
    assert (result.unchanged, result.updated) == (1, 1)
    for part in sorted((out / "tickets").iterdir()):
        assert pq.read_schema(part).remove_metadata() == arrow_schema()
    assert _duckdb(out, "SELECT id, generated_timestamp, tags[2] FROM tickets ORDER BY id") == [
        (1, 10, "sample_ticket"),
        (2, 20, "sample_ticket"),
    ]


def test_the_readme_duckdb_example_runs_on_a_written_output(tmp_path: Path) -> None:
    """The README's DuckDB command, its query run as written against a real output."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    [line] = [line for line in readme.splitlines() if line.startswith('$ duckdb -c ".read tickets.parquet/')]
    words = shlex.split(line[2:])
    assert words[:3] == ["duckdb", "-c", ".read tickets.parquet/latest.sql"] and words[3] == "-c"
    out = tmp_path / "tickets.parquet"
    with ParquetSink(out) as sink:
        sink.write(page([make_ticket(1, 10), make_ticket(2, 10)], 1))
        sink.write(page([make_ticket(1, 20, status="solved")], 2))
    rows = _duckdb(out, words[4])
    assert sorted(rows) == [(1, "solved", "inquiry", 26363655924371), (2, "open", "inquiry", 26363655924371)]


@pytest.mark.parametrize(("environment", "pool"), [
    ({}, "system"), ({"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}, "mimalloc"),
])
def test_arrow_allocates_from_the_system_unless_the_environment_chose(tmp_path, environment, pool):
    """Checking ``--out`` finds pyarrow without starting Arrow, so the sink's first import makes the system
    allocator Arrow's default pool (its own, mimalloc, holds freed pages: parquet's module doc, "Memory");
    a pool named in the environment stands. In a process of its own: Arrow picks its pool once."""
    script = ("import sys\n"
              "from zendesk_export.exporter.outputs import check_output\n"
              f"check_output({str(tmp_path / 'o.parquet')!r})\n"
              "assert 'pyarrow' not in sys.modules\n"
              "from zendesk_export.exporter.sinks import open_sink\n"
              f"open_sink({str(tmp_path / 'o.parquet')!r}).close()\n"
              "import pyarrow\n"
              "print(pyarrow.default_memory_pool().backend_name)\n")
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", script], env={**env, **environment}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == pool


def test_an_export_reads_its_parts_back_without_arrows_dataset_module(tmp_path):
    """Reading rows back (a version brought again, an index replayed after a crash) goes through
    ``ParquetFile``: ``pq.read_table`` would import Arrow's dataset module, ~14 MB an export then keeps. In a
    process of its own, where no other test imported it."""
    out = str(tmp_path / "o.parquet")
    script = ("import sys\n"
              "from tests.exporter.sinks._pages import make_ticket, page\n"
              "from zendesk_export.exporter.sinks import ParquetSink\n"
              f"with ParquetSink({out!r}) as sink:\n"
              "    sink.write(page([make_ticket(1, 10), make_ticket(2, 20)], 1))\n"
              f"with ParquetSink({out!r}) as sink:\n"
              "    result = sink.write(page([make_ticket(1, 10), make_ticket(3, 30)], 2))\n"
              "assert (result.new, result.unchanged) == (1, 1), result\n"
              f"(__import__('pathlib').Path({out!r}) / '_index.db').unlink()\n"
              f"with ParquetSink({out!r}) as sink:\n"
              "    result = sink.write(page([make_ticket(1, 10), make_ticket(4, 40)], 3))\n"
              "assert (result.new, result.unchanged) == (1, 1), result\n"
              "print('pyarrow.dataset' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                          cwd=Path(__file__).parents[3])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _prepared_and_plain(tmp_path: Path, tickets: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
                        before_write: Callable[[ParquetSink], None] = lambda sink: None) -> tuple[Path, Path, int]:
    """The same page written twice: plainly, and prepared beforehand (``prepare``, as the export loop does on
    its look-ahead thread); the two outputs and how many row groups the prepared write still built itself."""
    plain, prepared = tmp_path / "plain.parquet", tmp_path / "prepared.parquet"
    with ParquetSink(plain) as sink:
        before_write(sink)
        sink.write(page(tickets, 1))
    built = []
    with ParquetSink(prepared) as sink:
        made = sink.prepare(tickets)
        before_write(sink)
        real = parquet._to_table
        monkeypatch.setattr(parquet, "_to_table", lambda *args, **kwargs: built.append(1) or real(*args, **kwargs))
        sink.write(replace(page(tickets, 1), prepared=made))
        monkeypatch.setattr(parquet, "_to_table", real)
    return plain, prepared, len(built)


def test_a_prepared_page_writes_the_part_an_unprepared_one_writes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A first export's page, its row groups built ahead: the write builds none itself and the part reads back
    exactly as the part of the same page written without preparation."""
    tickets = [make_ticket(i, 100 + i, tags=[f"t{i}"], custom_fields=[{"id": 7, "value": i % 3 == 0}])
               for i in range(1, ROW_GROUP_ROWS + 40)]
    plain, prepared, built = _prepared_and_plain(tmp_path, tickets, monkeypatch)
    assert built == 0
    assert read_parquet_latest_table(prepared).equals(read_parquet_latest_table(plain))
    assert pq.ParquetFile(prepared / "tickets" / "part-00000001.parquet").num_row_groups == 2


def test_columns_bound_after_the_page_was_prepared_are_filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prepared before the ticket table gained a custom-field column: the groups lack it, so the write builds
    them anew and the column holds its values."""
    tickets = [make_ticket(1, 100), make_ticket(2, 100)]
    gold = replace(TABLES["tickets"], enrich=lambda ticket: {**ticket, "plan": f"gold {ticket['id']}"})

    def bind(sink: ParquetSink) -> None:
        sink.add_columns(gold, [Column("plan", Kind.TEXT, ("plan",))])
        sink.use_table(gold)

    plain, prepared, built = _prepared_and_plain(tmp_path, tickets, monkeypatch, bind)
    assert built == 1
    assert read_parquet_latest_table(prepared).column("plan").to_pylist() == ["gold 1", "gold 2"]
    assert read_parquet_latest_table(prepared).equals(read_parquet_latest_table(plain))
