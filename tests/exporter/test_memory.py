"""During an export the cycle collector runs rarely, a page's body never waits for it to be freed, and the C
heap's freed pages go back to the system when asked."""

from __future__ import annotations

import gc
import os
import platform
import tracemalloc
from collections.abc import Iterator

import pytest

from tests.exporter.conftest import server_config
from zendesk_export.exporter import Progress, ZendeskClient, run_export
from zendesk_export.exporter.memory import RUN_THRESHOLD, fewer_collections, one_malloc_arena, return_freed_memory


@pytest.fixture(autouse=True)
def _own_thresholds() -> Iterator[None]:
    """Each test starts from CPython's defaults and leaves the process as it found it."""
    saved, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(700, 10, 10)
    gc.enable()
    yield
    gc.set_threshold(*saved)
    (gc.enable if enabled else gc.disable)()


def test_an_export_raises_the_threshold_while_it_runs_and_restores_it_after(zendesk_server, tmp_path):
    zendesk_server.admin.seed(tickets=300, random_seed=4)
    zendesk_server.admin.advance(61)
    during: list[int] = []

    def note(event: Progress) -> None:
        during.append(gc.get_threshold()[0])

    summary = run_export(server_config(zendesk_server, per_page=100), str(tmp_path / "t.db"), on_progress=note)
    assert summary.tickets == 300
    assert set(during) == {RUN_THRESHOLD}
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_runs_restore_once_the_outer_one_ends():
    with fewer_collections():
        with fewer_collections():
            assert gc.get_threshold()[0] == RUN_THRESHOLD
        assert gc.get_threshold()[0] == RUN_THRESHOLD
    assert gc.get_threshold() == (700, 10, 10)


def test_a_process_that_chose_its_own_collection_policy_keeps_it():
    gc.set_threshold(500_000, 20, 20)
    with fewer_collections():
        assert gc.get_threshold() == (500_000, 20, 20)
    gc.set_threshold(700, 10, 10)
    gc.disable()
    with fewer_collections():
        assert gc.get_threshold() == (700, 10, 10)
    assert not gc.isenabled()


def test_a_threshold_changed_during_the_run_stands():
    with fewer_collections():
        gc.set_threshold(2_000, 10, 10)
    assert gc.get_threshold() == (2_000, 10, 10)


def test_a_page_body_is_freed_as_soon_as_the_page_is_dropped(zendesk_server):
    """Without the collector, a response that kept its body would hold the page's bytes until a cycle pass."""
    zendesk_server.admin.seed(tickets=300, random_seed=4)
    zendesk_server.admin.advance(61)
    gc.disable()
    with ZendeskClient(server_config(zendesk_server)) as client:
        client.get("/api/v2/incremental/tickets/cursor.json", {"start_time": 0, "per_page": 300})  # warm up
        tracemalloc.start(64)
        try:
            before = _held_by_the_client()
            page = client.get("/api/v2/incremental/tickets/cursor.json", {"start_time": 0, "per_page": 300})
            assert len(page.body["tickets"]) == 300
            del page
            left = _held_by_the_client() - before
        finally:
            tracemalloc.stop()
    assert left < 100_000  # a 300-ticket page is about half a megabyte


def _held_by_the_client() -> int:
    """Bytes still allocated by calls that went through the exporter's code. The test server runs in a thread
    of this process, with the collector off too: what its request handling keeps until a cycle pass is its own
    business, not the client's, and must not count."""
    mine = tracemalloc.Filter(True, "*/zendesk_export/exporter/*", all_frames=True)
    return sum(stat.size for stat in tracemalloc.take_snapshot().filter_traces([mine]).statistics("filename"))

GLIBC = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim and mallopt are glibc's")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@GLIBC
def test_freed_memory_in_the_middle_of_the_heap_goes_back_to_the_system():
    """What a stream leaves behind: 64 MB of 4 KB blocks (above CPython's small-object size: from malloc)
    freed but every 32nd, so that glibc cannot trim its heap's top: without the call nothing goes back (seen:
    0.2 MB), with it about half of the 62 MB freed (seen: 33.7 MB)."""
    blocks = [bytes(4000) for _ in range(16_000)]
    kept = blocks[::32]
    del blocks
    before = resident_bytes()
    assert return_freed_memory()
    assert before - resident_bytes() > 16 * 2**20, (before, resident_bytes())
    assert len(kept) == 500


@GLIBC
def test_the_threads_of_the_command_share_one_heap():
    assert one_malloc_arena()
