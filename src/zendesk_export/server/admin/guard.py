"""The guard of the admin API: ``/__admin/`` without the admin token → 401, before routing.

A route whose handler forgets to check, or a misspelt path, leaks nothing. The reverse direction needs no code:
``/api/v2/`` authenticates against the store's users only, where the admin token is not a credential.

The token is presented as ``Authorization: Bearer <token>`` (scripts, tests) or, from the web page
(``admin.ui``), as a session cookie set once the token was given to its login form: HttpOnly, so the page's own
script never holds it, and a keyed hash of the token rather than the token itself. A cookie rides along with
any request the browser makes, including a form another site posts to this one, so for anything but a read the
cookie counts only together with the ``X-Admin-UI`` header, which the page's script sends and a cross-site form
cannot (a cross-site script that tries needs a CORS preflight, which this server never grants).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export.server.errors import AdminUnauthorized
from zendesk_export.server.http import error_response

__all__ = ["ADMIN_PREFIX", "OPENAPI_PATH", "UI_PATH", "UI_HEADER", "SESSION_COOKIE", "AdminGuard", "admitted",
           "session_value"]

ADMIN_PREFIX = "/__admin"
OPENAPI_PATH = "/__admin/openapi.json"  # open without a token: a client developer reads it before having one
UI_PATH = "/__admin/ui"  # the web page: open paths, each showing the login form until the token is given
SESSION_COOKIE = "zendesk_export_admin"
UI_HEADER = "x-admin-ui"
_READS = frozenset({"GET", "HEAD"})


def session_value(admin_token: str) -> str:
    """The cookie's value: derived from the token, so a cookie seen somewhere does not reveal the token."""
    return hmac.new(admin_token.encode(), b"zendesk-export admin web page session", hashlib.sha256).hexdigest()


def _open(path: str) -> bool:
    return path in (OPENAPI_PATH, UI_PATH) or path.startswith(UI_PATH + "/")


def admitted(scope: Scope, admin_token: str) -> bool:
    """Whether the request carries the admin token: the bearer header, or the page's cookie (with the page's
    header for anything but a read)."""
    headers: Mapping[bytes, bytes] = dict(scope["headers"])
    bearer = f"Bearer {admin_token}".encode()
    if hmac.compare_digest(headers.get(b"authorization", b""), bearer):
        return True
    cookie = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(SESSION_COOKIE, "")
    if not hmac.compare_digest(cookie.encode(), session_value(admin_token).encode()):
        return False
    return scope["method"] in _READS or UI_HEADER.encode() in headers


class AdminGuard:
    """Pure-ASGI middleware: ``/__admin/`` without the admin token → 401, before any route runs. The web page's
    paths pass: they show the login form to whoever is not ``admitted`` (``admin.ui``)."""

    def __init__(self, app: ASGIApp, admin_token: str) -> None:
        self.app = app
        self.admin_token = admin_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] == "http" and path.startswith(ADMIN_PREFIX) and not _open(path)
                and not admitted(scope, self.admin_token)):
            await error_response(AdminUnauthorized())(scope, receive, send)
            return
        await self.app(scope, receive, send)
