"""Accepted credentials, and how the account is chosen from the Host header."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from zendesk_export.server.model.auth import subdomain_of
from zendesk_export.testing import ZendeskServer

EXPORT = "/api/v2/incremental/tickets.json"


def _credentials(server: ZendeskServer) -> dict[str, dict[str, object]]:
    return {
        "api token": {"auth": (f"{server.email}/token", server.token)},
        "password": {"auth": (server.email, server.password)},
        "oauth bearer": {"headers": {"Authorization": f"Bearer {server.oauth_token}"}},
        "email in other case": {"auth": (f"{server.email.upper()}/token", server.token)},
    }


@pytest.mark.parametrize("kind", ["api token", "password", "oauth bearer", "email in other case"])
def test_admin_exports_with_each_kind_of_credential(zendesk_server: ZendeskServer, kind: str) -> None:
    options = _credentials(zendesk_server)[kind]
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0}, **options)  # type: ignore[arg-type]
    assert response.status_code == 200


def test_password_is_not_an_api_token(zendesk_server: ZendeskServer) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0},
                         auth=(f"{zendesk_server.email}/token", zendesk_server.password))
    assert response.status_code == 401


def test_agent_may_use_the_tickets_api(zendesk_server: ZendeskServer) -> None:
    response = httpx.post(zendesk_server.url + "/api/v2/tickets.json",
                          json={"ticket": {"comment": {"body": "from an agent"}}},
                          auth=(f"{zendesk_server.agent_email}/token", zendesk_server.agent_token))
    assert response.status_code == 201


@pytest.mark.parametrize(("host", "subdomain"), [
    ("127.0.0.1:8000", None), ("localhost:8000", None), ("localhost", None), ("[::1]:8000", None),
    ("acme.localhost:8000", "acme"), ("example.zendesk.com", "example"), ("ACME.localhost", "acme"),
])
def test_subdomain_comes_from_the_host_header(host: str, subdomain: str | None) -> None:
    assert subdomain_of(host) == subdomain


# -- credentials belong to one account ------------------------------------------------------------------
BEE = {"name": "Bee Admin", "email": "admin@example.com", "role": "admin", "api_token": "bee-token-0123456789",
       "password": "bee-password", "oauth_token": "bee-oauth-token"}


def _bee_account(server: ZendeskServer) -> None:
    """A second account, `bee`, whose admin has the demo admin's email (ids restart at 1 in every account)."""
    store = server.running.store
    path = getattr(store, "path", None)
    assert path is not None, "the fixture's server runs on SQLite"
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR IGNORE INTO accounts (subdomain) VALUES ('bee')")
    db.close()
    account = store.account("bee")
    assert account is not None
    store.add_users(account.id, [BEE])  # kept as it is when it exists already


def _export(server: ZendeskServer, host: str, **options: Any) -> httpx.Response:
    return httpx.get(server.url + EXPORT, params={"start_time": 0}, headers={"Host": host}, **options)


@pytest.mark.parametrize(("host", "auth"), [
    ("127.0.0.1", ("admin@example.com/token", BEE["api_token"])),
    ("127.0.0.1", ("admin@example.com", BEE["password"])),
    ("bee.localhost", ("admin@example.com/token", "demo-token")),
    ("bee.localhost", ("admin@example.com", "demo-password")),
])
def test_credentials_of_another_account_never_authenticate(zendesk_server: ZendeskServer, host: str,
                                                           auth: tuple[str, str]) -> None:
    _bee_account(zendesk_server)
    assert _export(zendesk_server, host, auth=auth).status_code == 401


@pytest.mark.parametrize("auth", [("admin@example.com/token", BEE["api_token"]), ("admin@example.com", "bee-password")])
def test_an_accounts_own_credentials_authenticate_in_it(zendesk_server: ZendeskServer, auth: tuple[str, str]) -> None:
    _bee_account(zendesk_server)
    assert _export(zendesk_server, "bee.localhost", auth=auth).status_code == 200


def test_reset_keeps_only_the_users_with_credentials_in_that_account(zendesk_server: ZendeskServer) -> None:
    """A user of `bee` without credentials goes on reset, though the demo account has credentials for its id."""
    _bee_account(zendesk_server)
    account = zendesk_server.running.store.account("bee")
    assert account is not None
    zendesk_server.running.store.add_users(account.id, [
        {"id": 2, "name": "Bee Customer", "email": "customer@bee.example", "role": "end-user"}])
    bee = zendesk_server.admin.for_account("bee")
    try:
        bee.reset()
    finally:
        bee.close()
    users = httpx.get(zendesk_server.url + "/api/v2/users.json", headers={"Host": "bee.localhost"},
                      auth=("admin@example.com/token", BEE["api_token"])).json()
    assert [u["email"] for u in users["users"]] == ["admin@example.com"]
