"""Seeding's batches: made by a thread of their own while the previous batch is written, in order, with the
generator's errors raised to the writer, and no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from zendesk_export.server.store.sql import seed_batches


def tickets(count: int, fail_at: int | None = None) -> Iterator[dict[str, Any]]:
    for number in range(count):
        if number == fail_at:
            raise RuntimeError("generation failed")
        yield {"n": number}


def seed_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "seed-batches"]


def test_every_ticket_once_in_order_in_batches_of_the_size() -> None:
    batches = list(seed_batches(tickets(2500), 1000))
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [t["n"] for b in batches for t in b] == list(range(2500))
    assert seed_threads() == []


def test_an_error_of_the_generator_reaches_the_writer() -> None:
    written = []
    with pytest.raises(RuntimeError, match="generation failed"):
        for batch in seed_batches(tickets(5000, fail_at=2500), 1000):
            written.append(len(batch))
    assert written == [1000, 1000]
    assert seed_threads() == []


def test_a_writer_that_stops_early_stops_the_generator() -> None:
    batches = seed_batches(tickets(100_000), 10)
    next(batches)
    batches.close()
    assert seed_threads() == []
