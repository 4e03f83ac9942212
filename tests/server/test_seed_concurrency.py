"""On SQLite, API requests keep answering while a long write holds the database: their rate-limit counters never
wait behind it (they live in a side file with its own lock), a large admin seed writes in short transactions
that API requests slip between, and API writes take ids that never collide with the seeded tickets'."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx

from zendesk_export.testing import ZendeskServer

SEEDED = 20_000  # enough that the seed renders its rows in a second process (model.seed_worker)
PACE = 0.2  # seconds between two rounds of requests: within the rate limit however long the seed takes


def test_rate_limited_reads_answer_while_another_writer_holds_the_database(tmp_path: Path) -> None:
    """A writer (another process, a long import) holds the file's write lock: counting a request needs no part
    of it, so the request is answered at once instead of failing with 'database is locked'."""
    server = ZendeskServer.start(tmp_path / "zendesk.db", rate_limit="on")
    holder = sqlite3.connect(tmp_path / "zendesk.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with httpx.Client(base_url=server.url, auth=server.auth, timeout=60) as client:
            responses = [client.get("/api/v2/tickets/show_many.json", params={"ids": "1"}) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["699", "698", "697"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        server.stop()


def test_api_requests_answer_between_the_transactions_of_a_large_seed(tmp_path: Path) -> None:
    server = ZendeskServer.start(tmp_path / "zendesk.db", rate_limit="on")
    seeded: list[httpx.Response] = []
    seeding = threading.Thread(target=lambda: seeded.append(httpx.post(
        server.url + "/__admin/seed", json={"tickets": SEEDED, "random_seed": 7}, timeout=600,
        headers={"Authorization": f"Bearer {server.running.admin_token}"})))
    db = sqlite3.connect(tmp_path / "zendesk.db")
    try:
        statuses, created, partly_seeded = [], [], 0
        with server.client() as client:
            seeding.start()
            while seeding.is_alive():
                read = client.get("/api/v2/tickets/show_many.json", params={"ids": "1,2,3"})
                write = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "s", "comment": "c"}})
                statuses += [read.status_code, write.status_code]
                created += [write.json()["ticket"]["id"]] if write.status_code == 201 else []
                so_far = db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] - len(created)
                partly_seeded += 0 < so_far < SEEDED  # answered while the seed was half written
                time.sleep(PACE)
            seeding.join()
        assert seeded[0].status_code == 200, seeded[0].text[:300]
        assert set(statuses) == {200, 201}
        assert partly_seeded >= 2
        count, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM tickets").fetchone()
        assert count == distinct == SEEDED + len(created)
    finally:
        db.close()
        server.stop()
