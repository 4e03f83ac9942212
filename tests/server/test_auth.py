"""Accepted credentials, and how the account is chosen from the Host header."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zendesk_export.server.model import auth
from zendesk_export.server.model.auth import FAILED_LOGINS, LoginThrottle, subdomain_of
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


@pytest.mark.parametrize(("email", "token"), [
    ("admin@example.com", "agent-token"),   # the agent's token under the admin's email
    ("agent@example.com", "demo-token"),    # the admin's token under the agent's email
])
def test_an_api_token_works_only_for_its_own_user(zendesk_server: ZendeskServer, email: str, token: str) -> None:
    response = httpx.get(zendesk_server.url + EXPORT, params={"start_time": 0}, auth=(f"{email}/token", token))
    assert response.status_code == 401


@pytest.fixture
def end_user_server(tmp_path: Path) -> Iterator[tuple[ZendeskServer, tuple[str, str]]]:
    """A server of its own (no other test meets the user) whose account has an end-user with an API token, made
    in the store: Zendesk has no API to give an end-user a token."""
    server = ZendeskServer.start(tmp_path / "end-user.db")
    store = server.running.store
    account = store.account(None)
    assert account is not None
    store.add_users(account.id, [{"name": "Erin End", "email": "erin@example.com", "role": "end-user",
                                  "api_token": "end-user-token-1"}])
    yield server, ("erin@example.com/token", "end-user-token-1")
    server.stop()


NESTED_403 = {"error": {"title": "Forbidden", "message": "You do not have access to this page. Please contact the "
                        "account owner of this help desk for further help."}}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", EXPORT), ("GET", "/api/v2/incremental/tickets/cursor.json"), ("POST", "/api/v2/tickets.json"),
])
def test_an_end_user_is_refused_with_403(end_user_server: tuple[ZendeskServer, tuple[str, str]], method: str,
                                         path: str) -> None:
    server, auth = end_user_server
    response = httpx.request(method, server.url + path, params={"start_time": 0},
                             json={"ticket": {"comment": {"body": "from an end-user"}}}, auth=auth)
    assert response.status_code == 403
    assert response.json() == NESTED_403
# -- credentials belong to one account ------------------------------------------------------------------
BEE = {"name": "Bee Admin", "email": "admin@example.com", "role": "admin", "api_token": "bee-token-0123456789",
       "password": "bee-password", "oauth_token": "bee-oauth-token"}


@pytest.fixture
def bee_account(zendesk_server: ZendeskServer) -> Iterator[None]:
    """A second account, `bee`, whose admin has the demo admin's email (ids restart at 1 in every account);
    deleted afterwards, as the server outlives the test."""
    store = zendesk_server.running.store
    with store._transaction() as db:  # type: ignore[attr-defined]  # the admin's credentials as BEE gives them
        db.execute("INSERT INTO accounts (subdomain) VALUES ('bee') ON CONFLICT DO NOTHING", ())
    account = store.account("bee")
    assert account is not None
    store.add_users(account.id, [BEE])
    yield
    zendesk_server.admin.delete_account("bee")


def _export(server: ZendeskServer, host: str, **options: Any) -> httpx.Response:
    return httpx.get(server.url + EXPORT, params={"start_time": 0}, headers={"Host": host}, **options)


@pytest.mark.parametrize(("host", "auth"), [
    ("127.0.0.1", ("admin@example.com/token", BEE["api_token"])),
    ("127.0.0.1", ("admin@example.com", BEE["password"])),
    ("bee.localhost", ("admin@example.com/token", "demo-token")),
    ("bee.localhost", ("admin@example.com", "demo-password")),
])
def test_credentials_of_another_account_never_authenticate(zendesk_server: ZendeskServer, bee_account: None,
                                                           host: str, auth: tuple[str, str]) -> None:
    assert _export(zendesk_server, host, auth=auth).status_code == 401


@pytest.mark.parametrize("auth", [("admin@example.com/token", BEE["api_token"]), ("admin@example.com", "bee-password")])
def test_an_accounts_own_credentials_authenticate_in_it(zendesk_server: ZendeskServer, bee_account: None,
                                                      auth: tuple[str, str]) -> None:
    assert _export(zendesk_server, "bee.localhost", auth=auth).status_code == 200


def test_reset_keeps_only_the_users_with_credentials_in_that_account(zendesk_server: ZendeskServer,
                                                                      bee_account: None) -> None:
    """A user of `bee` without credentials goes on reset, though the demo account has credentials for its id."""
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


# -- what a wrong password costs, and the failed-login throttle -------------------------------------------------
def _count_password_hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PBKDF2 verification the server makes from now on, by the hash it checked."""
    checked: list[str] = []
    real = auth.verify_password

    def counting(secret: str, stored: str) -> bool:
        checked.append(stored)
        return real(secret, stored)

    monkeypatch.setattr(auth, "verify_password", counting)
    return checked


@pytest.mark.parametrize("email", ["admin@example.com", "nobody@example.com", "agent@example.com"])
def test_a_wrong_password_costs_one_hash_whether_or_not_the_email_exists(
        zendesk_server: ZendeskServer, monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    """An unknown email, a user without a password and a wrong password are answered after the same work."""
    checked = _count_password_hashing(monkeypatch)
    response = _export(zendesk_server, "127.0.0.1", auth=(email, f"wrong-{uuid.uuid4()}"))
    assert (response.status_code, len(checked)) == (401, 1)


def test_a_client_that_keeps_failing_is_throttled_without_hashing(zendesk_server: ZendeskServer, bee_account: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the window ends (or the account is reset), right credentials included; other accounts go on."""
    for attempt in range(FAILED_LOGINS):
        assert _export(zendesk_server, "127.0.0.1", auth=("admin@example.com/token", f"guess-{attempt}")
                       ).status_code == 401
    checked = _count_password_hashing(monkeypatch)
    wrong = _export(zendesk_server, "127.0.0.1", auth=("admin@example.com", f"wrong-{uuid.uuid4()}"))
    right = _export(zendesk_server, "127.0.0.1", auth=("admin@example.com", "demo-password"))
    assert [wrong.status_code, right.status_code, len(checked)] == [429, 429, 0]
    assert int(right.headers["retry-after"]) >= 1 and right.json()["error"] == "APIRateLimitExceeded"
    other_account = _export(zendesk_server, "bee.localhost", auth=("admin@example.com/token", BEE["api_token"]))
    zendesk_server.admin.reset()
    again = _export(zendesk_server, "127.0.0.1", auth=("admin@example.com", "demo-password"))
    assert (other_account.status_code, again.status_code) == (200, 200)


def test_the_throttle_counts_per_account_and_address_and_forgets_when_the_window_ends() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=2, window=60, monotonic=lambda: now[0])
    for _ in range(2):
        throttle.failed(1, "10.0.0.1")
    assert [throttle.retry_after(1, "10.0.0.1"), throttle.retry_after(1, "10.0.0.2"),
            throttle.retry_after(2, "10.0.0.1")] == [60, None, None]
    now[0] += 59.5
    assert throttle.retry_after(1, "10.0.0.1") == 1
    now[0] += 0.5
    assert throttle.retry_after(1, "10.0.0.1") is None
