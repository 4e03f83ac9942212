"""The export loops, against recorded Zendesk responses and against the real server: every ticket at its latest
version, none doubled, resumable, and the pitfalls of the reference's Appendix B avoided."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.exporter.conftest import (
    FailingSink,
    FaultyTransport,
    Replay,
    create_tickets,
    delete_tickets,
    server_config,
    server_truth,
    update_tickets,
)
from zendesk_export.exporter import (
    CheckpointMismatch,
    ExportConfig,
    ExportStuck,
    MalformedPage,
    OutputError,
    Progress,
    ZendeskClient,
    iter_pages,
    iter_tickets,
    run_export,
)
from zendesk_export.exporter.sinks import SQLiteSink
from zendesk_export.exporter.sinks.base import Checkpoint

MODES = ["time", "cursor"]
RECORDED_HOST = "https://d3v-zenpydev.zendesk.com"
END_OF_TIME_STREAM = {"tickets": [], "count": 0, "end_of_stream": True, "next_page": None, "end_time": None}
END_OF_CURSOR_STREAM = {"tickets": [], "after_url": None, "before_url": None, "after_cursor": None,
                        "before_cursor": None, "end_of_stream": True}


def recorded_client(replay: Replay, **options: Any) -> ZendeskClient:
    config = ExportConfig(url=RECORDED_HOST, email="a@b.c", token="T", per_page=1, **options)
    return ZendeskClient(config, sleep=lambda _s: None, transport=httpx.MockTransport(replay))


def seed(server: Any, tickets: int, random_seed: int) -> None:
    """Seeded tickets, all out of the server's last-minute blind spot."""
    server.admin.seed(tickets=tickets, random_seed=random_seed)
    server.admin.advance(61)


def test_time_mode_follows_end_time_through_the_recorded_per_page_1_chain(recorded):
    """Each request starts at the previous page's end_time (never following next_page's foreign host), and
    every recorded ticket comes out once."""
    interactions = [i for i in recorded("TicketsIncrementalTest.test_pagination")
                    if "per_page=1&start_time" in i["request"]["uri"] and "cursor" not in i["request"]["uri"]]
    replay = Replay(interactions, END_OF_TIME_STREAM)
    with recorded_client(replay) as client:
        pages = list(iter_pages(client, 0))
    assert [r.split("?")[1] for r in replay.requested] == [
        i["request"]["uri"].split("?")[1] for i in interactions] + ["per_page=1&start_time=1695052728"]
    assert all(url.startswith(RECORDED_HOST) for url in replay.requested)
    assert [p.checkpoint.position for p in pages[:-1]] == [str(i["response"]["body"]["end_time"])
                                                           for i in interactions]
    recorded_ids = [t["id"] for i in interactions for t in i["response"]["body"]["tickets"]]
    assert sorted(t["id"] for p in pages for t in p.tickets) == sorted(recorded_ids)


def test_cursor_mode_sends_start_time_once_then_after_cursor(recorded):
    interactions = [i for i in recorded("TicketsIncrementalTest.test_pagination")
                    if "cursor.json" in i["request"]["uri"] and "per_page=1" in i["request"]["uri"]]
    replay = Replay(interactions, END_OF_CURSOR_STREAM)
    with recorded_client(replay, mode="cursor") as client:
        pages = list(iter_pages(client, 0))
    queries = [httpx.URL(url).params for url in replay.requested]
    assert queries[0]["start_time"] == "0" and "cursor" not in queries[0]
    assert all("start_time" not in q for q in queries[1:])
    assert [q["cursor"] for q in queries[1:]] == [i["response"]["body"]["after_cursor"] for i in interactions]
    assert pages[-1].checkpoint == Checkpoint("cursor", interactions[-1]["response"]["body"]["after_cursor"],
                                              RECORDED_HOST)
    assert len(pages[:-1]) == len(interactions) and all(len(p.tickets) == 1 for p in pages[:-1])


def test_the_recorded_last_page_ends_the_stream_although_next_page_is_not_null(recorded):
    replay = Replay(recorded("TicketsIncrementalTest.test_get_values")[:1], END_OF_TIME_STREAM)
    config = ExportConfig(url=RECORDED_HOST, email="a@b.c", token="T")
    with ZendeskClient(config, transport=httpx.MockTransport(replay)) as client:
        tickets = list(iter_tickets(client, 0))
    assert len(replay.requested) == 1
    assert len(tickets) == 87
    assert Counter(t["id"] for t in tickets).most_common(1)[0][1] == 1


@pytest.mark.parametrize("mode", MODES)
def test_both_modes_export_exactly_the_servers_tickets(zendesk_server, mode, output):
    """A seeded account (with bursts of many tickets in one second), small pages, into every real output."""
    seed(zendesk_server, 1500, 11)
    truth = server_truth(zendesk_server)
    assert max(Counter(truth.values()).values()) > 2 * 50  # the seed made a burst bigger than two pages
    summary = run_export(server_config(zendesk_server, mode=mode, per_page=50), output.out)
    assert output.versions() == truth
    deleted = sum(t["status"] == "deleted" for t in output.tickets().values())
    assert (summary.tickets, summary.new, summary.deleted) == (len(truth), len(truth) - deleted, deleted)
    assert summary.updated == summary.unchanged == 0


@pytest.mark.parametrize("mode", MODES)
def test_thousands_of_tickets_in_one_second_are_exported_once_each(zendesk_server, mode):
    seed(zendesk_server, 20_000, 1)
    truth = server_truth(zendesk_server)
    second, size = Counter(truth.values()).most_common(1)[0]
    assert size >= 1500
    tickets = list(iter_tickets(server_config(zendesk_server, mode=mode, per_page=1000), start_time=second))
    ids = [t["id"] for t in tickets]
    assert len(ids) == len(set(ids))
    assert {t["id"]: t["generated_timestamp"] for t in tickets} == {
        ticket_id: ts for ticket_id, ts in truth.items() if ts >= second}


@pytest.mark.parametrize("mode", MODES)
def test_deleted_tickets_are_exported_as_deleted_or_left_out(zendesk_server, mode, output, new_output):
    ids = create_tickets(zendesk_server, 6)
    delete_tickets(zendesk_server, ids[:2])
    zendesk_server.admin.advance(61)
    live = new_output(output.kind)
    run_export(server_config(zendesk_server, mode=mode), output.out)
    run_export(server_config(zendesk_server, mode=mode, exclude_deleted=True), live.out)
    everything = output.tickets()
    assert output.versions() == server_truth(zendesk_server)
    assert {i: everything[i]["status"] for i in ids[:2]} == {ids[0]: "deleted", ids[1]: "deleted"}
    assert live.versions() == server_truth(zendesk_server, exclude_deleted=True)
    assert set(live.tickets()) == set(ids[2:])


@pytest.mark.parametrize("mode", MODES)
def test_tickets_updated_while_the_export_runs_end_at_their_latest_version(zendesk_server, mode, output):
    seed(zendesk_server, 600, 5)
    changed: list[int] = []

    def change_some_exported_tickets(event: Progress) -> None:
        if event.kind == "page" and event.pages in (2, 4):
            stored = output.tickets()
            open_ids = sorted(i for i, t in stored.items() if t["status"] not in ("closed", "deleted", "pending"))
            ids = open_ids[event.pages * 10: event.pages * 10 + 5]
            update_tickets(zendesk_server, ids, status="pending")
            zendesk_server.admin.advance(61)
            changed.extend(ids)

    config = server_config(zendesk_server, mode=mode, per_page=60)
    first = run_export(config, output.out, on_progress=change_some_exported_tickets)
    again = run_export(config, output.out)
    stored = output.tickets()
    assert output.versions() == server_truth(zendesk_server)
    assert all(stored[i]["status"] == "pending" for i in changed) and len(set(changed)) == 10
    assert first.updated + again.updated == 10
    assert first.new + first.deleted == 600


def test_page_boundary_repeats_of_the_time_export_are_dropped(zendesk_server):
    """A full page ending inside a second makes the server send that second's tickets again; the loop drops
    them, so each ticket is handed on once."""
    start = int(zendesk_server.admin.clock()["now"])
    zendesk_server.admin.freeze(start)
    for _ in range(3):
        create_tickets(zendesk_server, 8)
        zendesk_server.admin.advance(1)
    zendesk_server.admin.advance(61)
    with ZendeskClient(server_config(zendesk_server, per_page=12)) as client:
        pages = list(iter_pages(client, 0))
    handed_on = [(t["id"], t["generated_timestamp"]) for p in pages for t in p.tickets]
    assert sum(p.repeats for p in pages) > 0
    assert sorted(handed_on) == sorted(server_truth(zendesk_server).items())


def test_a_boundary_repeat_that_changed_before_the_next_page_ends_at_its_latest_version(zendesk_server, output):
    """Page 1 ends inside a second, so that second's tickets come again on page 2; one of them is updated
    between the two pages. Repeats are recognised by id *and* generated_timestamp, so the new version on page 2
    is kept, not dropped as a repeat."""
    zendesk_server.admin.freeze(int(zendesk_server.admin.clock()["now"]))
    create_tickets(zendesk_server, 8)
    zendesk_server.admin.advance(1)
    boundary = create_tickets(zendesk_server, 8)  # page 1 (12 tickets) ends among these
    zendesk_server.admin.advance(61)

    def update_a_repeat_after_page_one(event: Progress) -> None:
        if event.kind == "page" and event.pages == 1:
            update_tickets(zendesk_server, boundary[:1], status="pending")
            zendesk_server.admin.advance(61)

    transport = FaultyTransport()
    run_export(server_config(zendesk_server, per_page=12), output.out, transport=transport,
               on_progress=update_a_repeat_after_page_one)
    assert len(transport.requests_to("/incremental/tickets")) == 2  # the new version came on page 2
    assert output.tickets()[boundary[0]]["status"] == "pending"
    assert output.versions() == server_truth(zendesk_server)


@pytest.mark.parametrize(("server_clock", "start_offset", "requests"), [
    (1_700_000_000, -30, 0),          # 30 s before the server's clock (years behind ours): too recent, not asked
    (4_000_000_000, -3 * 86400, 1),   # 3 days behind the server's clock (far in our future): asked
], ids=["server-clock-behind-ours", "server-clock-ahead-of-ours"])
def test_the_too_recent_pre_check_uses_the_servers_date_header(zendesk_server, server_clock, start_offset, requests):
    """A reused client knows the server's clock from its last ``Date`` header, and does not ask for a
    ``start_time`` under a minute behind it (our own clock does not count)."""
    zendesk_server.admin.freeze(server_clock)
    with ZendeskClient(server_config(zendesk_server)) as client:
        list(iter_pages(client, 0))
        assert client.server_time == server_clock  # from the answer's Date header
        zendesk_server.admin.clear_requests()
        pages = list(iter_pages(client, server_clock + start_offset))
    asked = [e for e in zendesk_server.admin.requests() if "/incremental/" in e["path"]]
    assert len(asked) == requests
    assert all(page.tickets == [] for page in pages)


@pytest.mark.parametrize("mode", MODES)
def test_a_second_run_resumes_from_the_checkpoint(zendesk_server, mode, output):
    seed(zendesk_server, 500, 2)
    config = server_config(zendesk_server, mode=mode, per_page=100)
    run_export(config, output.out)
    checkpoint = output.checkpoint()
    assert checkpoint is not None
    created = create_tickets(zendesk_server, 3)
    zendesk_server.admin.advance(61)
    transport = FaultyTransport()
    second = run_export(config, output.out, transport=transport)
    first_request = transport.journal[0][1]
    assert first_request.get("start_time", first_request.get("cursor")) == checkpoint.position
    assert second.resumed_from == checkpoint
    assert second.new == 3 and set(created) <= set(output.tickets())
    assert output.versions() == server_truth(zendesk_server)


def test_start_time_only_seeds_the_first_run(zendesk_server, output):
    seed(zendesk_server, 500, 4)
    truth = server_truth(zendesk_server)
    middle = sorted(truth.values())[250]
    run_export(server_config(zendesk_server, start_time=middle), output.out)
    assert set(output.versions().values()) == {ts for ts in truth.values() if ts >= middle}
    second = run_export(server_config(zendesk_server, start_time=0), output.out)
    assert second.new == 0


@pytest.mark.parametrize(("checkpoint", "message"), [
    (Checkpoint("time", "5", "https://other.zendesk.com"), "holds an export of https://other.zendesk.com"),
    (Checkpoint("cursor", "MTY5fHw=", "SOURCE"), "was exported with --mode cursor"),
])
def test_a_checkpoint_of_another_account_or_mode_is_refused(zendesk_server, checkpoint, message, output):
    create_tickets(zendesk_server, 2)
    zendesk_server.admin.advance(61)
    stored = Checkpoint(checkpoint.mode, checkpoint.position, checkpoint.source.replace("SOURCE", zendesk_server.url))
    output.write_checkpoint(stored)
    with pytest.raises(CheckpointMismatch, match=message):
        run_export(server_config(zendesk_server), output.out)
    assert output.tickets() == {} and output.checkpoint() == stored


@pytest.mark.parametrize("mode", MODES)
def test_a_too_recent_start_time_means_nothing_new(zendesk_server, mode, output):
    create_tickets(zendesk_server, 2)
    now = int(zendesk_server.admin.clock()["now"])
    summary = run_export(server_config(zendesk_server, mode=mode, start_time=now - 30), output.out)
    assert (summary.tickets, summary.pages, summary.requests) == (0, 0, 1)
    assert (output.tickets(), output.checkpoint()) == ({}, None)


def test_an_empty_account_exports_nothing_and_succeeds(zendesk_server, output):
    summary = run_export(server_config(zendesk_server), output.out)
    assert (summary.tickets, output.checkpoint(), output.tickets()) == (0, None, {})


def test_a_failing_output_stops_the_export_and_keeps_the_last_checkpoint(zendesk_server, output):
    seed(zendesk_server, 500, 1)
    config = server_config(zendesk_server, per_page=100)
    with ZendeskClient(config) as client:
        second_page = list(iter_pages(client, 0))[1].checkpoint
    failing = FailingSink(output.case.open(), fail_on=3)
    with pytest.raises(OutputError, match="cannot write to the output: disk full"):
        run_export(config, failing)
    failing.close()
    assert output.checkpoint() == second_page
    assert 0 < len(output.tickets()) < 500
    run_export(config, output.out)
    assert output.versions() == server_truth(zendesk_server)


def test_sideloads_and_options_are_passed_through():
    """``include``/``exclude_deleted``/``per_page`` go on every request; sideload arrays reach the page."""
    seen: list[httpx.URL] = []
    users = [{"id": 7, "name": "Ann"}]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={**END_OF_TIME_STREAM, "tickets": [{"id": 1, "generated_timestamp": 5}],
                                         "end_time": 5, "users": users, "groups": []})

    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", include=("users", "groups"),
                          exclude_deleted=True, per_page=100)
    with ZendeskClient(config, transport=httpx.MockTransport(answer)) as client:
        [page] = list(iter_pages(client, 0))
    assert dict(seen[0].params) == {"include": "users,groups", "exclude_deleted": "true", "per_page": "100",
                                    "start_time": "0"}
    assert page.sideloads == {"users": users, "groups": []}


def scripted(*bodies: dict[str, Any]) -> tuple[ZendeskClient, list[httpx.URL]]:
    seen: list[httpx.URL] = []
    queue = list(bodies)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=queue.pop(0) if len(queue) > 1 else queue[0])

    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True)
    return ZendeskClient(config, transport=httpx.MockTransport(answer)), seen


def ticket(ticket_id: int, ts: int) -> dict[str, Any]:
    return {"id": ticket_id, "generated_timestamp": ts, "status": "open"}


def test_an_empty_page_that_is_not_the_end_is_asked_again():
    empty = {"tickets": [], "count": 0, "end_of_stream": False, "next_page": None, "end_time": None}
    last = {"tickets": [ticket(1, 10)], "count": 1, "end_of_stream": True, "next_page": "x", "end_time": 10}
    client, seen = scripted(empty, empty, last)
    with client:
        tickets = list(iter_tickets(client, 0))
    assert [t["id"] for t in tickets] == [1]
    assert [u.params["start_time"] for u in seen] == ["0", "0", "0"]
    assert client.stats.retries == 2


@pytest.mark.parametrize("body", [
    {"tickets": [], "count": 0, "end_of_stream": False, "next_page": None, "end_time": None},
    {"tickets": [ticket(1, 10)], "count": 1, "end_of_stream": False, "next_page": "x", "end_time": 0},
], ids=["empty-pages", "page-that-does-not-advance"])
def test_an_export_that_never_advances_is_reported_not_looped(body):
    client, seen = scripted(body)
    with client, pytest.raises(ExportStuck, match="not advancing"):
        list(iter_tickets(client, 0))
    assert len(seen) == 6


def test_a_cursor_page_without_after_cursor_is_not_the_end():
    broken = {**END_OF_CURSOR_STREAM, "end_of_stream": False, "tickets": [ticket(1, 5)]}
    good = {**END_OF_CURSOR_STREAM, "tickets": [ticket(1, 5), ticket(2, 6)], "after_cursor": "Yw=="}
    client, seen = scripted(broken, good)
    with client:
        pages = list(iter_pages(client, 0, mode="cursor"))
    assert [p.checkpoint.position for p in pages] == ["Yw=="]
    assert len(seen) == 2


def test_iter_tickets_from_a_config_closes_its_client(zendesk_server):
    seed(zendesk_server, 300, 9)
    tickets = list(iter_tickets(server_config(zendesk_server, per_page=100)))
    assert {t["id"]: t["generated_timestamp"] for t in tickets} == server_truth(zendesk_server)


def test_progress_reports_every_page_and_the_end(zendesk_server, tmp_path):
    seed(zendesk_server, 1000, 1)
    events: list[Progress] = []
    summary = run_export(server_config(zendesk_server, per_page=250), str(tmp_path / "t.db"), on_progress=events.append)
    pages = [e for e in events if e.kind == "page"]
    assert [e.pages for e in pages] == list(range(1, summary.pages + 1))
    assert pages[-1].tickets == summary.tickets == 1000
    assert events[-1].kind == "done" and events[-1].requests == summary.requests
    assert pages[-1].reached is not None and pages[-1].target is not None
    assert pages[-1].origin <= pages[-1].reached <= pages[-1].target + 1


def test_cursor_checkpoint_is_the_opaque_after_cursor(zendesk_server, output):
    create_tickets(zendesk_server, 3)
    zendesk_server.admin.advance(61)
    run_export(server_config(zendesk_server, mode="cursor"), output.out)
    checkpoint = output.checkpoint()
    assert checkpoint is not None and checkpoint.mode == "cursor"
    assert base64.b64decode(checkpoint.position).decode().endswith(f"||{max(output.tickets())}|")


@pytest.mark.parametrize(("mode", "bad_ticket", "problem"), [
    ("time", None, "ticket 2 of the page is null, not an object"),
    ("time", {"id": "2", "generated_timestamp": 10}, "ticket 2 of the page has id '2', not an integer"),
    ("cursor", {"id": 2, "status": "open"}, "ticket 2 of the page has no generated_timestamp"),
    ("cursor", "ticket", "ticket 2 of the page is str, not an object"),
    ("cursor", {"id": 2**63, "generated_timestamp": 10}, "ticket 2 of the page has id 9223372036854775808, beyond "
                                                          "64 bits"),
    ("time", {"id": 2, "generated_timestamp": 2**63}, "ticket 2 of the page has generated_timestamp "
                                                      "9223372036854775808, beyond 64 bits"),
])
def test_a_page_with_an_unstorable_ticket_stops_the_export_naming_the_page(tmp_path, mode, bad_ticket, problem):
    """Not a traceback: a MalformedPage (exit 1) naming the request, and nothing of the page written."""
    body = {**(END_OF_TIME_STREAM if mode == "time" else END_OF_CURSOR_STREAM), "end_time": 10,
            "after_cursor": "c1", "tickets": [ticket(1, 10), bad_ticket]}
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", mode=mode, no_backoff=True)
    path = "tickets.json?start_time=0" if mode == "time" else "tickets/cursor.json?start_time=0"
    out = tmp_path / "t.db"
    with pytest.raises(MalformedPage) as raised:
        run_export(config, str(out), transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)))
    assert str(raised.value) == (f"unexpected answer to GET /api/v2/incremental/{path}: {problem}; "
                                 "nothing of this page was written")
    assert raised.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []  # a new output that received nothing is not left behind


@pytest.mark.parametrize("kind", ["t.db", "t.jsonl", "t.parquet"])
@pytest.mark.parametrize(("bad_user", "problem"), [
    ({"id": 2**63, "name": "x"}, "users 2 of the page has id 9223372036854775808, beyond 64 bits"),
    ({"name": "no id"}, "users 2 of the page has no id"),
    ("user", "users 2 of the page is str, not an object"),
])
def test_a_sideload_that_cannot_be_stored_stops_the_export_naming_the_page(tmp_path, kind, bad_user, problem):
    """A sideloaded object is keyed on its id like a ticket: without a storable one, the page is malformed (the
    SQLite output stored a row with no id, the file outputs raised from their index)."""
    body = {**END_OF_TIME_STREAM, "end_time": 10, "tickets": [ticket(1, 10)], "users": [{"id": 7}, bad_user]}
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True,
                          include=("users",))
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=body))
    with pytest.raises(MalformedPage) as raised:
        run_export(config, str(tmp_path / kind), transport=transport)
    assert str(raised.value) == (f"unexpected answer to GET /api/v2/incremental/tickets.json?start_time=0: {problem}; "
                                 "nothing of this page was written")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_reported_as_disk_full(tmp_path):
    """SQLite's failed rollback after SQLITE_FULL ("no transaction is active") no longer hides the cause."""
    sink = SQLiteSink(tmp_path / "t.db")
    pages = sink._conn.execute("PRAGMA page_count").fetchone()[0]  # the sink's own connection: a tiny quota
    sink._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    tickets = [{**ticket(n, 10), "description": "x" * 2000} for n in range(1, 200)]
    body = {**END_OF_TIME_STREAM, "end_time": 10, "tickets": tickets}
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True)
    with pytest.raises(OutputError, match="^cannot write to the output: disk full"):
        run_export(config, sink, transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)))
    assert sink.load_checkpoint() is None
    sink.close()


@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_a_written_page_is_not_held_while_the_rest_of_the_export_runs(zendesk_server, tmp_path, monkeypatch, mode):
    """The first page too: it decides whether the history is split into windows, and was kept to the end of the
    run (a parsed page of 1000 tickets is ~9 MB, which the peak RSS target could not afford)."""
    import gc

    import zendesk_export.exporter.export as export_module

    zendesk_server.admin.seed(tickets=250, random_seed=4)
    zendesk_server.admin.advance(61)
    write_page, firsts, alive = export_module._write_page, [], []

    def noting_write_page(sink: Any, page: Any) -> Any:
        firsts.append(page.tickets[0]["id"])
        if len(firsts) == 3:  # the first page was written two pages ago
            alive.extend(o for o in gc.get_objects() if type(o) is list and o and type(o[0]) is dict
                         and o[0].get("id") == firsts[0] and "generated_timestamp" in o[0])
        return write_page(sink, page)

    monkeypatch.setattr(export_module, "_write_page", noting_write_page)
    summary = run_export(server_config(zendesk_server, per_page=50, mode=mode), str(tmp_path / "t.db"))
    assert summary.tickets == 250 and len(firsts) >= 3
    assert alive == []
