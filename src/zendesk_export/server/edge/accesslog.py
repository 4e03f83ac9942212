"""The access log of ``serve``: one line per request, as it ends — time, client, method, path, status, duration.

    09:12:03 127.0.0.1 GET /api/v2/incremental/tickets.json?start_time=0 200 4.1ms

Outermost of all middleware, so it sees every request (the admin API's too) and the status that really went
out (``-`` when the connection closed before one). Secrets never reach it: credentials travel in headers, which
are not logged, and a query parameter whose name says it holds one (``token``, ``password``, ``secret``,
``key``…) is shown as ``***``. ``serve --quiet`` leaves it out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export.redaction import MASK, redact_secrets
from zendesk_export.server.edge.status import StatusWatch

__all__ = ["AccessLog", "log_line", "redacted_query"]

_SECRET_NAME = re.compile(r"token|password|passwd|secret|key|auth|signature|session", re.IGNORECASE)


def redacted_query(query: str) -> str:
    """A query string with the values of secret-looking parameters replaced by ``***``."""
    if not query:
        return ""
    pairs = [(k, MASK if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
    return redact_secrets(urlencode(pairs, safe="*/:,"))


def log_line(at: float, client: str, method: str, path: str, query: str, status: int | None, seconds: float) -> str:
    shown = quote(path, safe="/:@!$&'()*+,;=-._~") + (f"?{redacted_query(query)}" if query else "")
    clock = time.strftime("%H:%M:%S", time.localtime(at))
    return f"{clock} {client or '-'} {method} {shown} {status if status is not None else '-'} {seconds * 1000:.1f}ms"


class AccessLog:
    """Pure-ASGI middleware: hands one line per finished request to ``write``."""

    def __init__(self, app: ASGIApp, write: Callable[[str], object]) -> None:
        self.app = app
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, at = time.perf_counter(), time.time()
        path, query = scope["path"], scope["query_string"].decode("latin-1")  # before any middleware rewrites it
        watch = StatusWatch(send)
        try:
            await self.app(scope, receive, watch)
        finally:
            client = scope.get("client")
            self.write(log_line(at, client[0] if client else "", scope["method"], path, query, watch.status,
                                time.perf_counter() - started))
