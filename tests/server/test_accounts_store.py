"""Accounts in both stores (SQLite and PostgreSQL): created with their admin in one transaction, never reusing an
id, deleted with every row they own, each with its clock stored atomically."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zendesk_export.clock import ClockState
from zendesk_export.server.model.seed import seed_account
from zendesk_export.server.store import DuplicateRecord, Store, open_store

DSN = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES", "")
BEE_ADMIN: dict[str, Any] = {"name": "Bee Admin", "email": "Queen@Bee.test", "role": "admin",
                             "api_token": "bee-token-123456", "password": "bee-password"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(str(tmp_path / "accounts.db"))
        yield opened
        opened.close()
        return
    if not DSN:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg
    from psycopg import sql

    from zendesk_export.server.store.postgres import split_url

    schema = f"zx_accounts_{secrets.token_hex(6)}"
    opened = open_store(f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}")
    yield opened
    opened.close()
    with psycopg.connect(split_url(DSN)[0], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_new_account_has_its_admin_and_nothing_else(store: Store) -> None:
    bee = store.create_account("bee", [BEE_ADMIN])
    assert (bee.subdomain, bee.is_default, bee.clock) == ("bee", False, ClockState())
    admin = store.user_by_email(bee.id, "queen@bee.test")
    assert admin is not None and admin.is_admin and admin.id == 1
    assert store.ticket_count(bee.id) == 0
    assert [(a.subdomain, a.is_default) for a in store.accounts()] == [("example", True), ("bee", False)]
    default = store.account(None)
    assert default is not None and default.subdomain == "example" and default.is_default


def test_a_taken_subdomain_is_refused_and_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(DuplicateRecord):
        store.create_account("example", [BEE_ADMIN])
    assert [a.subdomain for a in store.accounts()] == ["example"]
    example = store.account("example")
    assert example is not None and store.user_by_email(example.id, "queen@bee.test") is None


def test_deleting_an_account_removes_every_row_it_owns_and_no_other(store: Store) -> None:
    example = store.account(None)
    assert example is not None
    bee = store.create_account("bee", [BEE_ADMIN])
    for account in (example, bee):
        seed_account(store, account.id, 40, random_seed=3, now=1_700_000_000)
        store.hit_rate_counters(account.id, [("plan_limit", 1_700_000_000)])
        store.put_job(account.id, "job-1", {"status": "queued"})
    store.delete_account(bee.id)
    assert store.account("bee") is None and store.ticket_count(bee.id) == 0
    assert store.user(bee.id, 1) is None and store.read_job(bee.id, "job-1") is None
    assert store.secret_hashes(bee.id, 1, "api_token") == []
    assert store.ticket_count(example.id) == 40 and store.read_job(example.id, "job-1") is not None
    assert store.hit_rate_counters(example.id, [("plan_limit", 1_700_000_000)]) == {"plan_limit": 2}
    assert store.hit_rate_counters(bee.id, [("plan_limit", 1_700_000_000)]) == {"plan_limit": 1}


def test_account_ids_are_never_reused(store: Store) -> None:
    first = store.create_account("bee", [BEE_ADMIN])
    store.delete_account(first.id)
    second = store.create_account("bee", [BEE_ADMIN])
    third = store.create_account("wasp", [{**BEE_ADMIN, "email": "w@wasp.test"}])
    assert first.id < second.id < third.id


def test_the_clock_is_stored_with_its_account(store: Store) -> None:
    bee = store.create_account("bee", [BEE_ADMIN])
    frozen = store.change_clock(bee.id, lambda state: state.freeze(1_600_000_000, 1_700_000_000))
    held = store.change_clock(bee.id, lambda state: state.hold(1_700_000_000.5, 7))
    assert frozen == ClockState(-100_000_000, 1_600_000_000)
    assert held == ClockState(-100_000_000, 1_600_000_000, 0.0, 1_700_000_007.5, 7.0)
    stored = store.account("bee")
    example = store.account("example")
    assert stored is not None and stored.clock == held
    assert example is not None and example.clock == ClockState()
