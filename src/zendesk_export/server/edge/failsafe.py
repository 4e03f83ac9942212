"""The last line of defence: whatever escapes a route or a middleware inside this one is answered in Zendesk's
JSON with the usual headers, never with a bare ``Internal Server Error`` or a reset connection.

A ``ZendeskError`` raised anywhere below (a body over the limit while it streams in, a store error translated
below) gets its own status and body. Any other exception gets a 500 ``InternalError`` body; its traceback goes to
the server's log only, never to the client. When the response had already started there is nothing left to
answer with: the error is logged and the connection is closed by the server underneath.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zendesk_export.server.errors import InternalError, ZendeskError
from zendesk_export.server.http import error_response

__all__ = ["Failsafe", "LOGGER"]

LOGGER = logging.getLogger("zendesk_export.server")


class Failsafe:
    """Pure-ASGI middleware: an exception below becomes a Zendesk error response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ZendeskError as error:
            if started:
                raise
            await error_response(error)(scope, receive, send)
        except Exception:
            LOGGER.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(InternalError())(scope, receive, send)
