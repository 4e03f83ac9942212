"""The guard of the admin API: ``/__admin/`` without ``Authorization: Bearer <admin token>`` → 401, before routing.

A route whose handler forgets to check, or a misspelt path, leaks nothing. The reverse direction needs no code:
``/api/v2/`` authenticates against the store's users only, where the admin token is not a credential.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export.server.errors import AdminUnauthorized
from zendesk_export.server.http import error_response

__all__ = ["ADMIN_PREFIX", "OPENAPI_PATH", "AdminGuard"]

ADMIN_PREFIX = "/__admin"
OPENAPI_PATH = "/__admin/openapi.json"  # the one admin path open without a token


class AdminGuard:
    """Pure-ASGI middleware: ``/__admin/`` without the admin bearer token → 401, before any route runs."""

    def __init__(self, app: ASGIApp, admin_token: str) -> None:
        self.app = app
        self.expected = f"Bearer {admin_token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(ADMIN_PREFIX) and path != OPENAPI_PATH:
            presented = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(presented, self.expected):
                await error_response(AdminUnauthorized())(scope, receive, send)
                return
        await self.app(scope, receive, send)
