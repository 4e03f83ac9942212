"""``open_sink`` picks the sink from the ``--out`` value and validates ``--include`` before creating anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from zendesk_export.exporter import sinks
from zendesk_export.exporter.sinks import JsonlSink, ParquetSink, SQLiteSink, open_sink, sqlite_path

from .conftest import SinkCase


@pytest.mark.parametrize(
    ("out", "kind"),
    [
        ("tickets.db", SQLiteSink),
        ("export", SQLiteSink),
        ("sqlite:///rel.db", SQLiteSink),
        ("tickets.jsonl", JsonlSink),
        ("tickets.parquet", ParquetSink),
        ("tickets.parquet/", ParquetSink),
    ],
)
def test_output_kind_follows_the_name(out: str, kind: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_sink(out) as sink:  # type: ignore[attr-defined]
        assert type(sink) is kind


def test_postgresql_urls_open_the_postgres_sink(pg: SinkCase) -> None:
    for scheme in ("postgresql://", "postgres://"):
        with open_sink(pg.out.replace("postgresql://", scheme)) as sink:  # type: ignore[attr-defined]
            assert type(sink) is sinks.PostgresSink
            assert sink.schema == pg.schema


@pytest.mark.parametrize(
    ("out", "path"),
    [("sqlite:///rel/t.db", "rel/t.db"), ("sqlite:////abs/t.db", "/abs/t.db"), ("t.db", "t.db")],
)
def test_sqlite_url_forms(out: str, path: str) -> None:
    assert sqlite_path(out) == path


def test_sqlite_url_creates_the_file_it_names(tmp_path: Path) -> None:
    open_sink(f"sqlite:///{tmp_path}/x.db").close()
    assert (tmp_path / "x.db").exists()


@pytest.mark.parametrize("out", ["t.db", "t.jsonl", "t.parquet"])
def test_unknown_include_is_refused_before_anything_is_created(
    out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="unknown sideload 'tickets_events'"):
        open_sink(out, include=["users", "tickets_events"])
    assert list(tmp_path.iterdir()) == []


def test_public_names_are_importable() -> None:
    for name in sinks.__all__:
        assert getattr(sinks, name) is not None
