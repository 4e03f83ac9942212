"""One fixture, ``case``, runs a test against every sink; ``SinkCase`` reads an output back independently.

PostgreSQL cases need ``ZENDESK_EXPORT_TEST_POSTGRES`` (a DSN); each test gets its own schema, dropped after.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from zendesk_export.exporter.sinks import Sink, open_sink, read_jsonl_latest, read_parquet_latest
from zendesk_export.exporter.sinks.jsonl import log_path

SINKS = ("sqlite", "jsonl", "parquet", "postgres")
PG_ENV = "ZENDESK_EXPORT_TEST_POSTGRES"


def pg_dsn() -> str:
    """The test PostgreSQL DSN, or skip the test saying how to provide one."""
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        pytest.skip(f"set {PG_ENV}=postgresql://… to run the PostgreSQL sink tests")
    return dsn


def with_schema(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


@dataclass
class SinkCase:
    """An output of one kind, and independent ways to read what it holds."""

    kind: str
    out: str
    path: Path | None = None
    dsn: str | None = None
    schema: str | None = None

    def open(self, include: Sequence[str] = ()) -> Sink:
        return open_sink(self.out, include=include)

    def latest(self, table: str = "tickets") -> dict[int, dict[str, Any]]:
        """The current object per id, parsed from the stored raw JSON."""
        if self.kind == "jsonl":
            return read_jsonl_latest(self.out, table)
        if self.kind == "parquet":
            return read_parquet_latest(self.out, table)
        return {obj["id"]: obj for obj in map(orjson.loads, self.query(f'SELECT raw_json FROM "{table}"'))}

    def stored_rows(self, table: str = "tickets") -> int:
        """How many rows (SQL), lines (JSONL) or part rows (Parquet) the output holds for ``table``."""
        if self.kind == "jsonl":
            info = orjson.loads(Path(self.out, "_state.json").read_bytes())["tables"].get(table)
            return 0 if info is None else log_path(self.out, table).read_bytes()[: info["position"]].count(b"\n")
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return sum(pq.read_metadata(p).num_rows for p in Path(self.out, table).glob("part-*.parquet"))
        return int(self.query(f'SELECT count(*) FROM "{table}"')[0])

    def query(self, sql: str) -> list[Any]:
        """First column of every row of ``sql`` (SQL sinks; tables resolve in the case's schema)."""
        if self.kind == "sqlite":
            with sqlite3.connect(str(self.path)) as conn:
                return [row[0] for row in conn.execute(sql)]
        import psycopg

        with psycopg.connect(self.dsn or "", autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return [row[0] for row in conn.execute(sql.replace("raw_json", "raw_json::text"))]


def make_case(kind: str, tmp_path: Path) -> Iterator[SinkCase]:
    """A fresh, empty output of ``kind`` (a generator: PostgreSQL drops its schema afterwards)."""
    if kind == "sqlite":
        yield SinkCase(kind, str(tmp_path / "tickets.db"), path=tmp_path / "tickets.db")
    elif kind == "jsonl":
        yield SinkCase(kind, str(tmp_path / "tickets.jsonl"), path=tmp_path / "tickets.jsonl")
    elif kind == "parquet":
        yield SinkCase(kind, str(tmp_path / "tickets.parquet"), path=tmp_path / "tickets.parquet")
    else:
        dsn, schema = pg_dsn(), f"zx_test_{uuid.uuid4().hex[:12]}"
        yield SinkCase(kind, with_schema(dsn, schema), dsn=dsn, schema=schema)
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[SinkCase]:
    """A fresh PostgreSQL schema (skipped without a test database)."""
    yield from make_case("postgres", tmp_path)


@pytest.fixture(params=SINKS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SinkCase]:
    """Every sink in turn, with a fresh output."""
    yield from make_case(request.param, tmp_path)
