"""The whole-account run against a real server on a real port: every stream ends with exactly the server's
objects (ids and latest versions) in every output (SQLite, PostgreSQL, JSONL, Parquet), follows edits made
through the API, marks a reference object that disappeared as deleted (and keeps it), survives a failing
stream and SIGKILL, and stays within Zendesk's export budget while spending all of it."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.exporter.conftest import Output, create_tickets, server_config, server_truth, update_tickets
from zendesk_export.exporter.engine import run_streams
from zendesk_export.exporter.settings import ExportConfig
from zendesk_export.exporter.status import read_status
from zendesk_export.exporter.streams import STREAM_NAMES, stream
from zendesk_export.testing import ZendeskServer

pytestmark = pytest.mark.whole_account
SQL_SINKS = ("sqlite", "postgres")
FILE_SINKS = ("jsonl", "parquet")


def server_objects(server: ZendeskServer, name: str) -> dict[int, dict[str, Any]]:
    """Every object of stream ``name`` as the API gives it now, read independently of the exporter (the latest
    version of an id wins in the time-based exports, which are ordered by time)."""
    item, found = stream(name), {}
    with server.client() as http:
        if item.kind == "reference":
            params: dict[str, Any] = {"page[size]": 100}
            while True:
                body = _get(http, item.path, params)
                found.update({obj["id"]: obj for obj in body[item.data_key]})
                if not body["meta"]["has_more"]:
                    return found
                params = {"page[size]": 100, "page[after]": body["meta"]["after_cursor"]}
        start = 0
        while True:
            body = _get(http, item.path, {**item.params, "start_time": start})
            found.update({obj["id"]: obj for obj in body[item.data_key]})
            if body["end_of_stream"]:
                return found
            start = body["end_time"]


def _get(http: httpx.Client, path: str, params: dict[str, Any]) -> Any:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def stored(output: Output, name: str, *, deleted: bool = False) -> dict[int, dict[str, Any]]:
    """The current rows of a stream's table as received (reference tables: those not marked deleted, or only
    those marked)."""
    if output.kind in FILE_SINKS:  # the mark is a key of the stored object
        found = output.case.latest(name)
        marked = {obj_id for obj_id, obj in found.items() if obj.pop("_deleted", False)}
        return {obj_id: obj for obj_id, obj in found.items() if (obj_id in marked) == deleted}
    where = ""
    if stream(name).kind == "reference":
        where = ' WHERE "_deleted"' if deleted else ' WHERE NOT "_deleted"'
    rows = output.case.query(f'SELECT raw_json FROM "{name}"{where}')
    return {obj["id"]: obj for obj in map(orjson.loads, rows)}


def assert_holds_the_server(server: ZendeskServer, output: Output) -> None:
    assert output.versions() == server_truth(server)
    for name in STREAM_NAMES[1:]:
        assert stored(output, name) == server_objects(server, name), name
        if output.kind in SQL_SINKS:  # one row per id (the file outputs are logs of versions by design)
            assert output.case.stored_rows(name) == len(stored(output, name)) + len(
                stored(output, name, deleted=True) if stream(name).kind == "reference" else {}), name


def _first(server: ZendeskServer, path: str, key: str, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    with server.client() as http:
        return next(obj for obj in _get(http, path, {})[key] if accept(obj))


def edit_the_account(server: ZendeskServer) -> dict[str, int]:
    """Edits through the API, as people make them: a user moved to another organization, a group renamed,
    a brand deleted, tickets changed and added."""
    user = _first(server, "/api/v2/users.json", "users", lambda u: u["role"] == "end-user")
    brand = _first(server, "/api/v2/brands.json", "brands", lambda b: not b["default"])
    with server.client() as http:
        organizations = [o["id"] for o in _get(http, "/api/v2/organizations.json", {})["organizations"]]
        target = next(o for o in organizations if o != user["organization_id"])
        assert http.put(f"/api/v2/users/{user['id']}.json", json={"user": {"organization_id": target}}).is_success
        assert http.put("/api/v2/groups/2.json", json={"group": {"name": "Escalations"}}).is_success
        assert http.delete(f"/api/v2/brands/{brand['id']}.json").status_code == 204
    update_tickets(server, create_tickets(server, 3)[:2], status="solved")
    server.admin.advance(61)
    return {"user": user["id"], "organization": target, "brand": brand["id"]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", SQL_SINKS + FILE_SINKS)
def test_every_stream_holds_the_servers_objects_then_follows_edits(zendesk_server, new_output, kind):
    zendesk_server.admin.seed(tickets=60, random_seed=5)
    zendesk_server.admin.advance(61)
    output = new_output(kind)
    config = server_config(zendesk_server, per_page=20)
    first = run_streams(config, output.out)
    assert not first.failed and all(result.complete for result in first.streams.values())
    assert_holds_the_server(zendesk_server, output)

    edited = edit_the_account(zendesk_server)
    second = run_streams(config, output.out)
    assert not second.failed
    assert_holds_the_server(zendesk_server, output)
    assert stored(output, "users")[edited["user"]]["organization_id"] == edited["organization"]
    assert stored(output, "groups")[2]["name"] == "Escalations"
    assert list(stored(output, "brands", deleted=True)) == [edited["brand"]]  # kept, marked deleted
    assert second.streams["brands"].deleted == 1
    assert second.streams["tickets"].new == 3

    status = {item.stream: item for item in read_status(output.out)}
    assert [name for name, item in status.items() if item.state is None or not item.state.complete] == []
    assert status["brands"].deleted == 1 and status["brands"].rows == len(server_objects(zendesk_server, "brands")) + 1
    assert status["tickets"].rows == len(server_truth(zendesk_server))


def test_a_failing_stream_keeps_what_the_others_wrote_and_the_next_run_finishes_it(zendesk_server, new_output):
    zendesk_server.admin.seed(tickets=30, random_seed=2)
    zendesk_server.admin.advance(61)
    zendesk_server.admin.set_faults([{"match": {"path": "/api/v2/brands.json"}, "action": {"status": 403},
                                      "times": 1}])
    output = new_output("sqlite")
    config = server_config(zendesk_server)
    failed = run_streams(config, output.out)
    assert [result.stream for result in failed.failed] == ["brands"]
    assert failed.exit_code == 3
    assert stored(output, "users") == server_objects(zendesk_server, "users")
    assert output.versions() == server_truth(zendesk_server)

    again = run_streams(config, output.out)
    assert not again.failed
    assert_holds_the_server(zendesk_server, output)


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "parquet"])
def test_an_object_id_beyond_64_bits_fails_its_stream_naming_the_page_and_writes_nothing(tmp_path, kind):
    """Every output keys on a 64-bit id (the file outputs' index too): such an id is a malformed page, not a
    traceback from the output."""
    body = {"brands": [{"id": 1, "name": "kept out"}, {"id": 2**63, "name": "hostile"}],
            "meta": {"has_more": False, "after_cursor": None}, "links": {"next": None}}
    config = ExportConfig(url="https://acme.zendesk.com", email="a@b.c", token="T", no_backoff=True)
    out = str(tmp_path / {"sqlite": "t.db", "jsonl": "t.jsonl", "parquet": "t.parquet"}[kind])
    summary = run_streams(config, out, "brands", transport=httpx.MockTransport(lambda _: httpx.Response(200,
                                                                                                        json=body)))
    [failed] = summary.failed
    assert failed.error == ("unexpected answer to GET /api/v2/brands.json: object 2 of the page has id "
                            "9223372036854775808, beyond 64 bits; nothing of this page was written")
    assert (failed.exit_code, failed.rows, failed.pages) == (1, 0, 0)


def test_streams_are_chosen_and_every_output_takes_every_stream_by_default(zendesk_server, new_output):
    zendesk_server.admin.seed(tickets=10, random_seed=2)
    zendesk_server.admin.advance(61)
    output = new_output("jsonl")  # a file output, which held tickets only before
    run = run_streams(server_config(zendesk_server), output.out, "users,groups")
    assert list(run.streams) == ["users", "groups"] and run.tickets is None
    assert {item.stream for item in read_status(output.out) if item.state is not None} == {"users", "groups"}
    assert _cli(zendesk_server, output.out).returncode == 0  # the default: every stream
    assert {item.stream for item in read_status(output.out) if item.state is not None} == set(STREAM_NAMES)
    assert len(output.tickets()) == 10


def test_status_reports_every_stream_for_people_and_machines(zendesk_server, new_output):
    """On a file output (the SQL outputs' status is read back by the whole-account test of every sink)."""
    zendesk_server.admin.seed(tickets=10, random_seed=2)
    zendesk_server.admin.advance(61)
    output = new_output("parquet")
    assert _cli(zendesk_server, output.out).returncode == 0
    shown = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "status", "--out", output.out, "--json"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    streams = orjson.loads(shown.stdout)["streams"]
    assert list(streams) == list(STREAM_NAMES)
    assert streams["tickets"]["rows"] == 10 and all(item["complete"] for item in streams.values())
    assert streams["users"]["rows"] == len(server_objects(zendesk_server, "users"))
    text = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "status", "--out", output.out],
                          capture_output=True, text=True, timeout=60)
    assert text.stdout.splitlines()[1].split()[:2] == ["tickets", "10"]
    missing = subprocess.run([sys.executable, "-m", "zendesk_export.cli", "status", "--out",
                              output.out + ".missing.parquet"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 4 and "no export at" in missing.stderr


def _command(server: ZendeskServer, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zendesk_export.cli", "export", "--url", server.url, "--email", server.email,
            "--token", server.token, "--out", out, "--no-backoff", "--quiet", *extra]


def _cli(server: ZendeskServer, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(server, out, *extra), capture_output=True, text=True, timeout=120)


KILLS = 5
SLOW_REQUESTS = [{"match": {"path": "/api/v2/*"}, "action": {"latency_ms": 400}, "times": 100_000}]


@pytest.mark.slow
@pytest.mark.parametrize("kinds", [("sqlite",), ("postgres",), FILE_SINKS], ids="+".join)
def test_a_whole_account_run_killed_at_random_instants_ends_with_exactly_the_server(zendesk_server, new_output,
                                                                                     kinds):
    """The two file outputs are exported side by side, killed at the same instants (half the time of two
    runs; each is a process of its own and an output of its own)."""
    zendesk_server.admin.seed(tickets=600, random_seed=4)
    zendesk_server.admin.advance(61)
    outputs = [new_output(kind) for kind in kinds]
    rng, killed_mid_run = random.Random(20261203), 0
    # every request slowed down, so that a run (even one resuming near its end) lasts longer than the last kill
    # on any machine: how fast the exporter is must not decide whether the kills land mid-run
    zendesk_server.admin.set_faults(SLOW_REQUESTS)
    for kill in range(KILLS):
        processes = [subprocess.Popen(_command(zendesk_server, output.out, "--per-page", "50"),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for output in outputs]
        time.sleep(rng.uniform(0.6, 1.8))
        killed_mid_run += all(process.poll() is None for process in processes)
        for process in processes:
            process.send_signal(signal.SIGKILL)
            process.wait()
        if kill % 2:  # the account keeps changing between runs
            create_tickets(zendesk_server, 1)
            with zendesk_server.client() as http:
                assert http.put("/api/v2/groups/1.json", json={"group": {"name": f"Tier {kill}"}}).is_success
            zendesk_server.admin.advance(61)
    zendesk_server.admin.clear_faults()
    for output in outputs:
        finished = _cli(zendesk_server, output.out, "--per-page", "50")
        assert finished.returncode == 0, finished.stderr
        assert_holds_the_server(zendesk_server, output)
    assert killed_mid_run == KILLS


def limits_on_late_in_a_minute(admin: Any, tickets: int, random_seed: int, **limits: int) -> None:
    """Seed ``tickets``, then turn Zendesk's rate limits on (``limits`` as the admin API names them) 45 s before
    a minute of the server's clock ends (why 45 s: ``test_a_whole_account_run_at_zendesks_limits…``)."""
    admin.seed(tickets=tickets, random_seed=random_seed)
    admin.advance(61)
    now = admin.clock()["now"]
    admin.freeze(now - now % 60 + 15)
    admin.unfreeze()
    admin.set_rate_limit(enabled=True, **limits)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SQL_SINKS + FILE_SINKS)
def test_a_whole_account_run_at_zendesks_limits_spends_the_export_budget_without_a_429(zendesk_server,
                                                                                         new_output, kind):
    """About 18 export requests against Zendesk's 10 a minute, started 45 s before a minute of the server's
    clock ends (time enough for 10 requests on a busy machine: 8 s once saw only 9, and 30 s only 8 while
    other exports ran beside the suite; and for opening the output under a loaded database; the pacer keeps
    real time, so the clock cannot be stepped instead): the first minute's requests are spent while work
    remains, then the rest follow the reset, and no request is refused. "Spent" is 10, or 9: the ticket
    export's windows send requests concurrently, and when the server counts two requests in the other order
    than they went out, the pacer's rule (the least credit the answers leave holds) counts one of them twice:
    it may send one request less, never one too many."""
    admin = zendesk_server.admin
    limits_on_late_in_a_minute(admin, 120, 6, incremental=10)
    admin.clear_requests()
    output = new_output(kind)
    run = run_streams(server_config(zendesk_server, per_page=40, no_backoff=False), output.out)
    assert not run.failed
    journal = admin.requests()
    assert [r for r in journal if r["status"] == 429] == []
    exports = sorted(r["time"] for r in journal if r["path"].startswith("/api/v2/incremental/"))
    minutes = [int(moment // 60) for moment in exports]
    per_minute = [minutes.count(minute) for minute in sorted(set(minutes))]
    print("export requests per minute of the server's clock:", per_minute)
    assert len(per_minute) >= 2 and all(spent in (9, 10) for spent in per_minute[:-1]), per_minute
    admin.set_rate_limit(enabled=False)  # for the test's own reading of the truth
    assert_holds_the_server(zendesk_server, output)


@pytest.mark.slow
def test_the_reference_lists_leave_the_exports_their_share_of_the_accounts_minute(zendesk_server, new_output):
    """Every request counts in the account's bucket, the exports' too. Twelve pages of ``ticket_metrics`` and
    twelve of tickets against an account limit of 20 a minute and Zendesk's 10 export requests, each export
    page a second late (so the list's pages come first, as from Zendesk with slow export pages): the list
    stops 13 requests short of the account's minute (the exports' 10 and their field definitions), so the
    export spends its 10, or 9 (``test_a_whole_account_run_at_zendesks_limits…``), and nothing meets a 429.
    Spending the whole minute, the list took the export's requests (7 were left to it) or, against a slower
    export, left its next request a 429; with the field definitions on the list's budget, the ticket stream
    waited for the next minute. Started 45 s before a minute of the server's clock ends, as that test is."""
    admin = zendesk_server.admin
    limits_on_late_in_a_minute(admin, 1200, 8, incremental=10, plan_limit=20)
    admin.set_faults([{"match": {"method": "GET", "path": "/api/v2/incremental/*"}, "action": {"latency_ms": 1000},
                       "every": 1}])
    admin.clear_requests()
    output = new_output("sqlite")
    run = run_streams(server_config(zendesk_server, per_page=100, no_backoff=False), output.out,
                      "tickets,ticket_metrics")
    assert not run.failed
    journal = admin.requests()
    assert [(r["path"], r["status"]) for r in journal if r["status"] == 429] == []
    exports = [r["time"] for r in journal if r["path"].startswith("/api/v2/incremental/")]
    first_minute = [moment for moment in exports if moment - exports[0] < 30]  # the next comes after a wait
    assert len(exports) >= 12 and len(first_minute) in (9, 10), (len(exports), len(first_minute))
    admin.set_rate_limit(enabled=False)
    admin.clear_faults()
    assert output.versions() == server_truth(zendesk_server)
    assert stored(output, "ticket_metrics") == server_objects(zendesk_server, "ticket_metrics")


def test_the_incremental_streams_run_one_after_another_tickets_first(zendesk_server, new_output):
    """A page of an incremental export is a thousand objects: side by side, the streams' pages added up in
    memory (engine's module doc). In the server's journal each incremental stream's requests follow the
    previous stream's last one, in declaration order; the reference lists run beside them."""
    admin = zendesk_server.admin
    admin.seed(tickets=60, random_seed=4)
    admin.advance(61)
    admin.clear_requests()
    output = new_output("sqlite")
    assert not run_streams(server_config(zendesk_server, per_page=20), output.out).failed
    paths = {stream(name).path.removesuffix(".json"): name for name in STREAM_NAMES if stream(name).incremental}
    walked = [next(name for path, name in paths.items() if r["path"].startswith(path))
              for r in admin.requests() if r["path"].startswith("/api/v2/incremental/")]
    turns = [name for position, name in enumerate(walked) if position == 0 or walked[position - 1] != name]
    assert turns == [name for name in STREAM_NAMES if stream(name).incremental], turns
    assert walked.count("ticket_events") > 1
    assert_holds_the_server(zendesk_server, output)
