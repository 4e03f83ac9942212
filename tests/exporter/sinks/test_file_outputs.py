"""What JSONL and Parquet outputs share about the directory they own: a directory that is not ours is refused
untouched; on reopen only our own uncommitted files go, never a folder someone else keeps there; a symbolic link
inside the output is refused before anything is touched, so nothing is written or deleted through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from zendesk_export.exporter.sinks import ForeignOutputError, JsonlSink, ParquetSink
from zendesk_export.exporter.sinks._file_output import FileOutput

from ._pages import make_ticket, page

SINKS = {"jsonl": JsonlSink, "parquet": ParquetSink}


@pytest.fixture(params=sorted(SINKS))
def sink_class(request: pytest.FixtureRequest) -> type[FileOutput]:
    return SINKS[request.param]


def _written(sink_class: type[FileOutput], out: Path) -> Path:
    with sink_class(out) as sink:
        sink.write(page([make_ticket(1, 1), make_ticket(2, 1)], 1))
    return out


def _an_uncommitted_table(sink_class: type[FileOutput], out: Path) -> Path:
    """A ``users`` folder as a first write that died before its state landed leaves it."""
    folder = out / "users"
    folder.mkdir()
    own = "users.jsonl" if sink_class is JsonlSink else "part-00000002.parquet"
    (folder / own).write_bytes(b"torn")
    return folder


def test_a_non_empty_directory_without_state_is_refused_untouched(sink_class: type[FileOutput],
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "export.out"
    out.mkdir()
    (out / "mine.data").write_bytes(b'{"id": 1}\n')
    with pytest.raises(ForeignOutputError, match="without zendesk-export state"):
        sink_class(out)
    assert [p.name for p in out.iterdir()] == ["mine.data"]


def test_an_uncommitted_tables_files_are_removed_on_reopen(sink_class: type[FileOutput], tmp_path: Path) -> None:
    out = _written(sink_class, tmp_path / "export.out")
    folder = _an_uncommitted_table(sink_class, out)
    with sink_class(out) as sink:
        assert sink.write(page([make_ticket(3, 1)], 2)).new == 1
    assert not folder.exists()


def test_a_folder_someone_else_keeps_in_the_output_stays(sink_class: type[FileOutput], tmp_path: Path) -> None:
    out = _written(sink_class, tmp_path / "export.out")
    notes = out / "notes"
    notes.mkdir()
    (notes / "README.txt").write_text("my notes")
    mixed = _an_uncommitted_table(sink_class, out)
    (mixed / "mine.txt").write_text("also mine")
    with sink_class(out) as sink:
        assert sink.write(page([make_ticket(3, 1)], 2)).new == 1
    assert (notes / "README.txt").read_text() == "my notes"
    assert [p.name for p in mixed.iterdir()] == ["mine.txt"], "only our own uncommitted file went"


def test_a_symbolic_link_in_the_output_is_refused_and_its_target_untouched(sink_class: type[FileOutput],
                                                                           tmp_path: Path) -> None:
    out = _written(sink_class, tmp_path / "export.out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "users.jsonl").write_bytes(b"precious")
    (elsewhere / "part-00000002.parquet").write_bytes(b"precious")
    (out / "users").symlink_to(elsewhere, target_is_directory=True)
    state = (out / "_state.json").read_bytes()
    with pytest.raises(ForeignOutputError, match="symbolic link"):
        sink_class(out)
    assert sorted(p.read_bytes() for p in elsewhere.iterdir()) == [b"precious", b"precious"]
    assert (out / "_state.json").read_bytes() == state
