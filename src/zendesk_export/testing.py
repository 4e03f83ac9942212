"""A pytest plugin: a real zendesk-export server on a free port, for anyone's test suite.

Installed with the package and registered automatically (entry point ``pytest11``). In a test::

    def test_my_client_exports_everything(zendesk_server):
        zendesk_server.admin.seed(tickets=500)
        zendesk_server.admin.advance(61)
        client = MyZendeskClient(zendesk_server.url, zendesk_server.email, zendesk_server.token)
        ...

One server runs per test session (SQLite in a temporary directory, rate limits off); every test gets it reset:
no tickets, clock back to real time and unfrozen. The handle also works outside pytest: ``ZendeskServer.start()``.

``zendesk_account`` instead hands each test an account of its own on the session's server, created for the test
and deleted after it: its own tickets, users, clock, faults, journal and rate limits, reached under its own base
URL (``…/__account/NAME``). Tests that use it need no reset and cannot disturb each other::

    def test_my_client_on_its_own_account(zendesk_account):
        zendesk_account.admin.seed(tickets=50)
        zendesk_account.admin.freeze()
        client = MyZendeskClient(zendesk_account.url, zendesk_account.email, zendesk_account.token)
        ...
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from zendesk_export.server.runner import RunningServer, start_server

__all__ = ["AdminClient", "ZendeskAccount", "ZendeskServer", "shared_server_admin", "zendesk_account", "zendesk_server",
           "zendesk_server_session"]


@dataclass
class AdminClient:
    """The `/__admin/` API of a running server, as Python calls."""

    url: str
    token: str
    account: str | None = None
    _http: httpx.Client | None = field(default=None, repr=False)

    def _call(self, method: str, path: str, json: Any = None, scoped: bool = True) -> Any:
        if self._http is None:  # one keep-alive connection: tests call the admin API often
            self._http = httpx.Client(headers={"Authorization": f"Bearer {self.token}"}, timeout=120)
        params = {"account": self.account} if self.account and scoped else None
        response = self._http.request(method, f"{self.url}/__admin/{path}", json=json, params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def for_account(self, name: str) -> AdminClient:
        """The same admin API, every call scoped to account ``name`` (``?account=NAME``)."""
        return AdminClient(self.url, self.token, name)

    def accounts(self) -> list[dict[str, Any]]:
        """Every account of the server: name, id, default, tickets, clock, api_path."""
        result: list[dict[str, Any]] = self._call("GET", "accounts", scoped=False)["accounts"]
        return result

    def create_account(self, name: str, email: str, *, token: str | None = None, password: str | None = None,
                       oauth_token: str | None = None) -> dict[str, Any]:
        """A new empty account with one admin (at least one credential)."""
        admin = {"email": email, "token": token, "password": password, "oauth_token": oauth_token}
        body = {"name": name, "admin": {k: v for k, v in admin.items() if v is not None}}
        result: dict[str, Any] = self._call("POST", "accounts", body, scoped=False)["account"]
        return result

    def delete_account(self, name: str) -> None:
        self._call("DELETE", f"accounts/{name}", scoped=False)

    def reset(self) -> None:
        self._call("POST", "reset")

    def seed(self, tickets: int, random_seed: int = 0) -> dict[str, int]:
        result: dict[str, int] = self._call("POST", "seed", {"tickets": tickets, "random_seed": random_seed})
        return result

    def clock(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "clock")
        return result

    def freeze(self, at: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "clock", {"freeze_at": self.clock()["now"] if at is None else at})
        return result

    def advance(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "clock", {"advance": seconds})
        return result

    def unfreeze(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "clock", {"unfreeze": True})
        return result

    def reset_clock(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "clock", {"reset": True})
        return result

    def scrub(self, ticket_ids: list[int] | None = None) -> list[int]:
        """Scrub deleted tickets now (default: every deleted one); returns the ids scrubbed."""
        body = {} if ticket_ids is None else {"ticket_ids": ticket_ids}
        return list(self._call("POST", "scrub", body)["scrubbed"])

    def set_faults(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the server's fault rules (see ``zendesk_export.server.edge.faults``)."""
        result: list[dict[str, Any]] = self._call("PUT", "faults", rules)["rules"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        """The active rules, each with its ``seen`` and ``fired`` counters."""
        result: list[dict[str, Any]] = self._call("GET", "faults")["rules"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def requests(self) -> list[dict[str, Any]]:
        """The request journal, newest last."""
        result: list[dict[str, Any]] = self._call("GET", "requests")["requests"]
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def set_rate_limit(self, **settings: Any) -> dict[str, Any]:
        """The account's own limits: enabled, high_volume, plan_limit, incremental, users_cursor, sample."""
        result: dict[str, Any] = self._call("PUT", "rate_limits", settings)
        return result

    def rate_limits(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "rate_limits")
        return result

    def reset_rate_limit(self) -> dict[str, Any]:
        """The server's default limits again, and empty counters."""
        result: dict[str, Any] = self._call("DELETE", "rate_limits")
        return result


class _AdminCredentials:
    """What a server and an account handle share: Basic auth for their admin and an httpx client on ``url``."""

    email: str
    token: str

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def auth(self) -> tuple[str, str]:
        """httpx/requests Basic auth for the admin: `email/token`, token."""
        return (f"{self.email}/token", self.token)

    def client(self, **options: Any) -> httpx.Client:
        """An httpx client on the base URL, authenticated as the admin."""
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=30, **options)


@dataclass
class ZendeskServer(_AdminCredentials):
    """A running server and the demo account's credentials."""

    running: RunningServer
    email: str = "admin@example.com"
    token: str = "demo-token"
    password: str = "demo-password"
    oauth_token: str = "demo-oauth-token"
    agent_email: str = "agent@example.com"
    agent_token: str = "agent-token"
    admin: AdminClient = field(init=False)

    def __post_init__(self) -> None:
        self.admin = AdminClient(self.running.url, self.running.admin_token)

    @property
    def url(self) -> str:
        return self.running.url

    @classmethod
    def start(cls, db: str | Path, **options: Any) -> ZendeskServer:
        options.setdefault("rate_limit", "off")
        return cls(start_server(str(db), **options))

    def stop(self) -> None:
        self.admin.close()
        self.running.stop()


@dataclass
class ZendeskAccount(_AdminCredentials):
    """An account of its own on a running server, and its admin's credentials. ``url`` is the account's base URL
    (``…/__account/NAME``): any client given it reaches this account only. ``server_admin`` is the server's admin
    API (it created the account and deletes it), ``admin`` the same API scoped to this account."""

    server_admin: AdminClient
    name: str
    email: str
    token: str
    password: str
    oauth_token: str
    admin: AdminClient = field(init=False)

    def __post_init__(self) -> None:
        self.admin = self.server_admin.for_account(self.name)

    @property
    def url(self) -> str:
        return f"{self.server_admin.url}/__account/{self.name}"

    @classmethod
    def create(cls, server: ZendeskServer | AdminClient, name: str | None = None) -> ZendeskAccount:
        """A new account (a random name by default) on a server (or the server of an admin API), with an admin
        whose credentials are random too."""
        admin = server.admin if isinstance(server, ZendeskServer) else server
        name = name or f"t{secrets.token_hex(6)}"
        account = cls(admin, name, f"admin@{name}.example.com", secrets.token_urlsafe(18),
                      secrets.token_urlsafe(18), secrets.token_urlsafe(18))
        admin.create_account(name, account.email, token=account.token, password=account.password,
                             oauth_token=account.oauth_token)
        return account

    def delete(self) -> None:
        self.admin.close()
        self.server_admin.delete_account(self.name)


def shared_server_admin(environ: Mapping[str, str] = os.environ) -> AdminClient | None:
    """The admin API of a shared server that ``zendesk_account`` should use instead of starting one:
    ``ZENDESK_EXPORT_TEST_SERVER`` (its URL) with ``ZENDESK_EXPORT_ADMIN_TOKEN``; None when the URL is unset."""
    url = environ.get("ZENDESK_EXPORT_TEST_SERVER", "").rstrip("/")
    if not url:
        return None
    token = environ.get("ZENDESK_EXPORT_ADMIN_TOKEN", "")
    if not token:
        raise pytest.UsageError("ZENDESK_EXPORT_TEST_SERVER needs ZENDESK_EXPORT_ADMIN_TOKEN, the server's admin token")
    return AdminClient(url, token)


@pytest.fixture(scope="session")
def zendesk_server_session() -> Iterator[ZendeskServer]:
    """One server for the whole session (use ``zendesk_server`` for a clean one per test)."""
    with tempfile.TemporaryDirectory(prefix="zendesk-export-") as tmp:
        server = ZendeskServer.start(Path(tmp) / "zendesk.db")
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def zendesk_server(zendesk_server_session: ZendeskServer) -> ZendeskServer:
    """The session's server, reset: no tickets, real unfrozen clock, no faults, an empty journal, default rate
    limits (off) with empty counters."""
    zendesk_server_session.admin.reset()
    zendesk_server_session.admin.reset_clock()
    zendesk_server_session.admin.clear_faults()
    zendesk_server_session.admin.reset_rate_limit()
    zendesk_server_session.admin.clear_requests()
    return zendesk_server_session


@pytest.fixture(scope="session")
def _zendesk_accounts_admin(request: pytest.FixtureRequest) -> Iterator[AdminClient]:
    """Where ``zendesk_account`` creates accounts: a shared server (``shared_server_admin``), else the session's
    own server."""
    shared = shared_server_admin()
    if shared is None:
        yield request.getfixturevalue("zendesk_server_session").admin
        return
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def zendesk_account(_zendesk_accounts_admin: AdminClient) -> Iterator[ZendeskAccount]:
    """An account of its own for this test only (deleted after it): no tickets, a real unfrozen clock, no faults,
    an empty journal, the server's rate limits (off on the session's server). On the session's server, or on a
    shared one: ``ZENDESK_EXPORT_TEST_SERVER=URL`` with ``ZENDESK_EXPORT_ADMIN_TOKEN``, so that many CI jobs
    can use one server, an account each."""
    account = ZendeskAccount.create(_zendesk_accounts_admin)
    try:
        yield account
    finally:
        account.delete()
