"""The HTTP kernel every handler stands on: one ``Call`` per request, a typed ``Context``, ``endpoint`` and the
JSON responses.

Handlers are plain functions ``handler(call) -> Response`` run in a worker thread (stores are synchronous). A
handler parses the ``Call``, hands plain values to the model or the export, and renders what comes back; a
``ZendeskError`` raised anywhere below becomes Zendesk's own status and body.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from zendesk_export.server.errors import InvalidJSON, NoHelpDesk, ZendeskError
from zendesk_export.server.model.audits import Origin
from zendesk_export.server.model.auth import LoginThrottle, authenticate, resolve_account
from zendesk_export.server.model.ids import id_from_text
from zendesk_export.server.store import Account, Store, User

__all__ = [
    "ACCOUNT_KEY",
    "BASE_PATH_KEY",
    "SUBDOMAIN_KEY",
    "account_time",
    "JSON_TYPE",
    "ServerConfig",
    "Context",
    "Call",
    "Handler",
    "endpoint",
    "error_response",
    "json_response",
    "raw_json",
    "api_routes",
    "safe_host",
]

JSON_TYPE = "application/json; charset=utf-8"
# ASGI scope keys set by ``edge.accounts.AccountScope``: the request's account (None: no account of that name),
# the name asked for (None: the default account), and the ``/__account/NAME`` base path it came through ("").
ACCOUNT_KEY = "zendesk_export.account"
SUBDOMAIN_KEY = "zendesk_export.subdomain"
BASE_PATH_KEY = "zendesk_export.base_path"


@dataclass
class ServerConfig:
    """What the app needs beyond store and clock. ``rate_limit``: "on", "off" or requests per minute."""

    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    rate_limit: str = "on"
    faults: list[dict[str, Any]] = field(default_factory=list)  # fault rules active from start (edge.faults)
    # several server processes share the database (serve --workers N): the journal and the fault rules' state
    # live in the store instead of in each process's memory
    shared_state: bool = False


@dataclass(frozen=True)
class Context:
    """What every handler may reach: the settings, the store, the wall time (each account's clock is read against
    it), and the failed-login throttle. Nothing else rides along."""

    config: ServerConfig
    store: Store
    wall: Callable[[], float] = time.time
    logins: LoginThrottle = field(default_factory=LoginThrottle)


def account_time(scope: Scope, wall: Callable[[], float]) -> float:
    """The clock of the request's account (wall time when it has none: an unknown account, the admin API)."""
    account: Account | None = scope.get(ACCOUNT_KEY)
    return account.clock.now(wall()) if account is not None else wall()


class Call:
    """One request as the handlers see it: parsed once, with the account and caller resolved on demand."""

    def __init__(self, request: Request, body: bytes, ctx: Context) -> None:
        self.request = request
        self.body = body
        self.ctx = ctx
        self.params: QueryParams = request.query_params
        base_path = request.scope.get(BASE_PATH_KEY, "")
        self.base_url = f"{request.url.scheme}://{safe_host(request.headers.get('host', ''))}{base_path}"

    @cached_property
    def account(self) -> Account:
        """The account of the request (found by ``edge.accounts.AccountScope`` from the Host header or the
        ``/__account/NAME`` base path); Zendesk's 404 for a name no account has."""
        scope = self.request.scope
        if ACCOUNT_KEY not in scope:
            return resolve_account(self.ctx.store, self.request.headers.get("host", ""))
        found: Account | None = scope[ACCOUNT_KEY]
        if found is None:
            raise NoHelpDesk(scope.get(SUBDOMAIN_KEY) or "localhost")
        return found

    def admin_account(self) -> Account:
        """The account an admin API call names with ``?account=`` (default: the default account). The admin
        token was checked before routing (``admin.guard.AdminGuard``)."""
        name = self.params.get("account")
        account = self.ctx.store.account(name)
        if account is None:
            raise NoHelpDesk(name or "localhost")
        return account

    def caller(self, *, admin: bool = False) -> User:
        client = self.request.client
        return authenticate(self.ctx.store, self.account, self.request.headers.get("authorization"), admin=admin,
                            client=client.host if client else "", throttle=self.ctx.logins)

    def time(self) -> float:
        """The clock of the request's account: every timestamp a handler writes or compares."""
        return self.account.clock.now(self.ctx.wall())

    def now(self) -> int:
        """The account's clock, in whole seconds."""
        return int(self.time())

    def origin(self) -> Origin:
        """Where the request came from, as an audit records it."""
        client = self.request.client
        return Origin(self.request.headers.get("user-agent"), client.host if client else None)

    def json(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.body or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidJSON() from None
        if not isinstance(data, dict):
            raise InvalidJSON()
        try:  # whatever is accepted must render back: orjson writes at most 254 levels and 64-bit integers
            orjson.dumps(data)
        except orjson.JSONEncodeError:
            raise InvalidJSON("The request body is nested too deeply or holds a number out of range") from None
        return data

    def path_int(self, name: str) -> int:
        """A ``{name:id}`` path segment as a record id; beyond Zendesk's range → 404 RecordNotFound."""
        return id_from_text(str(self.request.path_params[name]))  # `{name:id}` gives text, `{name:int}` an int


Handler = Callable[[Call], Response]


class _IdConvertor(Convertor[str]):
    """``{name:id}``: ASCII digits, any length, kept as text. Starlette's ``int`` converts while routing, where
    5000 digits (``int`` refuses them) would fail outside any handler; ``Call.path_int`` checks the range."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("id", _IdConvertor())

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")


def safe_host(host: str) -> str:
    """The Host header goes into every URL we render (next_page, ticket url): only a well-formed one."""
    return host if _HOST.fullmatch(host) else "localhost"


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return raw_json(orjson.dumps(data), status, headers)


def raw_json(body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=dict(headers or {}), media_type=JSON_TYPE)


def error_response(error: ZendeskError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def endpoint(handler: Handler) -> Callable[[Request], Any]:
    """A Starlette endpoint that reads the body, then runs ``handler`` in a worker thread."""

    async def run(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the client gave up (e.g. its timeout during a latency fault): nobody to answer
            return Response(status_code=499)
        call = Call(request, body, request.app.state.ctx)
        try:
            return await run_in_threadpool(handler, call)
        except ZendeskError as error:
            return error_response(error)

    run.__name__ = handler.__name__
    return run


def api_routes(table: Sequence[tuple[str, str, Handler]]) -> list[Route]:
    """`(method, path, handler)` rows → routes, each path also reachable with Zendesk's `.json` suffix."""
    routes = []
    for method, path, handler in table:
        for variant in (path, path + ".json"):
            routes.append(Route(variant, endpoint(handler), methods=[method], name=f"{handler.__name__}{variant}"))
    return routes
