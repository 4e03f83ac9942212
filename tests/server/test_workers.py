"""`zendesk-export serve --workers 2`: two processes on one port and one database (SQLite and PostgreSQL) behave
as one server: requests spread over both, the journal lists every request, a fault set through the admin API
hits the next request whichever process gets it, rate limits are not multiplied, exports equal the store, and
stopping the parent stops both processes."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import STORES, drop_schema, in_schema, postgres_dsn
from tests.truth import database_truth
from zendesk_export.exporter import ExportConfig, run_export
from zendesk_export.server.edge.faults import FaultInjector, parse_rules
from zendesk_export.testing import AdminClient

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")

ADMIN_TOKEN = "workers-admin-token-0123"
AUTH = ("admin@example.com/token", "demo-token")
TICKETS = 30


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    admin: AdminClient
    db: str


def children_of(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (zombies, already ended, excluded)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.add(int(entry.name))
    return found


def start(db: str, *options: str) -> tuple[str, subprocess.Popen[str]]:
    command = [sys.executable, "-m", "zendesk_export.cli", "serve", "--db", db, "--port", "0", "--workers", "2",
               "--admin-token", ADMIN_TOKEN, "--quiet", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith("zendesk-export server on "):
        process.kill()
        raise AssertionError(f"serve did not start: {first}{process.communicate(timeout=30)[1]}")
    return first.split()[3], process


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM the parent; what it printed after its first line."""
    process.terminate()
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.fixture(scope="module", params=STORES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `serve --workers 2` per store for the module, seeded; each test resets what it changes."""
    if request.param == "sqlite":
        db, schema = str(tmp_path_factory.mktemp("workers") / "server.db"), ""
    else:
        schema = f"zx_workers_{secrets.token_hex(6)}"
        db = in_schema(postgres_dsn(), schema)
    url, process = start(db, "--rate-limit", "off", "--seed", str(TICKETS))
    admin = AdminClient(url, ADMIN_TOKEN)
    try:
        yield Served(url, process, admin, db)
    finally:
        admin.close()
        stop(process)
        if schema:
            drop_schema(postgres_dsn(), schema)


def get(url: str, path: str, **params: object) -> httpx.Response:
    """One request on a new connection, so that the kernel may hand it to either process."""
    return httpx.get(url + path, params=params, auth=AUTH, timeout=30)  # type: ignore[arg-type]


def test_requests_spread_over_both_processes_and_the_journal_lists_every_one(served: Served) -> None:
    served.admin.clear_requests()
    paths = [f"/api/v2/tickets/{n}.json" for n in range(1, 21)]
    statuses = [get(served.url, path).status_code for path in paths]
    journal = served.admin.requests()
    assert [(entry["path"], entry["status"]) for entry in journal] == list(zip(paths, statuses, strict=True))
    assert [entry["id"] for entry in journal] == sorted({entry["id"] for entry in journal})
    assert {entry["server_pid"] for entry in journal} == children_of(served.process.pid)
    assert len(children_of(served.process.pid)) == 2


def test_a_fault_set_through_any_process_hits_the_next_request_wherever_it_lands(served: Served) -> None:
    try:
        for _ in range(4):  # each PUT lands on either process, and so does each request
            served.admin.set_faults([{"match": {"path": "/api/v2/tickets/*"}, "action": {"status": 503}, "times": 1}])
            assert [get(served.url, "/api/v2/tickets/1.json").status_code for _ in range(3)] == [503, 200, 200]
    finally:
        served.admin.clear_faults()


def test_fault_triggers_count_the_requests_of_both_processes(served: Served) -> None:
    """`every: 2` alternates exactly, and a seeded probability gives the sequence of one process."""
    rules = [{"match": {"path": "/api/v2/tickets/1*"}, "action": {"status": 503}, "every": 2},
             {"match": {"path": "/api/v2/tickets/2*"}, "action": {"status": 502}, "probability": 0.5, "seed": 7}]
    served.admin.clear_requests()
    served.admin.set_faults(rules)
    try:
        every = [get(served.url, "/api/v2/tickets/1.json").status_code for _ in range(12)]
        drawn = [get(served.url, "/api/v2/tickets/2.json").status_code for _ in range(12)]
        state = served.admin.faults()
    finally:
        served.admin.clear_faults()
    assert every == [200, 503] * 6
    one_process = FaultInjector(parse_rules(rules[1:]))
    assert drawn == [502 if one_process.pick("GET", "/api/v2/tickets/2.json", lambda: "example") else 200
                     for _ in range(12)]
    assert [(rule["seen"], rule["fired"]) for rule in state] == [(12, 6), (12, drawn.count(502))]
    assert len({entry["server_pid"] for entry in served.admin.requests()}) == 2


def test_two_processes_do_not_multiply_the_rate_limit(served: Served) -> None:
    served.admin.freeze(1_700_000_040)
    served.admin.set_rate_limit(enabled=True, incremental=4)
    try:
        statuses = [get(served.url, "/api/v2/incremental/tickets.json", start_time=0).status_code for _ in range(6)]
    finally:
        served.admin.reset_rate_limit()
        served.admin.reset_clock()
    assert statuses == [200] * 4 + [429] * 2


def test_an_export_through_both_processes_equals_the_store(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "tickets.db"
    config = ExportConfig(url=served.url, email=AUTH[0].removesuffix("/token"), token=AUTH[1], per_page=7,
                          no_backoff=True)
    run_export(config, str(out))
    with contextlib.closing(sqlite3.connect(out)) as db:
        exported = db.execute("SELECT id, generated_timestamp FROM tickets ORDER BY id").fetchall()
    truth = database_truth(served.db)
    assert len(truth) >= TICKETS
    assert exported == truth


def test_the_admin_pages_cookie_from_one_process_is_honoured_by_the_other(served: Served) -> None:
    login = httpx.post(served.url + "/__admin/ui/login", data={"token": ADMIN_TOKEN}, timeout=30)
    cookies = {"zendesk_export_admin": login.cookies["zendesk_export_admin"]}
    reads = [httpx.get(served.url + "/__admin/clock", cookies=cookies, timeout=30).status_code for _ in range(8)]
    assert reads == [200] * 8  # eight new connections: both processes see the same session


def wait_gone(pids: set[int]) -> set[int]:
    """The pids still alive after waiting for them (bounded, so that a failure does not hang the suite)."""
    for _ in range(300):
        pids = {pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)}
        if not pids:
            break
        time.sleep(0.05)
    return pids


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False


def test_sigterm_stops_both_processes_and_says_so_once(tmp_path: Path) -> None:
    url, process = start(str(tmp_path / "server.db"))
    assert get(url, "/api/v2/tickets/1.json").status_code == 404  # up, answering
    children = children_of(process.pid)
    assert len(children) == 2
    out = stop(process)
    assert process.returncode == 0
    assert out.count("stopped") == 1
    assert wait_gone(children) == set()


def test_killing_the_parent_leaves_no_server_process_behind(tmp_path: Path) -> None:
    url, process = start(str(tmp_path / "server.db"))
    assert get(url, "/api/v2/tickets/1.json").status_code == 404
    children = children_of(process.pid)
    assert len(children) == 2
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert wait_gone(children) == set()
    with pytest.raises(httpx.TransportError):
        get(url, "/api/v2/tickets/1.json")


def test_a_process_that_dies_stops_the_server_with_exit_1(tmp_path: Path) -> None:
    url, process = start(str(tmp_path / "server.db"))
    assert get(url, "/api/v2/tickets/1.json").status_code == 404
    first, second = sorted(children_of(process.pid))
    os.kill(first, signal.SIGKILL)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"server process {first} exited (killed by signal 9)" in err
    assert wait_gone({second}) == set()
