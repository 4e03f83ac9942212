"""The one-page look-ahead (:mod:`zendesk_export.exporter.prefetch`): on its own, items in order, never more than
one fetched ahead, the source's error raised where its item would have come, no helper thread outliving the
iteration however it ends, and ``write_each`` freeing each written item on the helper; in the export loop, every
page written with its own checkpoint in the plain loop's order, and an error in fetching or in writing ending the
run as it did without the look-ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from tests.exporter.conftest import FailingSink, Fault, FaultyTransport, server_config, server_truth
from zendesk_export.exporter import AuthenticationFailed, OutputError, ZendeskClient, iter_pages, run_export
from zendesk_export.exporter.prefetch import LookAhead
from zendesk_export.exporter.sinks.base import Checkpoint, Page, Sink, WriteResult
from zendesk_export.testing import ZendeskServer

GUARD = 30.0  # seconds: only a deadlock would wait this long


class Source:
    """Numbered items; records, for each item made, how many items the consumer had taken by then."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.taken = 0
        self.made: list[int] = []  # taken-so-far at the moment each item was made
        self.made_on: set[str] = set()
        self.closed = threading.Event()
        self.progress = threading.Condition()

    def __iter__(self) -> Iterator[int]:
        try:
            for number in range(1, self.count + 1):
                if number == self.fail_at:
                    raise LookupError(f"item {number} cannot be fetched")
                with self.progress:
                    self.made.append(self.taken)
                    self.made_on.add(threading.current_thread().name)
                    self.progress.notify_all()
                yield number
        finally:
            self.closed.set()

    def take(self, number: int) -> None:
        """The consumer got ``number``: wait until the helper had its chance to fetch beyond it."""
        with self.progress:
            self.taken = number
            self.progress.wait_for(lambda: len(self.made) > number or len(self.made) == self.count, GUARD)
        time.sleep(0.005)  # room for a helper that does not wait its turn to fetch one more


def helper_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "export-look-ahead"]


def test_items_come_in_order_fetched_on_the_helper_never_more_than_one_ahead():
    source = Source(20)
    received = []
    for number in LookAhead(iter(source)):
        received.append(number)
        source.take(number)
    assert received == list(range(1, 21))
    # item n is made only once item n-1 has been taken: one waits, at most, besides the one being used
    assert all(taken >= number - 1 for number, taken in enumerate(source.made))
    assert source.made_on == {"export-look-ahead"}
    assert source.closed.is_set() and helper_threads() == []


def test_an_error_of_the_source_is_raised_after_the_items_before_it():
    source = Source(10, fail_at=4)
    received = []
    with pytest.raises(LookupError, match="^item 4 cannot be fetched$"):
        for number in LookAhead(iter(source)):
            received.append(number)
    assert received == [1, 2, 3]
    assert source.closed.is_set() and helper_threads() == []


@pytest.mark.parametrize("leave", ["exception", "break"])
def test_leaving_early_stops_the_helper_and_closes_the_source(leave):
    source = Source(1000)
    with pytest.raises(RuntimeError) if leave == "exception" else nullcontext():
        for number in LookAhead(iter(source)):
            source.take(number)
            if number == 3:
                if leave == "exception":
                    raise RuntimeError("the write failed")
                break
    assert len(source.made) <= 4  # the page being written when it stopped, and at most one fetched ahead
    assert source.closed.is_set() and helper_threads() == []


class Item:
    """An item that records the thread it is freed on."""

    freed_on: dict[int, str] = {}

    def __init__(self, number: int) -> None:
        self.number = number

    def __del__(self) -> None:
        Item.freed_on[self.number] = threading.current_thread().name


def test_write_each_writes_in_order_and_frees_each_written_item_on_the_helper():
    Item.freed_on = {}
    written: list[int] = []
    LookAhead(Item(number) for number in range(1, 21)).write_each(lambda item: written.append(item.number))
    assert written == list(range(1, 21))
    # every item but the last, which the helper is no longer there to take, freed beside the writes
    assert {Item.freed_on[n] for n in range(1, 20)} == {"export-look-ahead"}
    assert helper_threads() == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_write_each_raises_the_writes_error_and_stops_the_helper(error: type[BaseException]):
    source = Source(1000)

    def write(number: int) -> None:
        source.take(number)
        if number == 3:
            raise error("the write failed")

    with pytest.raises(error, match="^the write failed$"):
        LookAhead(iter(source)).write_each(write)
    assert len(source.made) <= 4
    assert source.closed.is_set() and helper_threads() == []


# In the export loop, against the real server and the real sinks.

class RecordingSink:
    """A real sink that notes, for every write, the page's ids and checkpoint, the checkpoint already stored
    when the write began, and the thread that wrote."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.writes: list[tuple[list[int], Checkpoint, Checkpoint | None, str]] = []

    def load_checkpoint(self) -> Checkpoint | None:
        return self.sink.load_checkpoint()

    def write(self, page: Page) -> WriteResult:
        before = self.sink.load_checkpoint()
        self.writes.append(([t["id"] for t in page.tickets], page.checkpoint, before,
                            threading.current_thread().name))
        return self.sink.write(page)

    def close(self) -> None:
        self.sink.close()


def seeded(server: ZendeskServer, tickets: int) -> None:
    server.admin.seed(tickets=tickets, random_seed=5)
    server.admin.advance(61)


@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_every_page_is_written_with_its_own_checkpoint_in_order_on_the_calling_thread(zendesk_server, output,
                                                                                       mode):
    seeded(zendesk_server, 450)
    config = server_config(zendesk_server, per_page=100, mode=mode, concurrency=1)
    with ZendeskClient(config) as client:
        plain = [([t["id"] for t in page.tickets], page.checkpoint) for page in iter_pages(client, 0)]
    recording = RecordingSink(output.case.open())
    run_export(config, recording)
    recording.close()
    assert [(ids, checkpoint) for ids, checkpoint, _, _ in recording.writes] == plain
    # a page's checkpoint is stored by its own write, never earlier: each write finds the previous page's
    assert [before for _, _, before, _ in recording.writes] == [None, *[c for _, c in plain[:-1]]]
    assert {thread for *_, thread in recording.writes} == {threading.current_thread().name}
    assert output.versions() == server_truth(zendesk_server)
    assert helper_threads() == []


def test_an_error_fetching_a_page_ends_the_run_as_before_with_the_pages_before_it_written(zendesk_server,
                                                                                          new_output):
    seeded(zendesk_server, 450)
    output = new_output("sqlite")
    config = server_config(zendesk_server, per_page=100, concurrency=1)
    with ZendeskClient(config) as client:
        second = list(iter_pages(client, 0))[1].checkpoint
    denied = Fault("status", status=401, skip=2, body=b'{"error":"Couldn\'t authenticate you"}')
    with pytest.raises(AuthenticationFailed) as raised:
        run_export(config, output.out, transport=FaultyTransport(denied))
    assert raised.value.exit_code == AuthenticationFailed.exit_code
    assert output.checkpoint() == second
    assert helper_threads() == []
    run_export(config, output.out)
    assert output.versions() == server_truth(zendesk_server)


def test_an_error_writing_a_page_stops_the_fetching_at_most_one_page_ahead(zendesk_server, new_output):
    seeded(zendesk_server, 900)
    output = new_output("sqlite")
    config = server_config(zendesk_server, per_page=100, concurrency=1)
    transport = FaultyTransport()
    failing = FailingSink(output.case.open(), fail_on=3)
    with pytest.raises(OutputError, match="^cannot write to the output: disk full") as raised:
        run_export(config, failing, transport=transport)
    failing.close()
    assert raised.value.exit_code == OutputError.exit_code
    assert len(transport.requests_to("/incremental/")) <= 4  # pages 1 to 3, and at most the next one
    assert helper_threads() == []
