"""The ``Sink`` contract, checked on every sink: upsert by id with the newest version winning, counts,
checkpoint with the data, sideloads, nothing lost, nothing doubled, and consistency after SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zendesk_export
from tests.reference import cassette
from zendesk_export.exporter.sinks import Checkpoint, WriteResult

from . import _pages
from ._pages import SOURCE, make_ticket, make_user, page
from .conftest import SinkCase


def test_new_output_has_no_checkpoint(case: SinkCase) -> None:
    with case.open() as sink:
        assert sink.load_checkpoint() is None


def test_checkpoint_is_saved_with_the_page_and_survives_reopen(case: SinkCase) -> None:
    with case.open() as sink:
        sink.write(page([make_ticket(1, 100)], position=1700000000))
        sink.write(page([], position="1700000042"))
    with case.open() as sink:
        assert sink.load_checkpoint() == Checkpoint("time", "1700000042", SOURCE)


def test_cursor_checkpoint_round_trips(case: SinkCase) -> None:
    cursor = Checkpoint("cursor", "MTY5NTA1MjY2My4wfHwyOHw=", SOURCE)
    with case.open() as sink:
        sink.write(_pages.Page(tickets=[make_ticket(1, 1)], checkpoint=cursor))
    with case.open() as sink:
        assert sink.load_checkpoint() == cursor


def test_counts_new_updated_deleted_unchanged(case: SinkCase) -> None:
    with case.open() as sink:
        first = sink.write(page([make_ticket(1, 100), make_ticket(2, 100), make_ticket(3, 100, status="deleted")]))
        second = sink.write(
            page([make_ticket(1, 101), make_ticket(2, 101, status="deleted"), make_ticket(3, 100, status="deleted")])
        )
    assert first == WriteResult(new=2, deleted=1)
    assert second == WriteResult(updated=1, deleted=1, unchanged=1)


def test_older_version_never_replaces_newer(case: SinkCase) -> None:
    with case.open() as sink:
        sink.write(page([make_ticket(7, 200, subject="newer")]))
        result = sink.write(page([make_ticket(7, 199, subject="older")]))
    assert result == WriteResult(unchanged=1)
    assert case.latest()[7]["subject"] == "newer"
    assert case.stored_rows() == 1


def test_redelivered_page_changes_nothing_and_adds_no_row(case: SinkCase) -> None:
    tickets = [make_ticket(i, 100 + i) for i in range(1, 51)]
    with case.open() as sink:
        sink.write(page(tickets, 1))
        result = sink.write(page(tickets, 2))
    with case.open() as sink:
        again = sink.write(page(tickets, 3))
    assert result == again == WriteResult(unchanged=50)
    assert case.stored_rows() == 50
    assert case.latest() == {t["id"]: t for t in tickets}


def test_same_second_change_delivered_later_wins(case: SinkCase) -> None:
    """Two changes within one second share a generated_timestamp; the one delivered later is the newer."""
    with case.open() as sink:
        sink.write(page([make_ticket(3, 500, status="open")]))
        result = sink.write(page([make_ticket(3, 500, status="solved")]))
    assert result == WriteResult(updated=1)
    assert case.latest()[3]["status"] == "solved"


def test_repeated_id_within_one_page_keeps_the_newest(case: SinkCase) -> None:
    with case.open() as sink:
        versions = [make_ticket(4, 10, subject="a"), make_ticket(4, 12, subject="c"), make_ticket(4, 11)]
        result = sink.write(page(versions))
    assert result == WriteResult(new=1, updated=1, unchanged=1)
    assert case.latest()[4]["subject"] == "c"


def test_counts_add_up_to_the_page_size(case: SinkCase) -> None:
    pages = _pages.scenario(seed=3, pages=4, size=60)
    with case.open() as sink:
        results = [sink.write(p) for p in pages]
    for written, result in zip(pages, results, strict=True):
        assert result.new + result.updated + result.deleted + result.unchanged == len(written.tickets)


def test_unknown_and_custom_fields_survive_in_raw_json(case: SinkCase) -> None:
    custom = [{"id": 1, "value": [1, 2]}, {"id": 2, "value": 1.5}]
    ticket = make_ticket(9, 300, brand_new_field={"x": [1, None, "ü\u2028"]}, custom_fields=custom)
    with case.open() as sink:
        sink.write(page([ticket]))
    stored = case.latest()[9]
    assert stored == ticket
    assert list(stored) == list(ticket), "key order is kept"


def test_deleted_ticket_is_kept_with_status_deleted(case: SinkCase) -> None:
    scrubbed = make_ticket(11, 400, status="deleted", subject="SCRUBBED", description="X")
    with case.open() as sink:
        sink.write(page([make_ticket(11, 300)]))
        assert sink.write(page([scrubbed])) == WriteResult(deleted=1)
    assert case.latest()[11] == scrubbed


def test_sideloads_are_upserted_by_id_and_never_go_backwards(case: SinkCase) -> None:
    with case.open(include=["users", "groups", "organizations"]) as sink:
        sink.write(page([make_ticket(1, 1)], 1, users=[make_user(5, 1000)]))
        sink.write(page([], 2, users=[make_user(5, 2000), make_user(6, 1500)]))
        sink.write(page([], 3, users=[make_user(5, 1000)], groups=[{"id": 8, "name": "Support"}]))
    users = case.latest("users")
    assert users == {5: make_user(5, 2000), 6: make_user(6, 1500)}
    assert case.latest("groups") == {8: {"id": 8, "name": "Support"}}


def test_sideload_table_is_created_when_first_written(case: SinkCase) -> None:
    with case.open() as sink:
        sink.write(page([], 1, organizations=[{"id": 3, "name": "Acme", "updated_at": "2024-02-15T16:23:04Z"}]))
    assert case.latest("organizations")[3]["name"] == "Acme"


def test_unknown_sideload_name_is_refused_before_writing(case: SinkCase) -> None:
    with case.open() as sink:
        with pytest.raises(ValueError, match="unknown sideload"):
            sink.write(page([make_ticket(1, 1)], 5, brands=[{"id": 1}]))
        assert sink.load_checkpoint() is None
    assert case.latest() == {}


def test_a_failed_page_that_created_a_sideload_table_does_not_break_the_next_one(case: SinkCase) -> None:
    """The table a failed page created is rolled back with it; the next page creates it again."""
    with case.open() as sink:
        with pytest.raises(ValueError, match="unknown sideload"):
            sink.write(page([make_ticket(1, 1)], 1, users=[make_user(5, 1000)], brands=[{"id": 1}]))
        sink.write(page([make_ticket(1, 1)], 2, users=[make_user(5, 1000)]))
    assert set(case.latest("users")) == {5}


def test_invalid_ticket_fails_the_whole_page_and_keeps_the_previous_state(case: SinkCase) -> None:
    with case.open() as sink:
        sink.write(page([make_ticket(1, 1)], 1))
        with pytest.raises(ValueError, match="generated_timestamp"):
            sink.write(page([make_ticket(2, 2), {"id": 3, "subject": "no generated_timestamp"}], 2))
        assert sink.load_checkpoint() == Checkpoint("time", "1", SOURCE)
        assert sink.write(page([make_ticket(2, 2)], 3)) == WriteResult(new=1)
    assert set(case.latest()) == {1, 2}


def _typed_assignee_ids(case: SinkCase) -> list[object]:
    if case.kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(Path(case.out, "tickets")).sort_by("id")
        return table.column("assignee_id").to_pylist()
    return case.query('SELECT assignee_id FROM "tickets" ORDER BY id')


def test_integers_beyond_64_bits_are_kept_in_raw_json_and_null_in_typed_columns(case: SinkCase) -> None:
    """orjson reads a JSON integer up to 2**64 - 1 as an int: one outside int64, anywhere in a ticket, used to fail
    the page when bound (OverflowError). It is an unexpected value like any other: NULL where typed, exact in
    raw_json. The second ticket holds a NUL, which takes SQLite's Python-extracted path."""
    big = {"assignee_id": 2**63, "collaborator_ids": [2**64 - 1], "custom_fields": [{"id": 2**63, "value": 2**63}],
           "via": {"channel": "web", "source": {"n": 2**63}}}
    tickets = [make_ticket(1, 1, **big), make_ticket(2, 1, **big, description="nul \x00 here"),
               make_ticket(3, 1, assignee_id=2**63 - 1)]
    with case.open() as sink:
        assert sink.write(page(tickets)) == WriteResult(new=3)
    latest = case.latest()
    assert [latest[i]["assignee_id"] for i in (1, 2, 3)] == [2**63, 2**63, 2**63 - 1]
    assert latest[1]["collaborator_ids"] == [2**64 - 1]
    if case.kind != "jsonl":
        assert _typed_assignee_ids(case) == [None, None, 2**63 - 1]


def test_recorded_export_page_round_trips(case: SinkCase) -> None:
    """The 87 tickets of a real Zendesk export page are stored exactly as received."""
    tickets = cassette("TicketsIncrementalTest.test_get_values")[0]["response"]["body"]["tickets"]
    with case.open() as sink:
        result = sink.write(page(tickets))
    assert result.new + result.deleted == len(tickets)
    assert case.latest() == {t["id"]: t for t in tickets}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    versions=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 4), st.sampled_from(["open", "solved", "deleted"])), max_size=40
    ),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_any_sequence_of_pages_ends_with_the_newest_version_of_each_ticket(
    case: SinkCase, versions: list[tuple[int, int, str]], cuts: list[int]
) -> None:
    """Property: however versions arrive and are split into pages, the sink holds what the model holds."""
    offset = random.Random(repr((versions, cuts))).randrange(10**9) * 100  # fresh ids per example, same output
    tickets = [make_ticket(offset + i, ts, status=status) for i, ts, status in versions]
    bounds = sorted({0, len(tickets), *(c for c in cuts if c < len(tickets))})
    pages = [page(tickets[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    with case.open() as sink:
        results = [sink.write(p) for p in pages]
    model, _, _ = _pages.expected(pages)
    stored = {i: t for i, t in case.latest().items() if offset <= i < offset + 100}
    assert stored == model
    assert sum(r.new + r.deleted for r in results) >= len(model)


def _run_until_killed(case: SinkCase, seed: int, rng: random.Random) -> tuple[int, bool]:
    """Start the scenario writer, SIGKILL it at a random moment; (last acknowledged position, finished)."""
    command = [sys.executable, _pages.__file__, case.out, str(seed)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=_child_env()) as child:
        assert child.stdout is not None
        acknowledged = int(child.stdout.readline().split()[1])  # "ready N": imports done, sink open
        for _ in range(rng.randint(0, 5)):  # let a seeded number of pages commit, then kill mid-stream
            line = child.stdout.readline()
            if not line:
                break
            acknowledged = int(line.split()[1])
        time.sleep(rng.uniform(0, 0.02))  # a seeded moment inside the next page's write, not a threshold
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read().split()
    if rest:
        acknowledged = int(rest[-1])
    return acknowledged, child.returncode == 0


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(zendesk_export.__file__).parents[1])}


def _assert_consistent(case: SinkCase, seed: int, at_least: int) -> int:
    """The reopened output holds exactly the scenario's state at its checkpoint; returns that position."""
    with case.open(include=["users"]) as sink:
        checkpoint = sink.load_checkpoint()
    done = int(checkpoint.position) if checkpoint else 0
    assert done >= at_least, "a page acknowledged as written was lost"
    tickets, users, _ = _pages.expected(_pages.scenario(seed)[:done])
    assert case.latest() == tickets
    assert case.latest("users") == users
    return done


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_consistent_resumable_output(case: SinkCase) -> None:
    """Kill a writing process at seeded random moments; each reopen matches its checkpoint exactly, and the
    resumed runs end with exactly the full scenario."""
    seed = 20240215
    rng = random.Random(seed)
    done = 0
    for _ in range(3):
        acknowledged, _finished = _run_until_killed(case, seed, rng)
        done = _assert_consistent(case, seed, at_least=acknowledged)
    command = [sys.executable, _pages.__file__, case.out, str(seed)]
    subprocess.run(command, check=True, env=_child_env(), capture_output=True)
    pages = _pages.scenario(seed)
    assert _assert_consistent(case, seed, at_least=done) == len(pages)
    tickets, _, versions = _pages.expected(pages)
    # SQL sinks hold one row per ticket; the logs hold each accepted version once (a retried page adds none).
    assert case.stored_rows() == (versions if case.kind in {"jsonl", "parquet"} else len(tickets))


def test_a_page_is_written_as_it_is_whatever_was_prepared_for_it(case: SinkCase) -> None:
    """A sink that prepares pages ahead (``PreparingSink``) uses a preparation only for the very objects it was
    made from: another version of the same id, or a ticket it never saw, is written as the page has it."""
    with case.open() as sink:
        prepare = getattr(sink, "prepare", None)
        if prepare is None:
            pytest.skip(f"the {case.kind} sink prepares nothing")
        prepared = prepare([make_ticket(1, 100, subject="prepared"), make_ticket(2, 100, subject="kept")])
        kept = make_ticket(2, 100, subject="kept")
        ticket_2 = prepared.made[2][0]
        written = [make_ticket(1, 100, subject="written"), ticket_2, make_ticket(3, 100, subject="new")]
        result = sink.write(replace(page(written), prepared=prepared))
    assert result == WriteResult(new=3)
    assert {i: t["subject"] for i, t in case.latest().items()} == {1: "written", 2: "kept", 3: "new"}
    assert case.latest()[2] == kept
