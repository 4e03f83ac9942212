"""The request body limit, enforced before a body is read whole and before anyone is authenticated.

A declared ``Content-Length`` over the limit is refused at once, without reading a byte of the body. A body
without one (chunked) or one that lies is counted as it streams in: the chunk that crosses the limit raises
``PayloadTooLarge`` inside the reader, so the route never holds more than the limit in memory, and the failsafe
answers 413. Zendesk documents no request-size limit for these endpoints; 10 MiB is ours (DIFFERENCES.md).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.server.errors import PayloadTooLarge
from zendesk_export.server.http import error_response

__all__ = ["MAX_BODY", "BodyLimit"]

MAX_BODY = 10 * 1024 * 1024  # bytes


class BodyLimit:
    """Pure-ASGI middleware: 413 for a body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await error_response(PayloadTooLarge(self.limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, or None when absent or unreadable (the server underneath rejects a malformed one)."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                return None
            return int(text) if len(text) < 20 else 2**64  # longer than any real length: over the limit
    return None
