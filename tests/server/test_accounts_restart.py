"""Each account's clock is stored with it: a restarted `zendesk-export serve` process on the same database (SQLite
or PostgreSQL) finds every clock where it was, so tickets written after the restart never get timestamps below
what an exporter has already seen."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.server.test_two_processes import ADMIN_TOKEN, serve_process
from zendesk_export.testing import AdminClient

DSN = os.environ.get("ZENDESK_EXPORT_TEST_POSTGRES", "")
DAY = 86_400


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database of either kind (PostgreSQL: a schema of its own, dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "restart.db")
        return
    if not DSN:
        pytest.skip("ZENDESK_EXPORT_TEST_POSTGRES is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg
    from psycopg import sql

    from zendesk_export.server.store.postgres import split_url

    schema = f"zx_accounts_{secrets.token_hex(6)}"
    yield f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}"
    with psycopg.connect(split_url(DSN)[0], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.mark.slow
def test_a_restart_keeps_every_accounts_clock(database: str) -> None:
    with serve_process(database) as url:  # type: ignore[arg-type]
        admin, bee = AdminClient(url, ADMIN_TOKEN), AdminClient(url, ADMIN_TOKEN, "bee")
        admin.create_account("bee", "queen@bee.test", token="bee-token-123456")
        admin.advance(DAY)  # the default account runs a day ahead
        bee.freeze(1_600_000_000)
        ahead = admin.clock()["now"]
        admin.close()
        bee.close()
    with serve_process(database) as url:  # type: ignore[arg-type]
        admin, bee = AdminClient(url, ADMIN_TOKEN), AdminClient(url, ADMIN_TOKEN, "bee")
        assert bee.clock() == {"now": 1_600_000_000, "frozen": True}
        assert admin.clock()["frozen"] is False and admin.clock()["now"] >= ahead
        with httpx.Client(base_url=url, auth=("admin@example.com/token", "demo-token")) as client:
            ticket = client.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "after"}}})
        admin.close()
        bee.close()
    assert epoch(ticket.json()["ticket"]["created_at"]) >= ahead
