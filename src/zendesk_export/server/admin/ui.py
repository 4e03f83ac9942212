"""The admin web page at ``/__admin/ui``: the server watched and steered from a browser.

One server-rendered page per account, with the clock (freeze, advance), the rate-limit buckets and what is left
in each, the fault rules (add, remove) and the request journal, live. The page's script (``assets/ui.js``) reads
and changes all of it through the admin API itself, so the page can show nothing that API does not; the files
under ``assets/`` ship in the package, and the page's Content-Security-Policy lets the browser fetch nothing
from anywhere but this server.

The admin token is given once, to the login form or as ``?token=``; it becomes the HttpOnly session cookie the
guard accepts (``guard.admitted``) and the address bar drops it at once (a redirect). Whoever is not admitted
gets the login form and nothing else: no account name, no data.
"""

from __future__ import annotations

import hmac
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import parse_qs, urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from zendesk_export.server.admin.guard import SESSION_COOKIE, UI_PATH, admitted, session_value
from zendesk_export.server.http import Call, endpoint

__all__ = ["LOGIN_PATH", "LOGOUT_PATH", "ROUTES"]

LOGIN_PATH = UI_PATH + "/login"
LOGOUT_PATH = UI_PATH + "/logout"
ASSETS_PATH = UI_PATH + "/assets/"
_ASSET_TYPES = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
_MAX_FORM = 4096  # a login form holds one token and an account name
# Everything from this server, nothing inline, nothing framed: the page works offline and resists injection.
# (data: images only for the empty icon that keeps the browser from asking for /favicon.ico, a journal entry.)
_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@cache
def _asset(name: str) -> str:
    return files("zendesk_export.server.admin").joinpath("assets", name).read_text(encoding="utf-8")


def _html(template: str, status: int = 200, **values: str) -> HTMLResponse:
    body = Template(_asset(template)).substitute({k: escape(v) for k, v in values.items()})
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _login_page(account: str, message: str = "", status: int = 200) -> HTMLResponse:
    return _html("login.html", status, account=account, message=message, login=LOGIN_PATH)


def _page_url(account: str) -> str:
    return UI_PATH + (f"?{urlencode({'account': account})}" if account else "")


def _admit(call: Call, token: str, account: str) -> Response:
    """The token given to the form or in the address: the cookie and a clean address, or the form again."""
    if not hmac.compare_digest(token.encode(), call.ctx.config.admin_token.encode()):
        return _login_page(account, "That is not this server's admin token.", 401)
    response = RedirectResponse(_page_url(account), status_code=303, headers=_HEADERS)
    response.set_cookie(SESSION_COOKIE, session_value(call.ctx.config.admin_token), path="/__admin", httponly=True,
                        samesite="strict", secure=call.request.url.scheme == "https")
    return response


def page(call: Call) -> Response:
    """The page for ``?account=`` (default: the default account); the login form until the token is given."""
    account = call.params.get("account", "")
    if "token" in call.params:
        return _admit(call, call.params["token"], account)
    if not admitted(call.request.scope, call.ctx.config.admin_token):
        return _login_page(account, status=401)
    shown = call.admin_account()
    default = call.ctx.store.account(None)
    return _html("ui.html", account=shown.subdomain, default_account=default.subdomain if default else "",
                 assets=ASSETS_PATH, logout=LOGOUT_PATH)


def login_form(call: Call) -> Response:
    return _login_page(call.params.get("account", ""))


def login(call: Call) -> Response:
    """The login form's ``token`` (and ``account``), URL-encoded."""
    form = parse_qs(call.body[:_MAX_FORM].decode("utf-8", "replace"))
    account = form.get("account", [""])[0]
    return _admit(call, form.get("token", [""])[0], account)


def logout(call: Call) -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers=_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/__admin", httponly=True, samesite="strict")
    return response


def asset(call: Call) -> Response:
    """The page's script and style sheet (no token: they hold no data)."""
    name = call.request.path_params["name"]
    if name not in _ASSET_TYPES:
        return Response(status_code=404, headers=_HEADERS)
    return Response(_asset(name), media_type=_ASSET_TYPES[name], headers=_HEADERS)


ROUTES = [
    Route(UI_PATH, endpoint(page), methods=["GET"]),
    Route(LOGIN_PATH, endpoint(login_form), methods=["GET"]),
    Route(LOGIN_PATH, endpoint(login), methods=["POST"]),
    Route(LOGOUT_PATH, endpoint(logout), methods=["POST"]),
    Route(ASSETS_PATH + "{name}", endpoint(asset), methods=["GET"]),
]
