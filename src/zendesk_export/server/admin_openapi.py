"""The admin API's public face: its OpenAPI 3 document, and the guard that keeps it closed.

``GET /__admin/openapi.json`` (no token: a client developer reads it before they have one) describes every
route of ``admin.ADMIN_ROUTES``; the document is built from that table, so a route cannot go missing, and each
route's request and response are described here (the tests insist that every route has an entry).

``AdminGuard`` refuses every other ``/__admin/`` request without ``Authorization: Bearer <admin token>`` with a
401 before routing: a route whose handler forgets to check, or a misspelt path, leaks nothing. The reverse
direction needs no code: ``/api/v2/`` authenticates against the store's users only, where the admin token is
not a credential.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from zendesk_export import __version__
from zendesk_export.server.app import Call, Context, error_response, json_response
from zendesk_export.server.errors import AdminUnauthorized

__all__ = ["OPENAPI_PATH", "OPERATIONS", "document", "AdminGuard", "install"]

OPENAPI_PATH = "/__admin/openapi.json"

_OBJECT: dict[str, Any] = {"type": "object"}
_INT = {"type": "integer", "minimum": 1}
_CLOCK = {"type": "object", "properties": {"now": {"type": "integer"}, "frozen": {"type": "boolean"}}}
_RULE = {
    "type": "object",
    "properties": {
        "match": {"type": "object", "properties": {"method": {"type": "string"}, "path": {"type": "string"},
                                                   "account": {"type": "string"}}},
        "action": {"type": "object", "properties": {
            "status": {"type": "integer"}, "headers": {"type": "object"}, "body": {},
            "latency_ms": {"oneOf": [{"type": "number"}, {"type": "object"}]},
            "drop": {"type": "string", "enum": ["before_body", "mid_body"]},
            "truncate": {"type": "boolean"}, "malformed": {"type": "boolean"}, "empty_page": {"type": "boolean"}}},
        "times": _INT, "every": _INT, "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    },
    "required": ["action"],
}
_RULES = {"type": "object", "properties": {"rules": {"type": "array", "items": _RULE}}}
_LIMITS = {"type": "object", "properties": {
    "enabled": {"type": "boolean"}, "high_volume": {"type": "boolean"}, "plan_limit": _INT, "incremental": _INT,
    "users_cursor": _INT, "sample": _INT}}
_REQUESTS = {"type": "object", "properties": {"requests": {"type": "array", "items": {
    "type": "object", "properties": {
        "id": {"type": "integer"}, "time": {"type": "number"}, "method": {"type": "string"},
        "path": {"type": "string"}, "query": {"type": "string"}, "host": {"type": "string", "nullable": True},
        "authorization": {"type": "string", "nullable": True}, "user_agent": {"type": "string", "nullable": True},
        "status": {"type": "integer", "nullable": True}, "duration_ms": {"type": "number"},
        "fault": {"type": "object", "nullable": True}}}}}}


def _op(summary: str, response: dict[str, Any], request: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "response": response}
    if request is not None:
        operation["request"] = request
    return operation


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/__admin/reset"): _op("Empty the account's data; keep its users and credentials.", _OBJECT),
    ("POST", "/__admin/seed"): _op(
        "Add realistic synthetic tickets, spread over time.", _OBJECT,
        {"type": "object", "properties": {"tickets": {"type": "integer"}, "random_seed": {"type": "integer"}},
         "required": ["tickets"]}),
    ("GET", "/__admin/clock"): _op("The server clock.", _CLOCK),
    ("POST", "/__admin/clock"): _op(
        "Freeze, advance, unfreeze or reset the server clock.", _CLOCK,
        {"type": "object", "properties": {"freeze_at": {"type": "number"}, "advance": {"type": "number"},
                                          "unfreeze": {"type": "boolean"}, "reset": {"type": "boolean"}}}),
    ("POST", "/__admin/scrub"): _op(
        "Scrub deleted tickets now (default: all), as Zendesk does 30 days after a soft delete.",
        {"type": "object", "properties": {"scrubbed": {"type": "array", "items": _INT}}},
        {"type": "object", "properties": {"ticket_ids": {"type": "array", "items": _INT}}}),
    ("GET", "/__admin/faults"): _op("The fault rules of this server process, with their counters.", _RULES),
    ("PUT", "/__admin/faults"): _op(
        "Replace the fault rules (a list, or {\"rules\": [...]}).", _RULES,
        {"oneOf": [{"type": "array", "items": _RULE}, _RULES]}),
    ("DELETE", "/__admin/faults"): _op("Remove every fault rule.", _RULES),
    ("GET", "/__admin/requests"): _op("The request journal of this server process, newest last.", _REQUESTS),
    ("DELETE", "/__admin/requests"): _op("Empty the request journal.", _REQUESTS),
    ("GET", "/__admin/rate_limits"): _op("The account's rate limits.", _OBJECT),
    ("PUT", "/__admin/rate_limits"): _op("Set the account's own rate limits; {} restores the server's.", _OBJECT,
                                         _LIMITS),
    ("DELETE", "/__admin/rate_limits"): _op("Restore the server's limits and empty the account's counters.",
                                            _OBJECT),
    ("GET", OPENAPI_PATH): _op("This document (no token needed).", _OBJECT),
}

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "description": {"type": "string"}}}


def _operation(method: str, path: str, handler: Callable[..., Any]) -> dict[str, Any]:
    known = OPERATIONS.get((method, path), {})
    doc = (handler.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{path.removeprefix('/__admin/').replace('/', '_').replace('.', '_')}",
        "summary": known.get("summary") or doc.split("\n")[0] or handler.__name__,
        "description": doc,
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": known.get("response", _OBJECT)}}}},
    }
    if path == OPENAPI_PATH:
        operation["security"] = []
        return operation
    operation["parameters"] = [{"name": "account", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "account subdomain (default: the default account)"}]
    operation["responses"]["400"] = _error("Invalid parameters or body")
    operation["responses"]["401"] = _error("Missing or wrong admin token")
    if "request" in known:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": known["request"]}}}
    return operation


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def document(routes: Sequence[tuple[str, str, Callable[..., Any]]]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the given admin routes."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, handler)
    return {
        "openapi": "3.0.3",
        "info": {"title": "zendesk-export admin API", "version": __version__,
                 "description": "Test controls of the local Zendesk server (see the README). Never under /api/v2/."},
        "components": {"securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
        "security": [{"adminToken": []}],
        "paths": paths,
    }


def openapi(call: Call) -> Response:
    """The OpenAPI 3 document of the admin API."""
    from zendesk_export.server.admin import ADMIN_ROUTES as routes

    return json_response(document(routes))


class AdminGuard:
    """Pure-ASGI middleware: ``/__admin/`` without the admin bearer token → 401, before any route runs."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.expected = f"Bearer {ctx.config.admin_token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/__admin") and path != OPENAPI_PATH:
            presented = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(presented, self.expected):
                await error_response(AdminUnauthorized())(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: Starlette, ctx: Context) -> None:
    app.add_middleware(AdminGuard, ctx=ctx)


