"""Two `zendesk-export serve` processes on one PostgreSQL account: clients create and update tickets through
both at once while the exporter pages through one and then the other, and the output ends with every ticket of
the account exactly once, in its latest version.

The account's clock is stored with the account, so both processes read the same one; the test moves it on a
minute between rounds of writes, which makes each round visible to the exports that follow."""

from __future__ import annotations

import random
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.exporter.sinks.conftest import pg_dsn, with_schema
from tests.server.conftest import drop_schema
from tests.server.test_two_processes import ADMIN_TOKEN, serve_process
from tests.truth import database_truth
from zendesk_export.exporter import ExportConfig, run_export
from zendesk_export.testing import AdminClient

AUTH = ("admin@example.com/token", "demo-token")
ROUNDS, WRITERS, CREATES = 4, 2, 12  # per writer and round: 12 creates and 12 updates


@pytest.fixture
def database() -> Iterator[str]:
    dsn = pg_dsn()
    schema = f"zx_two_{secrets.token_hex(6)}"
    yield with_schema(dsn, schema)
    drop_schema(dsn, schema)


def write_round(servers: tuple[str, str], writer: int, round_: int, ids: list[int]) -> None:
    """Create tickets through one process and update earlier ones (anyone's) through the other, alternating."""
    rng = random.Random(writer * 100 + round_)
    with httpx.Client(auth=AUTH, timeout=60) as http:
        for n in range(CREATES):
            via, other = servers[(writer + n) % 2], servers[(writer + n + 1) % 2]
            created = http.post(f"{via}/api/v2/tickets.json", json={"ticket": {
                "subject": f"writer {writer} round {round_} #{n}", "comment": {"body": "printer on fire"}}})
            assert created.status_code == 201, created.text
            ids.append(created.json()["ticket"]["id"])
            target = rng.choice(ids)
            updated = http.put(f"{other}/api/v2/tickets/{target}.json", json={"ticket": {
                "status": rng.choice(["open", "pending", "hold"]), "comment": {"body": f"update {n}"}}})
            assert updated.status_code == 200, updated.text


def advance(url: str, seconds: int) -> None:
    """Move the account's clock on, through one process: both read it from the database."""
    admin = AdminClient(url, ADMIN_TOKEN)
    admin.advance(seconds)
    admin.close()


def export_through(url: str, out: Path, mode: str) -> None:
    """One export run through one process; both answer for the account `example` (as behind a load balancer),
    so the output's checkpoint names that account whichever process served it."""
    config = ExportConfig(url=url, host_header="example.localhost", email=AUTH[0].removesuffix("/token"),
                          token=AUTH[1], mode=mode, per_page=7, no_backoff=True)
    run_export(config, str(out))


def exported(out: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(out) as db:
        rows = db.execute("SELECT id, generated_timestamp FROM tickets ORDER BY id").fetchall()
    db.close()
    return [(int(i), int(ts)) for i, ts in rows]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["time", "cursor"])
def test_writing_and_exporting_through_two_processes_ends_with_every_ticket_once(database: str, tmp_path: Path,
                                                                                 mode: str) -> None:
    out = tmp_path / "tickets.db"
    with serve_process(database, "--rate-limit", "off") as first, \
            serve_process(database, "--rate-limit", "off") as second:
        servers = (first, second)
        ids: list[int] = []
        done = threading.Event()
        exports: list[str] = []
        failures: list[BaseException] = []

        def keep_exporting() -> None:  # alternately through each process, while the writers write
            try:
                while not done.is_set() or len(exports) < 2:  # at least one run through each
                    url = servers[len(exports) % 2]
                    export_through(url, out, mode)
                    exports.append(url)
            except BaseException as error:  # reported by the test thread
                failures.append(error)

        exporter = threading.Thread(target=keep_exporting)
        exporter.start()
        try:
            for round_ in range(ROUNDS):
                writers = [threading.Thread(target=write_round, args=(servers, w, round_, ids)) for w in range(WRITERS)]
                for thread in writers:
                    thread.start()
                for thread in writers:
                    thread.join()
                advance(servers[round_ % 2], 61)  # this round's writes become visible to the export
        finally:
            done.set()
            exporter.join()
        assert not failures, failures
        assert set(exports) == {first, second}
        assert exported(out)  # the runs during the writes kept their pages
        export_through(second, out, mode)  # the last run, after every write
    truth = database_truth(database)
    assert len(truth) == len(set(ids)) == ROUNDS * WRITERS * CREATES
    assert exported(out) == truth
