"""A server on PostgreSQL keeps a bounded number of database connections, however many worker threads come and
go: waves of concurrent requests with idle time between (long enough for worker threads to retire) never raise
the count past the pool's bound, so the database never runs out of connections for everyone else.

Needs ``ZENDESK_EXPORT_TEST_POSTGRES``; skipped otherwise. Works in its own schema, dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from zendesk_export.server.store.postgres import split_url
from zendesk_export.testing import ZendeskServer

DSN = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES", "")
BOUND = 10  # the pool's documented bound per server process
CONCURRENT = 60


@pytest.fixture
def pg_app() -> Iterator[tuple[str, str]]:
    """(URL on a fresh schema with its own application_name, that name); the schema is dropped afterwards."""
    if not DSN:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    suffix = secrets.token_hex(6)
    schema, app = f"zx_pool_{suffix}", f"zx-pool-{suffix}"
    yield f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}&application_name={app}", app
    with psycopg.connect(split_url(DSN)[0], autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _connections(app: str) -> int:
    with psycopg.connect(split_url(DSN)[0], autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)).fetchone()
    return int(row[0]) if row else 0


def _wave(server: ZendeskServer) -> list[int]:
    def one(_: int) -> int:
        with server.client() as client:
            return client.get("/api/v2/tickets/show_many.json", params={"ids": "1,2,3"}).status_code

    with ThreadPoolExecutor(CONCURRENT) as threads:
        return list(threads.map(one, range(CONCURRENT)))


def test_waves_of_concurrent_requests_keep_database_connections_bounded(pg_app: tuple[str, str]) -> None:
    url, app = pg_app
    server = ZendeskServer.start(url)
    try:
        counts = []
        for wave in range(2):
            if wave:
                time.sleep(11)  # the server's idle worker threads retire after 10 s; new ones serve the next wave
            assert _wave(server) == [200] * CONCURRENT
            counts.append(_connections(app))
        assert all(1 <= count <= BOUND for count in counts), counts
    finally:
        server.stop()
    assert _connections(app) == 0 or _wait_for_no_connections(app)


def _wait_for_no_connections(app: str) -> bool:
    """Closed connections leave pg_stat_activity once their backends exit: give them a moment."""
    for _ in range(100):
        if _connections(app) == 0:
            return True
        time.sleep(0.1)
    return False
