"""The PostgreSQL store: every Store method answers as SQLite's does, a server on it answers byte for byte as a
server on SQLite, and several processes on one PostgreSQL share one account (its writes and its rate limits).

Needs ``ZENDESK_EXPORT_TEST_POSTGRES`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``); skipped otherwise.
Each test works in its own schema (``?schema=zx_test_…``), dropped at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg import sql

from tests.server.test_two_processes import ADMIN_TOKEN, EXPORT, serve_process
from zendesk_export.server.model.audits import Origin
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.model.tickets import create_one, update_one
from zendesk_export.server.store import DuplicateRecord, Store, verify_password
from zendesk_export.server.store.postgres import MIGRATIONS, PostgresStore, split_url
from zendesk_export.server.store.sqlite import SQLiteStore
from zendesk_export.testing import AdminClient, ZendeskServer
from zendesk_export.tickets import TICKET_FIELDS

DSN = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES", "")
NOW = 1_700_000_040  # a whole minute: rate-limit windows start here
FAR = 2**40


# -- fixtures ---------------------------------------------------------------------------------------
def _admin_dsn() -> str:
    return split_url(DSN)[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL on a fresh schema of the test database, dropped (with everything in it) afterwards."""
    if not DSN:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    schema = f"zx_test_{secrets.token_hex(6)}"
    yield f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def stores(pg_url: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """A new SQLite store and a new PostgreSQL store: the reference and the one under test."""
    pair: tuple[Store, Store] = (SQLiteStore(str(tmp_path / "reference.db")), PostgresStore(pg_url))
    yield pair
    for store in pair:
        store.close()


def _query(url: str, query: str) -> list[Any]:
    dsn, schema = split_url(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        return [row[0] if len(row) == 1 else row for row in conn.execute(query).fetchall()]


# -- data ---------------------------------------------------------------------------------------------
def make_ticket(ticket_id: int, timestamp: int, **fields: Any) -> dict[str, Any]:
    """A complete ticket as the Tickets API stores it."""
    ticket = {f.name: f.default for f in TICKET_FIELDS}
    ticket.update(id=ticket_id, via={"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
                  created_at=timestamp, updated_at=timestamp, subject="Printer jams", description="It jams",
                  requester_id=1, submitter_id=1, tags=["hw"], custom_fields=[{"id": 360_001, "value": None}],
                  generated_timestamp=timestamp, deleted_at=None)
    return {**ticket, **fields}


def seeded(store: Store, tickets: int = 300) -> int:
    """The default account seeded (same data in every store: same random seed, same clock)."""
    account = store.account(None)
    assert account is not None
    seed_account(store, account.id, tickets, 11, NOW)
    return account.id


# -- the contract: same calls, same answers ---------------------------------------------------------------
SCENARIOS: dict[str, Callable[[Store], Any]] = {}


def scenario(function: Callable[[Store], Any]) -> Callable[[Store], Any]:
    SCENARIOS[function.__name__] = function
    return function


@scenario
def account(store: Store) -> Any:
    answers = [store.account(None), store.account("example"), store.account("missing"), store.account("ex\x00")]
    assert answers[0] == answers[1] and answers[0] is not None and answers[0].subdomain == "example"
    return answers


@scenario
def set_account_setting(store: Store) -> Any:
    store.set_account_setting(1, "rate_limits", {"enabled": True, "plan_limit": 5})
    store.set_account_setting(1, "other", [1, "x"])
    first = store.account(None)
    store.set_account_setting(1, "rate_limits", None)
    store.set_account_setting(1, "absent", None)
    answers = [first, store.account(None)]
    assert answers[1] is not None and answers[1].settings == {"other": [1, "x"]}
    return answers


@scenario
def hit_rate_counters(store: Store) -> Any:
    hits = [("plan", NOW), ("incremental", NOW)]
    answers = [store.hit_rate_counters(1, hits) for _ in range(3)]
    answers += [store.hit_rate_counters(1, [("plan", NOW + 60)]), store.hit_rate_counters(1, [])]
    answers.append(store.rate_counters(1))
    assert answers[-1] == {"plan": (NOW + 60, 1), "incremental": (NOW, 3)}
    store.clear_rate_counters(1)
    answers.append(store.rate_counters(1))
    answers.append(store.hit_rate_counters(1, hits))
    assert answers[2] == {"plan": 3, "incremental": 3} and answers[3] == {"plan": 1}
    return answers


@scenario
def credentials(store: Store) -> Any:
    """user_by_email, user, secret_hashes, user_by_oauth_token, demo_credentials_active."""
    admin = store.user_by_email(1, "Admin@Example.COM")
    assert admin is not None and admin.is_admin
    passwords = store.secret_hashes(1, admin.id, "password")
    return [admin, store.user(1, admin.id), store.user(1, 999), store.user_by_email(1, "no\x00one@example.com"),
            store.secret_hashes(1, admin.id, "api_token") == [store.token_hash("demo-token")],
            [verify_password("demo-password", h) for h in passwords],
            store.user_by_oauth_token(1, "demo-oauth-token"), store.user_by_oauth_token(1, "wrong"),
            store.demo_credentials_active()]


@scenario
def add_users(store: Store) -> Any:
    specs: list[dict[str, Any]] = [
        {"id": 500, "name": "Ann", "email": "Ann@X.org", "role": "end-user", "organization_id": 3, "created_at": 9},
        {"name": "Bob", "email": "bob@x.org", "role": "agent", "api_token": "tok-b"},
    ]
    first = store.add_users(1, specs)
    again = store.add_users(1, [specs[0], {"name": "Cy", "email": "ann@x.org", "role": "end-user"}])
    assert len(first) == 2 and again == []
    bob = store.user_by_email(1, "bob@x.org")
    assert bob is not None
    return [first, again, bob, store.secret_hashes(1, bob.id, "api_token") == [store.token_hash("tok-b")]]


@scenario
def write(store: Store) -> Any:
    """Every Writer method in one transaction; a duplicate record fails alone and the transaction goes on."""
    with store.write(1) as writer:
        ids = [writer.next_id("tickets"), writer.next_id("tickets"), writer.next_id("audits")]
        writer.put_ticket(make_ticket(ids[0], NOW, subject="nul \x00 inside", has_incidents=True))
        writer.put_ticket(make_ticket(ids[0], NOW + 5, status="open", tags=("a", "b")))  # replaces
        writer.add_audit({"id": ids[2], "ticket_id": ids[0], "created_at": "x", "created_at_epoch": NOW,
                          "author_id": 1, "events": [{"id": 1, "type": "Comment", "body": "hi"}]})
        org = {"id": 7, "name": "Acme", "created_at": 1, "updated_at": 2, "deleted_at": None, "tags": ["x"]}
        writer.put_record("organizations", org)
        with pytest.raises(DuplicateRecord):
            writer.put_record("organizations", {**org, "id": 8})
        writer.put_record("organizations", {**org, "id": 9, "name": "Beta"})
        writer.put_record("users", {"id": 1, "name": "Renamed", "email": "admin@example.com", "role": "admin",
                                    "organization_id": None, "created_at": 0, "updated_at": 3, "phone": "1"})
        inside = [writer.get_ticket(ids[0]), writer.get_ticket(99), writer.get_record("organizations", 7),
                  writer.get_record("organizations", 8), writer.get_record("users", 1)]
    assert inside[0] is not None and inside[0]["tags"] == ["a", "b"] and inside[0]["status"] == "open"
    return [ids, inside, store.get_ticket(1, ids[0]), store.records_by_id(1, "organizations", [7, 8, 9]),
            store.comment_counts(1, [ids[0]])]


@scenario
def write_rolls_back(store: Store) -> Any:
    """An error inside ``write`` leaves nothing of it behind."""
    with pytest.raises(RuntimeError), store.write(1) as writer:
        writer.put_ticket(make_ticket(writer.next_id("tickets"), NOW))
        raise RuntimeError("half-way")
    with store.write(1) as writer:
        after = writer.next_id("tickets")
    assert after == 1
    return [store.get_ticket(1, 1), after, store.export_rows(1, 0, FAR, -1, False)]


@scenario
def next_ids_reserve_blocks(store: Store) -> Any:
    """Several sequences in one statement: each gets its block after the ids already taken; a count of 0 takes
    none; a rolled-back write gives its block back."""
    with store.write(1) as writer:
        first = [writer.next_id("events"), writer.next_ids({"events": 3, "audits": 1, "tickets": 0})]
        second = writer.next_ids({"events": 2, "audits": 2})
    with pytest.raises(RuntimeError), store.write(1) as writer:
        writer.next_ids({"events": 50})
        raise RuntimeError("half-way")
    with store.write(1) as writer:
        after = [writer.next_id("events"), writer.next_id("tickets")]
    assert first == [1, {"events": 2, "audits": 1, "tickets": 0}] and second == {"events": 5, "audits": 2}
    assert after == [7, 1]
    return [first, second, after]


@scenario
def get_ticket_keeps_nul(store: Store) -> Any:
    with store.write(1) as writer:
        writer.put_ticket(make_ticket(1, NOW, subject="a\x00b", description="c\x00d", tags=["t\x00"]))
    ticket = store.get_ticket(1, 1)
    assert ticket is not None and ticket["subject"] == "a\x00b" and b"a\\u0000b" in store.tickets_by_id(1, [1])[0].body
    return [ticket, store.get_ticket(1, 2), store.export_rows(1, 0, FAR, 10, False)]


@scenario
def export_rows(store: Store) -> Any:
    account_id = seeded(store)
    rows = store.export_rows(account_id, 0, FAR, 100, False)
    burst = Counter(r.generated_timestamp for r in store.export_rows(account_id, 0, FAR, -1, False)).most_common(1)
    group = burst[0][0]
    answers = [rows, store.export_rows(account_id, rows[50].generated_timestamp, NOW, 100, True),
               store.export_rows(account_id, 0, FAR, -1, True), store.export_group(account_id, group, False),
               store.export_group(account_id, group, True), store.export_rows(account_id, NOW, NOW, 10, False)]
    assert len(rows) == 100 and len(answers[3]) > 1 and isinstance(rows[0].body, bytes)
    return answers


@scenario
def insert_tickets(store: Store) -> Any:
    account_id = seeded(store, 120)
    more = store.insert_tickets(account_id, [make_ticket(0, NOW, audits=[
        {"created_at_epoch": NOW, "author_id": 1, "events": [{"type": "Comment", "body": "x"}, {"type": "Create"}]}
    ])])
    ids = [r.id for r in store.export_rows(account_id, 0, FAR, -1, False)]
    assert more == 1 and sorted(ids) == list(range(1, 122))
    return [more, store.get_ticket(account_id, 121), store.get_ticket(account_id, 7),
            store.comment_counts(account_id, [1, 2, 121, 999]), store.changes(account_id, "audits", (0, 0), FAR, -1)]


@scenario
def changes(store: Store) -> Any:
    account_id = seeded(store)
    with store.write(account_id) as writer:  # records with attributes beyond their columns: bodies in key order
        writer.put_record("users", {"id": 2, "name": "Agent", "email": "agent@example.com", "role": "agent",
                                    "organization_id": 1, "created_at": 0, "updated_at": 5, "phone": "1", "tags": []})
        writer.put_record("organizations", {"id": 3, "name": "Three", "created_at": 0, "updated_at": 5,
                                            "deleted_at": None, "notes": "n", "domain_names": ["x.org"]})
    answers = []
    for kind in ("tickets", "audits", "users", "organizations"):
        first = store.changes(account_id, kind, (0, 0), FAR, 20)
        middle = first[10]
        answers += [first, store.changes(account_id, kind, (middle.generated_timestamp, middle.id), FAR, 20),
                    store.changes(account_id, kind, (middle.generated_timestamp, 0), middle.generated_timestamp, -1),
                    store.changes(account_id, kind, (0, 0), FAR, 20, exclude_deleted=True)]
        assert len(first) == 20, kind
    return answers


@scenario
def records(store: Store) -> Any:
    """records_by_id, record_rows, list_records, insert_records."""
    account_id = seeded(store, 50)
    inserted = [store.insert_records(account_id, "groups", [{"id": 9, "name": "Nine", "created_at": 1,
                                                              "updated_at": 1, "is_public": False}]),
                store.insert_records(account_id, "organizations", [
                    {"id": 1, "name": "Taken id", "created_at": 1, "updated_at": 1},
                    {"id": 50, "name": "Organization 2", "created_at": 1, "updated_at": 1},
                    {"id": 51, "name": "New", "created_at": 1, "updated_at": 1, "tags": ["a"]}]),
                store.insert_records(account_id, "groups", [])]
    assert inserted == [1, 1, 0]
    return [inserted, store.records_by_id(account_id, "organizations", [51, 1, 1, 999]),
            store.records_by_id(account_id, "groups", [9]), store.records_by_id(account_id, "users", []),
            store.list_records(account_id, "users", 3, 4), store.list_records(account_id, "groups", 0, 100),
            store.list_records(account_id, "organizations", 100, 10),
            store.record_rows(account_id, "organizations", [51, 1, 1, 999]), store.record_rows(account_id, "users", []),
            store.record_rows(account_id, "users", [1, 2, 3])]


@scenario
def tickets_by_id(store: Store) -> Any:
    account_id = seeded(store)
    live = {r.id for r in store.export_rows(account_id, 0, FAR, -1, True)}
    deleted = [r.id for r in store.export_rows(account_id, 0, FAR, -1, False) if r.id not in live]
    assert deleted
    found = store.tickets_by_id(account_id, [deleted[0], 3, 2, 2, 10_000])
    assert [r.id for r in found] == [2, 3]
    return [found, store.tickets_by_id(account_id, []), store.comment_counts(account_id, [])]


@scenario
def jobs(store: Store) -> Any:
    """put_job, then read_job counts its reads (job statuses progress on reads)."""
    store.put_job(1, "V3-abc", {"action": "create", "total": 2, "results": [{"id": 1}], "completed_at": NOW})
    answers = [store.read_job(1, "V3-abc") for _ in range(3)]
    answers += [store.read_job(1, "V3-missing"), store.read_job(2, "V3-abc"), store.read_job(1, "V3-\x00")]
    assert [a[1] for a in answers[:3] if a] == [1, 2, 3]
    return answers


@scenario
def scrub_due(store: Store) -> Any:
    account_id = seeded(store, 600)
    due = store.scrub_due(account_id, NOW, limit=-1)
    assert due
    with store.write(account_id) as writer:
        ticket = writer.get_ticket(due[0])
        assert ticket is not None
        writer.put_ticket({**ticket, "description": "X"})
    return [due, store.scrub_due(account_id, NOW, 3), store.scrub_due(account_id, NOW, limit=-1),
            store.scrub_due(account_id, 0)]


@scenario
def reset(store: Store) -> Any:
    """Tickets, audits, records and jobs go; users with credentials and the users sequence stay."""
    account_id = seeded(store, 50)
    store.put_job(account_id, "V3-x", {"total": 0})
    store.reset(account_id)
    with store.write(account_id) as writer:
        numbers = [writer.next_id("tickets"), writer.next_id("users")]
    answers = [numbers, store.export_rows(account_id, 0, FAR, -1, False), store.list_records(account_id, "users",
               0, 100), store.list_records(account_id, "organizations", 0, 100), store.read_job(account_id, "V3-x"),
               store.changes(account_id, "audits", (0, 0), FAR, -1)]
    assert numbers == [1, 3] and answers[2][1] == 2
    return answers


@scenario
def close(store: Store) -> Any:
    """A closed store opens a new connection when used again."""
    store.close()
    return store.account(None)


@pytest.mark.parametrize("name", SCENARIOS)
def test_postgres_answers_every_store_call_as_sqlite_does(name: str, stores: tuple[Store, Store]) -> None:
    reference, postgres = stores
    assert SCENARIOS[name](postgres) == SCENARIOS[name](reference)


# -- PostgreSQL itself -----------------------------------------------------------------------------------
def test_split_url_takes_the_schema_out_and_keeps_other_parameters() -> None:
    assert split_url("postgresql://u@h:5/db?sslmode=disable&schema=s1") == ("postgresql://u@h:5/db?sslmode=disable",
                                                                             "s1")
    assert split_url("postgres://u@h/db") == ("postgres://u@h/db", "public")


def test_schema_has_real_types_and_records_its_migrations(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    schema = split_url(pg_url)[1]
    types = dict(_query(pg_url, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema "
                                f"= '{schema}' AND table_name = 'tickets'"))
    assert (types["id"], types["body"], types["is_public"], types["tags"]) == ("bigint", "bytea", "boolean", "text")
    assert _query(pg_url, "SELECT version FROM schema_version ORDER BY version") == list(range(1, len(MIGRATIONS) + 1))
    assert "tickets_export" in _query(pg_url, f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}'")


def test_processes_starting_together_create_the_schema_once(pg_url: str) -> None:
    """The advisory lock: four stores opening a new schema at once make one demo account, not four."""
    opened: list[PostgresStore] = []
    threads = [threading.Thread(target=lambda: opened.append(PostgresStore(pg_url))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert len(opened) == 4
    assert _query(pg_url, "SELECT COUNT(*) FROM accounts") == [1]
    assert _query(pg_url, "SELECT COUNT(*) FROM users") == [2]


def test_writers_of_one_account_take_turns_across_connections(pg_url: str) -> None:
    """Read-modify-write inside ``write`` loses no update when two stores (two processes) write at once."""
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    with first.write(1) as writer:
        writer.put_ticket(make_ticket(1, NOW, tags=[]))

    def append_tags(store: PostgresStore, prefix: str) -> None:
        for i in range(25):
            with store.write(1) as writer:
                ticket = writer.get_ticket(1)
                assert ticket is not None
                writer.put_ticket({**ticket, "tags": [*ticket["tags"], f"{prefix}{i}"]})

    threads = [threading.Thread(target=append_tags, args=(store, prefix)) for store, prefix in
               ((first, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ticket = first.get_ticket(1, 1)
    first.close()
    second.close()
    assert ticket is not None and len(ticket["tags"]) == 50


def test_a_connection_that_served_reads_keeps_writes_atomic(pg_url: str) -> None:
    """Reads run on a pooled connection in autocommit mode (one round trip each); the connection goes back to the
    pool transactional, so a write that fails half-way on the same connection still leaves nothing behind."""
    store = PostgresStore(pg_url, pool_size=1)  # every call takes the one connection
    try:
        assert store.account(None) is not None and store.get_ticket(1, 1) is None
        with pytest.raises(RuntimeError), store.write(1) as writer:
            writer.put_ticket(make_ticket(writer.next_id("tickets"), NOW))
            raise RuntimeError("half-way")
        assert store.get_ticket(1, 1) is None and store.ticket_count(1) == 0
    finally:
        store.close()


def test_writers_in_two_processes_take_every_id_once(pg_url: str) -> None:
    """A write numbers its ids from the sequences read with the account's lock, not with a statement each:
    tickets created and updated through two stores (two processes), two threads each, all at once, take every
    ticket, audit and event id exactly once, without a gap, and answer with the ids they stored."""
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    answered: list[dict[str, Any]] = []

    def create_and_update(store: PostgresStore, name: str) -> None:
        for i in range(15):
            ticket, created = create_one(store, 1, NOW, 1, Origin(), {"subject": f"{name}{i}", "comment": "c",
                                                                       "tags": ["x"], "priority": "high"})
            _, updated = update_one(store, 1, NOW, 1, Origin(), ticket["id"], {"status": "open", "comment": "d"})
            answered.extend((created, updated))

    threads = [threading.Thread(target=create_and_update, args=(store, f"{n}-{store_n}"))
               for store_n, store in enumerate(stores) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [orjson.loads(row.body) for row in stores[0].changes(1, "audits", (0, 0), FAR, -1)]
    tickets = sorted(row.id for row in stores[0].export_rows(1, 0, FAR, -1, False))
    for store in stores:
        store.close()
    events = sorted(event["id"] for audit in stored for event in audit["events"])
    assert tickets == list(range(1, 61))
    assert sorted(audit["id"] for audit in stored) == list(range(1, 121))
    assert events == list(range(1, len(events) + 1)) and len(events) > 120
    assert sorted(stored, key=lambda audit: audit["id"]) == sorted(answered, key=lambda audit: audit["id"])
    assert all(event["audit_id"] == audit["id"] for audit in stored for event in audit["events"]
               if event["type"] == "Comment")


# -- a real server on PostgreSQL ------------------------------------------------------------------------
_JOB_ID = re.compile(rb"V3-[0-9a-f]{32}")


def client_session(server: ZendeskServer) -> list[tuple[str, int, bytes]]:
    """A client's session on a seeded account under a frozen clock: every export, writes through the API, the
    exports again. Each answer as (request, status, body without the host and with job ids masked)."""
    server.admin.freeze(NOW)
    server.admin.seed(tickets=1500, random_seed=7)
    answers: list[tuple[str, int, bytes]] = []
    with server.client() as client:
        def call(method: str, url: str, **options: Any) -> Any:
            response = client.request(method, url, **options)
            body = _JOB_ID.sub(b"V3-JOB", response.content.replace(server.url.encode(), b"HOST"))
            request = _JOB_ID.sub(b"V3-JOB", url.replace(server.url, "").encode()).decode()
            answers.append((f"{method} {request} {options}", response.status_code, body))
            return response.json() if response.content else None

        def follow(url: str, link: str, **params: Any) -> None:
            page = call("GET", url, params=params)
            while not page["end_of_stream"]:
                page = call("GET", page[link])

        follow("/api/v2/incremental/tickets.json", "next_page", start_time=0)
        follow("/api/v2/incremental/tickets/cursor.json", "after_url", start_time=0, per_page=400)
        created = call("POST", "/api/v2/tickets.json", json={"ticket": {"subject": "New", "comment": "Hello",
                                                                        "tags": ["x"], "priority": "high"}})
        ticket_id = created["ticket"]["id"]
        server.admin.advance(10)
        call("PUT", f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": "open", "comment": {
            "body": "More", "public": False}, "tags": "x y"}})
        call("DELETE", "/api/v2/tickets/5.json")
        job = call("POST", "/api/v2/tickets/create_many.json", json={"tickets": [
            {"subject": f"Bulk {i}", "comment": "b"} for i in range(3)]})["job_status"]
        for _ in range(3):
            call("GET", f"/api/v2/job_statuses/{job['id']}.json")
        server.admin.advance(61)
        call("GET", f"/api/v2/tickets/{ticket_id}.json")
        call("GET", "/api/v2/tickets/show_many.json", params={"ids": f"1,2,5,{ticket_id},99999"})
        call("GET", "/api/v2/incremental/tickets.json", params={"start_time": NOW - 100,
                                                                "include": "users,groups,organizations,comment_count"})
        follow("/api/v2/incremental/ticket_events.json", "next_page", start_time=NOW - 100)
        follow("/api/v2/incremental/users/cursor.json", "after_url", start_time=0, per_page=200)
        call("GET", "/api/v2/incremental/organizations.json", params={"start_time": 0})
        call("GET", "/api/v2/users.json", params={"page": 2, "per_page": 50})
    return answers


def test_a_server_on_postgres_answers_byte_for_byte_as_one_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    answers = []
    for db in (str(tmp_path / "reference.db"), pg_url):
        server = ZendeskServer.start(db)
        try:
            answers.append(client_session(server))
        finally:
            server.stop()
    reference, postgres = answers
    assert [a[:2] for a in postgres] == [a[:2] for a in reference]
    assert len(reference) > 15 and {a[1] for a in reference} == {200, 201, 204}
    for (request, _, expected), (_, _, got) in zip(reference, postgres, strict=True):
        assert got == expected, request


def test_the_eleventh_incremental_request_in_a_minute_is_refused(pg_url: str) -> None:
    server = ZendeskServer.start(pg_url, rate_limit="on")
    try:
        server.admin.freeze(NOW)
        with server.client() as client:
            statuses = [client.get(EXPORT, params={"start_time": 0}).status_code for _ in range(11)]
    finally:
        server.stop()
    assert statuses == [200] * 10 + [429]


def test_two_server_processes_on_one_postgres_share_the_incremental_limit(pg_url: str) -> None:
    PostgresStore(pg_url).close()  # the schema exists before both start (they would also take turns)
    shared: Any = pg_url  # serve_process takes a Path but only passes str(db) on: a URL works as well
    with serve_process(shared, "--rate-limit", "on") as first, serve_process(shared, "--rate-limit", "on") as second:
        for url in (first, second):  # each process has its own clock: put both on the same whole minute
            admin = AdminClient(url, ADMIN_TOKEN)
            admin.freeze(NOW)
            admin.close()
        with httpx.Client(auth=("admin@example.com/token", "demo-token"), timeout=30) as http:
            responses = [http.get((first, second)[i % 2] + EXPORT, params={"start_time": 0}) for i in range(12)]
    assert [r.status_code for r in responses] == [200] * 10 + [429, 429]
    assert [r.headers["x-rate-limit-remaining"] for r in responses] == [str(699 - i) for i in range(12)]


def test_nul_characters_never_fail_a_request(pg_url: str) -> None:
    """PostgreSQL text refuses NUL: a ticket keeps it (read back from its stored body), a record's text column
    gets U+FFFD instead (DIFFERENCES.md), a login or job id holding one is simply not found."""
    server = ZendeskServer.start(pg_url)
    try:
        with server.client() as client:
            created = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "a\x00b", "comment": "c\x00"}})
            ticket_id = created.json()["ticket"]["id"]
            updated = client.put(f"/api/v2/tickets/{ticket_id}.json", json={"ticket": {"status": "open"}})
            user = client.post("/api/v2/users.json", json={"user": {"name": "n\x00m", "email": "u@x.org"}}).json()
            shown = client.get(f"/api/v2/users/{user['user']['id']}.json")
            job = client.get("/api/v2/job_statuses/V3-%00.json")
        login = httpx.get(f"{server.url}/api/v2/tickets/1.json", auth=("a\x00@example.com/token", "demo-token"))
    finally:
        server.stop()
    assert (created.status_code, updated.status_code, updated.json()["ticket"]["subject"]) == (201, 200, "a\x00b")
    assert (shown.status_code, shown.json()["user"]["name"]) == (200, "n\ufffdm")
    assert (job.status_code, login.status_code) == (404, 401)
