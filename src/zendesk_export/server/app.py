"""The ASGI app: routes as data, one ``Call`` object per request, Zendesk's errors for everything that fails.

Handlers are plain functions ``handler(call) -> Response`` run in a worker thread (stores are synchronous);
``create_app`` wires them with the settings, the store and the clock.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cached_property
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.clock import Clock
from zendesk_export.server.auth import authenticate, resolve_account
from zendesk_export.server.errors import InvalidEndpoint, InvalidJSON, NoHelpDesk, ZendeskError
from zendesk_export.server.store import Account, Store, User

__all__ = [
    "ACCOUNT_KEY",
    "ServerConfig",
    "Context",
    "Call",
    "create_app",
    "endpoint",
    "json_response",
    "raw_json",
    "api_routes",
    "safe_host",
]

JSON_TYPE = "application/json; charset=utf-8"
ACCOUNT_KEY = "zendesk_export.account"  # ASGI scope key: the request's account, once a middleware found it


@dataclass
class ServerConfig:
    """What the app needs beyond store and clock. ``rate_limit``: "on", "off" or requests per minute."""

    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    rate_limit: str = "on"
    faults: list[dict[str, Any]] = field(default_factory=list)  # fault rules active from start (server.faults)


@dataclass
class Context:
    config: ServerConfig
    store: Store
    clock: Clock
    extras: dict[str, Any] = field(default_factory=dict)  # per-app services added by feature modules


class Call:
    """One request as the handlers see it: parsed once, with the account and caller resolved on demand."""

    def __init__(self, request: Request, body: bytes, ctx: Context) -> None:
        self.request = request
        self.body = body
        self.ctx = ctx
        self.params: QueryParams = request.query_params
        self.base_url = f"{request.url.scheme}://{safe_host(request.headers.get('host', ''))}"

    @cached_property
    def account(self) -> Account:
        """The account of the Host header (already found by the rate limiter, when it counted the request)."""
        found: Account | None = self.request.scope.get(ACCOUNT_KEY)
        return found or resolve_account(self.ctx.store, self.request.headers.get("host", ""))

    def admin_account(self) -> Account:
        """The account an admin API call names with ``?account=`` (default: the default account). The admin
        token was checked before routing (``admin_openapi.AdminGuard``)."""
        name = self.params.get("account")
        account = self.ctx.store.account(name)
        if account is None:
            raise NoHelpDesk(name or "localhost")
        return account

    def caller(self, *, admin: bool = False) -> User:
        return authenticate(self.ctx.store, self.account, self.request.headers.get("authorization"), admin=admin)

    def json(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.body or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidJSON() from None
        if not isinstance(data, dict):
            raise InvalidJSON()
        return data

    def path_int(self, name: str) -> int:
        return int(self.request.path_params[name])


Handler = Callable[[Call], Response]

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


class ZendeskHeaders:
    """Headers every Zendesk API response carries (reference §2.4), and a ``Date`` from the server clock, so a
    client that reads the server's time (to keep ``start_time`` a minute old) sees the frozen or advanced
    clock of a test."""

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = secrets.token_hex(8).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):  # a 429 sets its own
                    headers.append((b"cache-control", b"max-age=0, private, must-revalidate"))
                message["headers"] = [
                    *headers,
                    (b"x-zendesk-api-version", b"v2"),
                    (b"x-request-id", request_id),
                    (b"x-runtime", f"{time.perf_counter() - started:.6f}".encode()),
                    (b"date", formatdate(self.clock.now(), usegmt=True).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(InvalidEndpoint())


async def _zendesk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZendeskError)
    return error_response(exc)


def create_app(config: ServerConfig, store: Store, clock: Clock | None = None) -> Starlette:
    # Imported here: the route and middleware modules import this one.
    from zendesk_export.server import (
        admin,
        admin_openapi,
        events_api,
        export_api,
        faults,
        jobs,
        journal,
        ratelimit,
        tickets_api,
        users_api,
    )

    ctx = Context(config, store, clock or Clock())
    api = export_api.ROUTES + events_api.ROUTES + users_api.ROUTES + jobs.ROUTES + tickets_api.ROUTES
    routes = api_routes(api) + admin.routes()
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _not_found, ZendeskError: _zendesk_error},
    )
    app.state.ctx = ctx
    # Innermost first: rate limits answer inside Zendesk's headers; faults act outside them, like the network;
    # the journal sees everything, faults included; the admin guard closes /__admin/ before anything runs.
    ratelimit.install(app, ctx)
    app.add_middleware(ZendeskHeaders, clock=ctx.clock)
    faults.install(app, ctx)
    journal.install(app, ctx)
    admin_openapi.install(app, ctx)
    return app
