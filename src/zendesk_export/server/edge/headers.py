"""The headers every Zendesk API response carries (reference §2.4)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.server.http import account_time

__all__ = ["ZendeskHeaders"]


class ZendeskHeaders:
    """Pure-ASGI middleware: Zendesk's headers on every response, and a ``Date`` from the account's clock, so a
    client that reads the server's time (to keep ``start_time`` a minute old) sees the frozen or advanced
    clock of a test."""

    def __init__(self, app: ASGIApp, wall: Callable[[], float]) -> None:
        self.app = app
        self.wall = wall

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
                    (b"date", formatdate(account_time(scope, self.wall), usegmt=True).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
