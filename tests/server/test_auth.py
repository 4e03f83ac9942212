"""Accepted credentials, and how the account is chosen from the Host header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
