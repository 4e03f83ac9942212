"""The server's tests run against a server on each store: SQLite (embedded) and PostgreSQL.

``zendesk_server`` and ``zendesk_account`` here replace the plugin's fixtures of those names for the tests of
this directory: every test that takes one runs twice, ``[sqlite]`` and ``[postgres]``, on a server reset for the
test (no tickets, real unfrozen clock, no faults, default rate limits, an empty journal), or on an account of its
own on that server. The PostgreSQL server lives for the session
in a schema of its own (dropped at the end) of the database named by ``ZENDESK_EXPORT_TEST_POSTGRES``; without
that variable the ``[postgres]`` runs are skipped, saying so.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from zendesk_export.testing import ZendeskAccount, ZendeskServer

STORES = ("sqlite", "postgres")
PG_ENV = "ZENDESK_EXPORT_TEST_POSTGRES"


def postgres_dsn() -> str:
    """The test database's DSN, or skip the test naming the variable to set."""
    dsn = os.environ.get(PG_ENV, "")
    if not dsn:
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test): no PostgreSQL store")
    return dsn


def in_schema(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


def drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def new_schema() -> Iterator[str]:
    """A URL of the test PostgreSQL on a schema no one else uses, dropped with its contents afterwards."""
    dsn = postgres_dsn()
    schema = f"zx_srv_{secrets.token_hex(6)}"
    yield in_schema(dsn, schema)
    drop_schema(dsn, schema)


@pytest.fixture(scope="session")
def postgres_server_session() -> Iterator[ZendeskServer]:
    """One server on PostgreSQL for the session, in its own schema (rate limits off, like the SQLite one)."""
    dsn = postgres_dsn()
    schema = f"zx_srv_{secrets.token_hex(6)}"
    server = ZendeskServer.start(in_schema(dsn, schema))
    try:
        yield server
    finally:
        server.stop()
        drop_schema(dsn, schema)


def reset(server: ZendeskServer) -> ZendeskServer:
    server.admin.reset()
    server.admin.reset_clock()
    server.admin.clear_faults()
    server.admin.reset_rate_limit()
    server.admin.clear_requests()
    return server


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each store in turn: ``sqlite`` and ``postgres``."""
    return str(request.param)


@pytest.fixture
def server_on_each_store(store_kind: str, request: pytest.FixtureRequest) -> ZendeskServer:
    """The session's server on each store in turn, as the previous test left it (for tests that reset it
    themselves, such as property tests that run many examples in one test)."""
    session = "zendesk_server_session" if store_kind == "sqlite" else "postgres_server_session"
    server: ZendeskServer = request.getfixturevalue(session)
    return server


@pytest.fixture
def zendesk_server(server_on_each_store: ZendeskServer) -> ZendeskServer:
    """A server on each store in turn, reset for the test."""
    return reset(server_on_each_store)


@pytest.fixture
def zendesk_account(server_on_each_store: ZendeskServer) -> Iterator[ZendeskAccount]:
    """An account of its own for this test (deleted after it), on the server of each store in turn: the same
    server as ``zendesk_server`` when a test takes both."""
    account = ZendeskAccount.create(server_on_each_store)
    try:
        yield account
    finally:
        account.delete()
