"""Which account a request is for, found once, before anything else looks at the request.

Two ways to name an account: the first label of the Host header, as with Zendesk (``bee.localhost:8000``; a
bare IP or ``localhost`` is the default account), or a base path, for clients that cannot choose their Host
header and machines without wildcard DNS: ``/__account/bee/api/v2/tickets.json`` is ``/api/v2/tickets.json`` of
account ``bee``. The prefix is taken off the path (routes, rate-limit buckets and fault rules see Zendesk's
path) and put back in every URL the response renders (``next_page``, ``url``), so a client that follows them
stays in its account.

The account found (or ``None`` for a name no account has: the handler answers Zendesk's 404) goes into the ASGI
scope for the journal, the faults, the rate limiter, the ``Date`` header and the handler.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export.server.http import ACCOUNT_KEY, BASE_PATH_KEY, SUBDOMAIN_KEY
from zendesk_export.server.model.auth import subdomain_of
from zendesk_export.server.store import Store

__all__ = ["ACCOUNT_PREFIX", "AccountScope", "account_path"]

ACCOUNT_PREFIX = "/__account/"
API_PREFIX = "/api/"
_PREFIXED = re.compile(r"/__account/([^/]{1,63})(/.*)?")


def account_path(path: str) -> tuple[str | None, str, str]:
    """``/__account/bee/api/v2/x`` → ("bee", "/api/v2/x", "/__account/bee"); any other path → (None, path, "").

    Only the API is reached this way: ``/__account/bee/__admin/…`` must never become an admin path after the
    admin guard has let it pass as something else, so it stays as it is (and answers 404)."""
    match = _PREFIXED.fullmatch(path) if path.startswith(ACCOUNT_PREFIX) else None
    if match is None or not (match.group(2) or "").startswith(API_PREFIX):
        return None, path, ""
    name, rest = match.group(1).lower(), match.group(2) or "/"
    return name, rest, f"{ACCOUNT_PREFIX}{match.group(1)}"


class AccountScope:
    """Pure-ASGI middleware: resolves the request's account (one store read) for everything inside it. The
    admin API names its account with ``?account=`` and is left alone."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        name, path, base = account_path(scope["path"])
        if base:
            scope["path"], scope["raw_path"] = path, path.encode()
        else:
            name = subdomain_of(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
        scope[SUBDOMAIN_KEY], scope[BASE_PATH_KEY] = name, base
        scope[ACCOUNT_KEY] = await run_in_threadpool(self.store.account, name)
        await self.app(scope, receive, send)
